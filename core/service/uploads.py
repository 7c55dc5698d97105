"""The upload service: the one door every front-end uses to upload and delete.

An upload goes: checks that need no network (size, key) → a repeat answered from
the records → the job recorded, leased to this instance → a place in the worker
pool → the host → the record finished → the answer delivered by the front-end,
which then reports it with :meth:`UploadService.answered`. A job stays leased until
it is answered; one whose lease ran out (its instance died, or its answer could not
be delivered) is claimed by any live instance that called :meth:`resume` for its
platform, run again if unfinished, and answered through that front-end's
``Deliver``. So every accepted upload gets its answer, and a late error never
overwrites a success.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import SecretStr

from core import metrics
from core.chevereto.client import CheveretoClient
from core.chevereto.models import (
    DelayCallback,
    DeleteOutcome,
    ProgressCallback,
    RemoteUrl,
    UploadOptions,
    UploadSource,
)
from core.db.repository import NewJob, Repository
from core.db.tables import UNFINISHED, JobStatus, Upload, UserPrefs, as_utc, utcnow
from core.errors import (
    DatabaseUnavailable,
    DuplicateUpload,
    EmptyFile,
    LostAnswer,
    NotFound,
    PermissionDenied,
    PicloudError,
    TooBig,
)
from core.expiry import parse_optional_expiry
from core.logging_setup import about
from core.refs import ChatRef, Platform, UploadId, UserRef
from core.service.inbox import Inbox, Replay
from core.service.keyring import KeyRing
from core.service.leases import Lease, is_gone
from core.service.pool import KeyedLock, WorkerPool
from core.service.records import (
    chat_of,
    options_from_dict,
    options_to_dict,
    owner_of,
    stored_error,
    view_of,
)
from core.service.types import (
    FILE_SCHEME,
    Deliver,
    JobOutcome,
    LostCopy,
    SourceOpener,
    UploadRequest,
    UploadView,
    open_file_ref,
)

log = logging.getLogger(__name__)

MAX_SEARCH_WORDS = 8
"""Words of a search that count: an inline query is at most 256 characters anyway."""
T = TypeVar("T")

INBOX_MEMORY = timedelta(days=1)
"""How long a handled inbox event is kept: a platform never sends one again so late."""

CANCELLED = "cancelled"
"""The kind recorded for an upload stopped by its own user (the shell's Ctrl-C)."""

DATABASE_PATIENCE_S = 120.0
"""How long an upload waits for a locked or unreachable database before it gives up."""

REPEAT_ELSEWHERE = (
    "the host already has this file from this bot in the last 24 hours, but not from "
    "your key (or it was deleted), so there is no link to give back"
)
REPEAT_OF_LOST_ANSWER = (
    "the host stored this file on an earlier try, but its answer never reached us, so "
    "there is no link or delete button for it here; it is among your images on the site"
)


class ShuttingDown(asyncio.CancelledError):
    """The service stopped taking new uploads: the work is left for the next start
    (an inbox event stays undone, so it is handled again then)."""


@dataclass(frozen=True, slots=True)
class ServiceLimits:
    max_upload_bytes: int
    workers: int
    workers_per_user: int


@dataclass(slots=True)
class _Job:
    upload_id: UploadId
    user: UserRef
    chat: str
    """Where it was asked for: the group's id, else the user's (a private chat)."""
    source: UploadSource | RemoteUrl
    key: SecretStr
    fingerprint: str
    options: UploadOptions
    content_md5: str | None = None
    progress: ProgressCallback | None = None
    on_delay: DelayCallback | None = None


class UploadService:
    def __init__(
        self,
        repo: Repository,
        client: CheveretoClient,
        keys: KeyRing,
        limits: ServiceLimits,
        *,
        lease: Lease,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repo = repo
        self._client = client
        self.keys = keys
        self._limits = limits
        self._clock = clock
        self._pool = WorkerPool(limits.workers, limits.workers_per_user)
        metrics.JOBS_WAITING.set_function(lambda: self._pool.waiting)
        metrics.JOBS_RUNNING.set_function(lambda: self._pool.running)
        self._openers: dict[str, SourceOpener] = {FILE_SCHEME: open_file_ref}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._deleting = KeyedLock()
        self._lease = lease
        self.inbox = Inbox(repo, lease)
        self._in_hand: set[UploadId] = set()
        self._deliverers: dict[Platform, Deliver] = {}
        self._replayers: dict[Platform, Replay] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._accepting = True
        self._closed = False

    def register_opener(self, scheme: str, opener: SourceOpener) -> None:
        """Teach the service to reopen a front-end's media after a restart."""
        self._openers[scheme] = opener

    # -- uploading --------------------------------------------------------------

    async def upload(self, request: UploadRequest) -> UploadView:
        """Upload and wait for the result; raise a :class:`PicloudError` on failure
        (:class:`ShuttingDown` once :meth:`drain` began)."""
        if not self._accepting:
            raise ShuttingDown("stopping: this upload is left for the next start")
        self.check_size(_size_of(request.media.source))
        stored = await self._patiently(
            lambda: self._repo.upload_context(request.user, request.chat), request.on_delay
        )
        resolved = self.keys.choose(stored, given=request.api_key)
        fingerprint = self.keys.fingerprint(resolved.key)
        if request.media.content_md5 and (
            earlier := await self._repo.find_repeat(
                request.media.content_md5, fingerprint, self._clock()
            )
        ):
            return view_of(earlier, repeated=True)
        options = _with_preferences(request.options, stored.prefs)
        new_job = _new_job(request, options, fingerprint)
        if self._pool.has_room(request.user):
            # A free place now: record the job already running, one write instead of two.
            async with self._pool.slot(request.user):
                row, created = await self._patiently(
                    lambda: self._repo.create_job(new_job, self._lease, running=True),
                    request.on_delay,
                )
                if not created:
                    return self._accepted_before(row)
                job = _job_for(row, request, resolved.key, fingerprint, options)
                return await self._track(self._attempt(job, attempt=1))
        row, created = await self._patiently(
            lambda: self._repo.create_job(new_job, self._lease), request.on_delay
        )
        if not created:
            return self._accepted_before(row)
        job = _job_for(row, request, resolved.key, fingerprint, options)
        return await self._track(self._run(job))

    async def accepted(self, platform: Platform, origins: Sequence[str]) -> set[str]:
        """Which of these origins were recorded as jobs (their event was handled before)."""
        return await self._repo.accepted_origins(platform, origins)

    @staticmethod
    def _accepted_before(row: Upload) -> UploadView:
        # Handled before a restart: its own lease holder answers it, not this caller.
        if row.status == JobStatus.DONE:
            return view_of(row)
        raise NotFound("this upload was accepted before and is answered on its own")

    async def answered(self, job_ids: Sequence[UploadId]) -> None:
        """The platform accepted the answer of these jobs: they are closed for good.
        Until this is said, a job's answer is due, and is delivered again by whichever
        instance claims it once its lease runs out."""
        await self._repo.mark_answered(job_ids)

    def check_size(self, size: int | None) -> None:
        """Refuse what the host would refuse anyway, before anything is downloaded."""
        if size == 0:
            raise EmptyFile("the file is empty")
        if size is not None and size > self._limits.max_upload_bytes:
            max_mb = self._limits.max_upload_bytes // (1024 * 1024)
            raise TooBig(f"the file is larger than {max_mb} MB", max_mb=max_mb)

    def _track(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        # Tracked so that aclose() can stop work in flight (it is resumed at next start).
        if self._closed:
            # An upload still recording its job as the service closed: its work would
            # start on closed connections. The job is recorded; the next start does it.
            work.close()
            raise ShuttingDown("stopped: this upload is left for the next start")
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, job: _Job) -> UploadView:
        async with self._pool.slot(job.user):
            attempt = await self._repo.start_attempt(job.upload_id)
            return await self._attempt(job, attempt)

    async def _attempt(self, job: _Job, attempt: int) -> UploadView:
        """One try at the host, with a place in the pool held; the outcome recorded."""
        platform = job.user.platform
        about(platform=platform, chat=job.chat, job=job.upload_id)
        self._in_hand.add(job.upload_id)
        started = time.monotonic()
        try:
            try:
                media = await self._client.upload(
                    job.source,
                    key=job.key,
                    options=job.options,
                    progress=job.progress,
                    on_delay=job.on_delay,
                )
            except DuplicateUpload as refusal:
                metrics.UPLOADS.labels(platform, refusal.kind).inc()
                lost_answer = attempt > 1 or refusal.after_lost_answer
                return await self._answer_duplicate(job, lost_answer=lost_answer)
            except PicloudError as error:
                metrics.UPLOADS.labels(platform, error.kind).inc()
                metrics.HOST_ERRORS.labels(error.kind).inc()
                return await self._fail(job, error)
            except Exception as error:
                await self._repo.fail_job(job.upload_id, "error", self._lease)
                error.add_note(f"upload job {job.upload_id}")
                raise
        finally:
            self._in_hand.discard(job.upload_id)
        seconds = time.monotonic() - started
        log.info("uploaded %d bytes in %.1f s", media.size, seconds)
        metrics.UPLOADS.labels(platform, "done").inc()
        metrics.UPLOAD_SECONDS.labels(platform).observe(seconds)
        metrics.UPLOAD_BYTES.labels(platform).observe(media.size)
        # The host's checksum is the md5 of what it stored: the sent bytes, unless it
        # resized them, and then a known md5 of the original is the better record.
        md5 = job.content_md5 or media.checksum
        row = await self._patiently(
            lambda: self._repo.complete_job(job.upload_id, media, md5, self._lease), job.on_delay
        )
        return view_of(row)

    async def _patiently(
        self, step: Callable[[], Awaitable[T]], on_delay: DelayCallback | None
    ) -> T:
        """A database step that waits out a locked or briefly unreachable database (the
        host may already hold the file: its record must not be lost to a busy moment)."""
        deadline = time.monotonic() + DATABASE_PATIENCE_S
        wait = 0.2
        while True:
            try:
                return await step()
            except DatabaseUnavailable as error:
                if time.monotonic() + wait > deadline:
                    raise
                log.warning("an upload waits for the database: %s", error.message)
                if on_delay is not None:
                    on_delay(error)
                await asyncio.sleep(wait)
                wait = min(wait * 2, 5.0)

    async def _fail(self, job: _Job, error: PicloudError) -> UploadView:
        """Record the failure and raise it, unless the job succeeded meanwhile."""
        row = await self._patiently(
            lambda: self._repo.fail_job(job.upload_id, error.kind, self._lease), job.on_delay
        )
        if row.status == JobStatus.DONE:
            return view_of(row)  # another instance finished it: its success stands
        error.job_id = job.upload_id
        raise error

    async def _answer_duplicate(self, job: _Job, *, lost_answer: bool) -> UploadView:
        """The host refused a repeat: answer from our records, or say plainly why not.

        The host's check is by md5 and it never says where the first copy is.
        Hashing every upload on the way out would cost each one CPU time for the rare
        repeat, so an unknown md5 is computed here, by reading the source once more.
        A copy from an earlier try of this very job is recorded as such (with its
        md5), so the user's history can say what became of it.
        """
        md5 = job.content_md5 or await md5_of(job.source)
        earlier = md5 and await self._repo.find_repeat(md5, job.fingerprint, self._clock())
        if earlier:
            await self._repo.fail_job(job.upload_id, DuplicateUpload.kind, self._lease)
            return view_of(earlier, repeated=True, job_id=job.upload_id)
        if md5 and not job.content_md5:
            await self._repo.record_md5(job.upload_id, md5)
        if lost_answer:
            return await self._fail(job, LostAnswer(REPEAT_OF_LOST_ANSWER))
        return await self._fail(job, DuplicateUpload(REPEAT_ELSEWHERE))

    # -- after a restart ---------------------------------------------------------

    async def resume(
        self, platform: Platform, deliver: Deliver, replay: Replay | None = None
    ) -> int:
        """Answer ``platform``'s jobs through ``deliver`` from now on: those that were
        finished but never answered, and those cut off, which are run again; then,
        every third of a lease, any whose lease runs out. With ``replay``, the inbox
        events of ``platform`` never handled are handed to it the same way.

        Returns how many jobs and events were picked up now; their work goes on in
        the background.
        """
        self._deliverers[platform] = deliver
        if replay is not None:
            self._replayers[platform] = replay
        claimed = await self._take_over(platform)
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep_leases())
        return claimed

    async def _take_over(self, platform: Platform) -> int:
        claimed = await self._take_over_jobs(platform, self._deliverers[platform])
        if replay := self._replayers.get(platform):
            events = await self.inbox.take_over(platform)
            for key, payload in events:
                await replay(key, payload)
            claimed += len(events)
        return claimed

    async def _take_over_jobs(self, platform: Platform, deliver: Deliver) -> int:
        gone = [owner for owner in await self._repo.lease_owners(platform) if is_gone(owner)]
        rows = await self._repo.claim_jobs(platform, self._lease, gone)
        for row in rows:
            if row.status in UNFINISHED:
                self._track(self._rerun(row, deliver))
            else:
                self._track(self._deliver(row, deliver, view=None))
        if rows:
            log.info("took over %d unanswered uploads", len(rows))
            metrics.LEASES_TAKEN_OVER.labels(platform).inc(len(rows))
        return len(rows)

    async def _keep_leases(self) -> None:
        """Renew what this instance works on; take over what others left."""
        while True:
            await asyncio.sleep(self._lease.seconds / 3)
            try:
                await self._repo.renew_jobs(list(self._in_hand), self._lease)
                for platform in list(self._deliverers):
                    await self._take_over(platform)
                await self._repo.forget_events(utcnow() - INBOX_MEMORY)
            except DatabaseUnavailable as error:
                log.warning("leases not renewed, the database is unavailable: %s", error.message)
            except Exception:
                # The keeper must outlive any one failure: it is what takes over jobs.
                log.exception("keeping the leases failed; trying again shortly")

    async def _rerun(self, row: Upload, deliver: Deliver) -> None:
        upload_id = UploadId(row.public_id)
        try:
            job = await self._job_from_record(row)
        except PicloudError as error:
            await self._repo.fail_job(upload_id, error.kind, self._lease)
            await self._deliver(row, deliver, view=None, error=error)
            return
        try:
            view = await self._run(job)
        except PicloudError as error:
            await self._deliver(row, deliver, view=None, error=error)
            return
        await self._deliver(row, deliver, view=view)

    async def _job_from_record(self, row: Upload) -> _Job:
        owner = owner_of(row)
        resolved = await self.keys.resolve(owner, chat_of(row))
        return _Job(
            upload_id=UploadId(row.public_id),
            user=owner,
            chat=row.chat_id or row.user_id,
            source=await self._reopen(self._repo.source_of(row)),
            key=resolved.key,
            fingerprint=self.keys.fingerprint(resolved.key),
            options=options_from_dict(json.loads(row.options_json)),
            content_md5=row.content_md5,
        )

    async def _reopen(self, source_ref: str) -> UploadSource | RemoteUrl:
        scheme, _, rest = source_ref.partition(":")
        opener = self._openers.get(scheme)
        if opener is None:
            raise NotFound(f"cannot reopen media of kind {scheme!r} after a restart")
        try:
            return await opener(rest)
        except PicloudError:
            raise
        except OSError:
            raise NotFound("the media is no longer available") from None

    async def _deliver(
        self,
        row: Upload,
        deliver: Deliver,
        *,
        view: UploadView | None,
        error: PicloudError | None = None,
    ) -> None:
        upload_id = UploadId(row.public_id)
        about(platform=row.platform, chat=row.chat_id or "-", job=upload_id)
        if view is None and error is None:
            fresh = await self._repo.find_upload(upload_id)
            if fresh is not None and fresh.status == JobStatus.DONE:
                view = view_of(fresh)
            else:
                error = stored_error(fresh or row)
        secret = row.reply_secret_ciphertext
        outcome = JobOutcome(
            upload_id=upload_id,
            user=owner_of(row),
            chat=chat_of(row),
            reply_target=row.reply_target,
            result=view,
            error=error,
            reply_secret=self._repo.box.decrypt(secret) if secret else None,
        )
        try:
            await deliver(outcome)
        except Exception as failure:  # whatever failed, the answer is tried again later
            log.warning(
                "upload %s: its answer was not delivered (%s); it is tried again when its "
                "lease runs out",
                upload_id,
                type(failure).__name__,
            )
            return
        await self._repo.mark_answered([upload_id])

    # -- deleting and listing -----------------------------------------------------

    async def check_delete(
        self, upload_id: UploadId, requester: UserRef, *, admin_of: ChatRef | None = None
    ) -> UploadView:
        """The upload, if ``requester`` may delete it; else NotFound or PermissionDenied.

        The uploader may; so may an admin of the chat it was made in: ``admin_of`` is
        the chat the front-end has checked the requester administers.
        """
        row = await self._authorized_row(upload_id, requester, admin_of)
        if row.status != JobStatus.DONE:
            raise NotFound("this upload is already deleted")
        return view_of(row)

    async def delete(
        self, upload_id: UploadId, requester: UserRef, *, admin_of: ChatRef | None = None
    ) -> DeleteOutcome:
        """Delete for someone :meth:`check_delete` lets; a repeat is ALREADY_GONE."""
        # Two presses at once: the second waits, then finds the upload deleted.
        async with self._deleting.hold(upload_id):
            return await self._delete(upload_id, requester, admin_of)

    async def _delete(
        self, upload_id: UploadId, requester: UserRef, admin_of: ChatRef | None
    ) -> DeleteOutcome:
        row = await self._authorized_row(upload_id, requester, admin_of)
        if row.status == JobStatus.DELETED:
            return DeleteOutcome.ALREADY_GONE
        delete_url = await self._repo.get_delete_url(upload_id)
        if row.status != JobStatus.DONE or delete_url is None:
            raise NotFound("this upload has nothing to delete")
        outcome = await self._client.delete(delete_url)
        if outcome is not DeleteOutcome.FAILED:
            await self._repo.mark_deleted(upload_id)
        return outcome

    async def _authorized_row(
        self, upload_id: UploadId, requester: UserRef, admin_of: ChatRef | None
    ) -> Upload:
        row = await self._repo.find_upload(upload_id)
        if row is None or row.platform != requester.platform:
            raise NotFound("this upload is unknown (the button may be too old)")
        if not _may_delete(row, requester, admin_of):
            raise PermissionDenied("only the uploader or a chat admin can delete this")
        return row

    async def history(self, user: UserRef, limit: int = 10) -> list[UploadView]:
        return [view_of(row) for row in await self._repo.recent_uploads(user, limit)]

    async def search(
        self, user: UserRef, text: str, *, offset: int = 0, limit: int = 20
    ) -> list[UploadView]:
        """The user's uploads that can be shown (a public link, not expired) whose title,
        description, tags or file name hold every word of ``text``; newest first."""
        words = text.split()[:MAX_SEARCH_WORDS]
        rows = await self._repo.search_uploads(user, words, offset=offset, limit=limit)
        return [view_of(row) for row in rows]

    async def lost_copies(self, user: UserRef, limit: int = 10) -> list[LostCopy]:
        """Copies at the host without a link: the user's history names them."""
        return [
            LostCopy(
                job_id=UploadId(row.public_id),
                name=row.source_name,
                sent_at=as_utc(row.created_at),
                content_md5=row.content_md5,
            )
            for row in await self._repo.lost_answers(user, limit)
        ]

    async def upload_count(self, user: UserRef) -> int:
        return await self._repo.count_uploads(user)

    async def find(self, upload_id: UploadId) -> UploadView | None:
        row = await self._repo.find_upload(upload_id)
        return view_of(row) if row and row.status == JobStatus.DONE else None

    # -- lifetime -------------------------------------------------------------------

    async def drain(self, grace_s: float) -> int:
        """Stop taking uploads; let those in flight finish for up to ``grace_s``, then
        cut the rest off (they stay recorded and are finished at the next start).
        Returns how many were cut off."""
        self._accepting = False
        if self._keeper is not None:
            self._keeper.cancel()
        pending: set[asyncio.Task[Any]] = set(self._tasks)
        if pending:
            _done, pending = await asyncio.wait(pending, timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return len(pending)

    async def aclose(self) -> None:
        """Stop work in flight; those jobs stay recorded, their leases are given up, and
        the next instance to start (or one running) takes them over at once."""
        self._closed = True
        if self._keeper is not None:
            self._keeper.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            # A shell upload cut off (Ctrl-C) has nobody to finish or answer it later.
            await self._repo.fail_unfinished(self._lease, Platform.CLI, CANCELLED)
            await self._repo.release_jobs(self._lease)
        except DatabaseUnavailable as error:
            log.warning("leases not given up (they run out by themselves): %s", error.message)

    async def __aenter__(self) -> UploadService:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


def _with_preferences(options: UploadOptions, prefs: UserPrefs) -> UploadOptions:
    return replace(
        options,
        expiration=options.expiration or parse_optional_expiry(prefs.default_expiry),
        nsfw=options.nsfw or prefs.nsfw,
        album_id=options.album_id or prefs.album_id,
    )


def _may_delete(row: Upload, requester: UserRef, admin_of: ChatRef | None) -> bool:
    if row.user_id == requester.user_id:
        return True
    return admin_of is not None and row.chat_id is not None and row.chat_id == admin_of.chat_id


def _size_of(source: UploadSource | RemoteUrl) -> int | None:
    return source.size if isinstance(source, UploadSource) else None


def _job_for(
    row: Upload,
    request: UploadRequest,
    key: SecretStr,
    fingerprint: str,
    options: UploadOptions,
) -> _Job:
    return _Job(
        upload_id=UploadId(row.public_id),
        user=request.user,
        chat=row.chat_id or row.user_id,
        source=request.media.source,
        key=key,
        fingerprint=fingerprint,
        options=options,
        content_md5=request.media.content_md5,
        progress=request.progress,
        on_delay=request.on_delay,
    )


def _without_query(url: str) -> str:
    return urlsplit(url)._replace(query="", fragment="").geturl()


def _new_job(request: UploadRequest, options: UploadOptions, fingerprint: str) -> NewJob:
    source = request.media.source
    if isinstance(source, UploadSource):
        name, size, content_type = source.filename, source.size, source.content_type
    else:  # what the user sent, without a query string that may hold a signature
        name, size, content_type = _without_query(source.url), None, None
    return NewJob(
        user=request.user,
        chat=request.chat,
        source_ref=request.media.ref,
        source_name=name,
        source_size=size,
        content_type=content_type,
        options=options_to_dict(options),
        reply_target=request.reply_target,
        key_fingerprint=fingerprint,
        content_md5=request.media.content_md5,
        origin=request.origin,
        reply_secret=request.reply_secret.get_secret_value() if request.reply_secret else None,
    )


async def md5_of(source: UploadSource | RemoteUrl) -> str | None:
    """The md5 of a source's bytes (None for a URL the host fetches itself)."""
    if not isinstance(source, UploadSource):
        return None
    digest = hashlib.md5(usedforsecurity=False)
    async for chunk in source.open():
        digest.update(chunk)
    return digest.hexdigest()
