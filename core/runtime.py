"""Opening core from settings: database (migrated), secret box, HTTP client, service.

Every entry point (the shell, the bots, the benchmark) goes through
:func:`open_core`, so start-up checks and clean shut-down are written once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from core.chevereto.client import CheveretoClient, RetryPolicy, make_http_client
from core.db.database import create_engine, upgrade
from core.db.repository import Repository, is_sealed
from core.errors import DatabaseUnavailable, SecretKeyError
from core.links import LINK_SCHEME, LinkFetcher
from core.reach import reach
from core.secrets import (
    SECRET_FILE_NAME,
    SecretBox,
    create_secret_file,
    parse_secret_key,
    read_secret_file,
)
from core.service.gallery import GalleryPasses
from core.service.keyring import KeyRing
from core.service.leases import Lease
from core.service.profiles import Profiles
from core.service.stats import Statistics
from core.service.uploads import ServiceLimits, UploadService
from core.settings import Settings
from core.shared_budget import SharedBudget
from core.sharex import ShareX


@dataclass(frozen=True, slots=True)
class Core:
    settings: Settings
    repo: Repository
    service: UploadService
    profiles: Profiles
    links: LinkFetcher
    http: httpx.AsyncClient
    shared_budget: SharedBudget | None
    """Rate limits spent by every instance together (PostgreSQL); None on SQLite."""
    statistics: Statistics
    sharex: ShareX
    gallery: GalleryPasses


@asynccontextmanager
async def open_core(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> AsyncIterator[Core]:
    engine = create_engine(settings.resolved_database_url)
    lease: Lease | None = None
    try:
        await _upgraded(engine, settings.database_wait_s)
        repo = Repository(engine, await load_secret_box(settings, engine))
        await repo.verify_secret_box()
        links = LinkFetcher(
            max_bytes=settings.max_upload_bytes, allow_private=settings.allow_private_urls
        )
        async with make_http_client(transport=transport) as http, links:
            retry = retry or RetryPolicy(deadline_s=settings.upload_deadline_s)
            client = CheveretoClient(http, settings.api_url, retry=retry)
            limits = ServiceLimits(
                max_upload_bytes=settings.max_upload_bytes,
                workers=settings.workers,
                workers_per_user=settings.workers_per_user,
            )
            keys = KeyRing(repo, settings.api_key)
            lease = Lease.start(settings.job_lease_s)
            async with UploadService(repo, client, keys, limits, lease=lease) as service:
                service.register_opener(LINK_SCHEME, links.reopen)
                yield Core(
                    settings=settings,
                    repo=repo,
                    service=service,
                    profiles=Profiles(repo),
                    links=links,
                    http=http,
                    shared_budget=None if _is_sqlite(engine) else SharedBudget(engine),
                    statistics=Statistics(repo, settings.admin_ids),
                    sharex=ShareX(keys, settings.api_url),
                    gallery=GalleryPasses(repo, settings.public_url),
                )
    finally:
        if lease is not None:
            lease.end()
        await engine.dispose()


async def _upgraded(engine: AsyncEngine, wait_s: float) -> None:
    """Migrations applied. A database server that does not answer yet (started with the
    bots, as in compose) is waited for up to ``wait_s``; a SQLite file that won't open
    is not (nothing will change by waiting)."""
    if _is_sqlite(engine) or wait_s <= 0:
        await upgrade(engine)
        return
    await reach("the database", lambda: upgrade(engine), (DatabaseUnavailable,), for_s=wait_s)


def _is_sqlite(engine: AsyncEngine) -> bool:
    return engine.url.get_backend_name() == "sqlite"


async def migrate(settings: Settings) -> None:
    """``picloud-bots db upgrade``: apply migrations and nothing else."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def load_secret_box(settings: Settings, engine: AsyncEngine) -> SecretBox:
    """The configured key, else the data dir's; a new one only for an empty database."""
    if settings.secret_key is not None:
        return SecretBox(
            parse_secret_key(settings.secret_key.get_secret_value(), "PICLOUD_SECRET_KEY")
        )
    key = read_secret_file(settings.data_dir)
    if key is None:
        if await is_sealed(engine):
            raise SecretKeyError(
                f"the database holds encrypted keys, but PICLOUD_SECRET_KEY is unset and "
                f"{settings.data_dir / SECRET_FILE_NAME} is missing: restore that file or set "
                "PICLOUD_SECRET_KEY to the key it held (a new key would lose every stored key)"
            )
        key = create_secret_file(settings.data_dir)
    return SecretBox(key)
