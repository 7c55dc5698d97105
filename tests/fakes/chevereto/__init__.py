"""An emulator of a Chevereto V4 site's upload API (API V1.1), for tests and benchmarks.

It answers as ``docs/upload-api.md`` says the real server does, errors and all, over
real HTTP on 127.0.0.1 (aiohttp). Nothing is fetched from the network and no file
is kept: an upload is hashed and sniffed on the fly, in chunks, and only its
metadata is stored, so eight concurrent 50 MB uploads cost a few MB.

Routes
    ``/api/1/upload``            any method; POST bodies are read (multipart or
                                 urlencoded), other methods carry no fields, as
                                 with PHP's ``$_POST``
    ``/api/1/upload/``, or any query string on the upload path
                                 301 to ``/api/1/upload``, nothing processed
    ``/{image|video}/{id}/delete/{secret}``
                                 any method deletes: 301 to ``{url_viewer}?deleted``,
                                 404 HTML when wrong or already deleted
    ``/{image|video}/{slug}.{id}`` viewer page (GET), 404 once deleted
    ``/images/YYYY/MM/DD/...``   direct, thumb, medium and frame files (GET): a tiny
                                 placeholder of the right type (a PNG of its own
                                 colours per file), 404 once deleted
    anything else                404 HTML page

The upload checks run in this order; the first failure is the answer:
    body over ``post_max_mb`` (PHP drops it: no fields, no file) -> key
    (``X-API-Key`` header, even empty, else the ``key`` field) -> source -> flood ->
    media sniffing -> size -> duplicate -> storage.

Knobs (constructor arguments, all plain attributes, settable between requests)
    user_keys, admin_keys, guest_key
        valid keys; admin keys may upload URL sources, the guest key gets
        ``guest_max_upload_mb`` instead of ``max_upload_mb``.
    denied_keys       answered ``Request denied`` (code 401), known or not.
    max_upload_mb, guest_max_upload_mb
        the site's limit, in Chevereto's decimal megabytes (10**6 bytes); the error
        reads ``File too big - max 50 MB`` (Chevereto's byte formatter, so a limit
        of 0.1 reads ``max 100 KB``).
    post_max_mb       PHP's ``post_max_size`` in PHP's binary megabytes (2**20);
                      ``None`` = no limit.
    flood_per_minute  uploads per client IP per rolling minute (code 130).
    url_uploads_admin_only
                      URL sources from non-admin keys get ``URL uploading is
                      disabled`` (code 403).
    storage_full      every upload gets ``No space left on storage`` (code 104).
    gzip              JSON answers are gzip-compressed when the client accepts it.
    moderation        uploads get ``is_approved: 0`` and their URL fields are removed
                      from the JSON answer (``delete_url`` stays).
    clock             ``time.time`` by default; tests move time for the 24 h
                      duplicate window, the flood minute and expiration dates.
    latency_s         every answer to an upload request that was read and processed
                      (success or API error) is sent this many seconds late, as over a
                      real network; 0 (the default) for none. Faults add to it.
    faults, delay_s   see :class:`Fault`; ``fail_next(fault, times)`` queues faults.
    hold_upload(stage) -> Hold
                      pauses the next upload request (to the upload path, past any
                      fault) that reaches ``stage``, an :class:`UploadStage`:
                      RECEIVING  the body is on its way: paused once the first chunk of
                                 the ``source`` file part was read (a body without a
                                 file part: once read), before any check. If its client
                                 is gone when it is released, the body never arrived
                                 whole, so it is dropped unprocessed: nothing stored,
                                 no answer.
                      STORED     the upload was accepted and stored (it is in
                                 ``uploads``, and counts as a duplicate for a retry) but
                                 its answer is not sent yet: "stored, answer unseen".
                                 Only a successful upload reaches it.
                      A Hold (tests/fakes/server.py): ``reached``, ``await
                      wait_reached(timeout=10) -> RecordedRequest`` (TimeoutError listing
                      the requests seen; at RECEIVING its form fields are not recorded
                      yet), ``release()``, ``release(proceed=False)`` (the request ends
                      there, its connection closed with no answer). Each hold stops one
                      request; holds still waiting at ``stop`` end as ``proceed=False``.

Inspection: ``requests`` (every request, any path, in arrival order), ``uploads``
(by ``id_encoded``, deleted ones included), ``fetched_urls``, ``delete_url(id)``.

Deliberate simplifications
    - Media type comes from magic numbers (jpeg png gif webp bmp avif; mp4/mov by
      the ``ftyp`` box, webm by the EBML header). As on the real server, only a
      ``video/*`` part Content-Type selects video handling: a video sent with any
      other type (or as base64) is refused like a non-image, 610, or 612 when the
      part claimed ``image/*``. A declared type whose bytes are not that kind of
      media is 612 ``Invalid mimetype``; undeclared garbage is 610.
    - Width and height are read from PNG, GIF, BMP and JPEG headers, otherwise 1x1
      (videos included). A video's duration comes from an MP4 ``mvhd`` box found in
      its first 64 KB, else 0. A GIF is animated when it has a NETSCAPE2.0 loop.
    - ``width`` resizes the reported size of still images only (not GIF
      animations, not videos). ``album_id`` and ``category_id`` are ignored
      (``category_id`` is answered null), as for a key whose user owns no album.
    - Tags: comma separated, trimmed; empty ones and ones over 32 characters are
      dropped, repeats removed. Answered as ``[{"name", "url"}]``.
    - ``expiration``: any valid ISO 8601 duration (the presets PT5M ... P1Y among
      them) counted with a month of 30 days and a year of 365, clamped to
      [5 minutes, 1 year]; an invalid one silently becomes 5 minutes. Nothing is
      ever removed on expiry (the real removal is a cron job).
    - Duplicates: same md5 from the same IP within 24 h among non-deleted uploads.
    - Flood: every upload that reaches the flood check counts, whatever its
      outcome; the refused ones do not. Only the per-minute limit is modelled.
    - URL sources (admin keys) are not fetched: the URL is recorded in
      ``fetched_urls`` and stands for a small PNG derived from the URL, so the same
      URL twice is a duplicate.
    - Video viewer and delete links use ``/video/`` (as upload-api.md says), not
      the seed's ``/clip/``. File names get ``.{id}`` appended on a clash.
    - ``format=txt`` and ``format=redirect`` ignore ``moderation``.
    - Faults apply to requests to the upload path (trailing slash and query forms
      included), before anything else. HTML_500, BAD_GATEWAY_502,
      MAINTENANCE_503, NOT_JSON and DROP read the body and process nothing.
      DELAY and TRUNCATED_JSON process the upload as usual (it is stored), then
      answer late or cut: a client that retries meets ``Duplicated upload``,
      exactly as with a real slow or broken server.

Run standalone (the benchmark does): ``python -m tests.fakes.chevereto --port 0
--key chv_... [--latency-ms 50]`` prints ``READY http://127.0.0.1:PORT`` once
listening and serves until SIGTERM or SIGINT.

Modules
    models      constants (USER_KEY, UPLOAD_PATH, MB, DAY...), Fault, UploadStage,
                RecordedRequest, StoredUpload, ApiError
    sniffing    MediaType, sniff, dimensions, mp4_duration, is_animated
    fields      expiration_seconds, parse_tags, slugify, title_from_filename,
                format_bytes, duration_time, gmt, encode_id
    forms       Source; reading the multipart or urlencoded body in chunks
    state       EmulatorState: the knobs and records the parts share
    checks      UploadChecks: key, source, flood, media type, size, duplicate
    images      ImageStore: storing an upload and building its ``image`` JSON
    answers     pages (404, faults), text, redirects, placeholder files; Answers: the
                JSON success and error answers
    emulator    CheveretoEmulator: the parts put together, routes and handlers
    standalone  serve and main, run by ``__main__``
"""

from tests.fakes.chevereto.answers import (
    FAULT_PAGES,
    NOT_FOUND_PAGE,
    html_response,
    redirect,
    text_response,
)
from tests.fakes.chevereto.emulator import CheveretoEmulator
from tests.fakes.chevereto.fields import (
    duration_time,
    encode_id,
    expiration_seconds,
    format_bytes,
    gmt,
    parse_tags,
    slugify,
    title_from_filename,
)
from tests.fakes.chevereto.forms import Source, read_file_part, read_form, record_form
from tests.fakes.chevereto.models import (
    DAY,
    FORMATS,
    MB,
    MEDIUM_WIDTH,
    MIB,
    MINUTE,
    READ_CHUNK,
    SHORTEST_EXPIRY,
    SNIFF_BYTES,
    TAG_LIMIT,
    TITLE_LIMIT,
    UPLOAD_PATH,
    USER_KEY,
    YEAR,
    ApiError,
    Fault,
    RecordedRequest,
    StoredUpload,
    UploadStage,
)
from tests.fakes.chevereto.sniffing import MediaType, dimensions, is_animated, mp4_duration, sniff
from tests.fakes.chevereto.standalone import main, serve

__all__ = [
    "DAY",
    "FAULT_PAGES",
    "FORMATS",
    "MB",
    "MEDIUM_WIDTH",
    "MIB",
    "MINUTE",
    "NOT_FOUND_PAGE",
    "READ_CHUNK",
    "SHORTEST_EXPIRY",
    "SNIFF_BYTES",
    "TAG_LIMIT",
    "TITLE_LIMIT",
    "UPLOAD_PATH",
    "USER_KEY",
    "YEAR",
    "ApiError",
    "CheveretoEmulator",
    "Fault",
    "MediaType",
    "RecordedRequest",
    "Source",
    "StoredUpload",
    "UploadStage",
    "dimensions",
    "duration_time",
    "encode_id",
    "expiration_seconds",
    "format_bytes",
    "gmt",
    "html_response",
    "is_animated",
    "main",
    "mp4_duration",
    "parse_tags",
    "read_file_part",
    "read_form",
    "record_form",
    "redirect",
    "serve",
    "slugify",
    "sniff",
    "text_response",
    "title_from_filename",
]
