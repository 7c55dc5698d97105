"""The client over a mock transport: what the emulator cannot show.

The request as it leaves (exact length, no chunking, headers), exceptions cut loose
from httpx's, retry decisions, and the delete outcomes for odd answers. Behaviour
against a host that answers like Chevereto is in tests/contract/.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from pydantic import SecretStr

from core.chevereto.client import USER_AGENT, CheveretoClient, RetryPolicy, make_http_client
from core.chevereto.models import DeleteOutcome, UploadOptions, UploadSource
from core.errors import (
    ConfigurationError,
    FloodLimited,
    HostUnavailable,
    InputError,
    NotMedia,
)

API_URL = "https://pic.test/api/1/upload"
KEY = SecretStr("chv_1_mockkeymockkeymockkey")
DELETE_URL = SecretStr("https://pic.test/image/AbC/delete/" + "d" * 48)
FAST = RetryPolicy(
    attempts=3, deadline_s=5.0, wait_initial_s=0.0, wait_max_s=0.0, wait_jitter_s=0.0
)

Handler = Callable[[httpx.Request], httpx.Response]


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "status_code": 200,
            "image": {
                "id_encoded": "AbC",
                "type": "image",
                "mime": "image/png",
                "size": 3,
                "is_approved": 1,
                "url_viewer": "https://pic.test/image/AbC",
                "url": "https://pic.test/images/a.png",
                "delete_url": DELETE_URL.get_secret_value(),
            },
        },
    )


def replay(answer: httpx.Response) -> Handler:
    return lambda request: answer


class Recorder:
    """A mock transport that keeps every request with its body, as the host got it."""

    def __init__(self, *handlers: Handler) -> None:
        self.handlers = list(handlers)
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(await request.aread())
        self.requests.append(request)
        handler = self.handlers.pop(0) if len(self.handlers) > 1 else self.handlers[0]
        return handler(request)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder(ok)


@pytest.fixture
async def http(recorder: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client(transport=httpx.MockTransport(recorder)) as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient) -> CheveretoClient:
    return CheveretoClient(http, API_URL, retry=FAST)


def png(data: bytes = b"\x89PNG") -> UploadSource:
    return UploadSource.from_bytes(data, "a.png", "image/png")


async def test_the_request_has_an_exact_length_and_no_chunking(
    client: CheveretoClient, recorder: Recorder
) -> None:
    await client.upload(png(), key=KEY, options=UploadOptions(title="t"))

    (request,) = recorder.requests
    assert request.method == "POST"
    assert request.url == httpx.URL(API_URL)
    assert request.headers["Content-Length"] == str(len(recorder.bodies[0]))
    assert "Transfer-Encoding" not in request.headers
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert request.headers["X-API-Key"] == KEY.get_secret_value()
    assert request.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("picloud-bots/")


async def test_httpx_errors_leave_no_trace_of_the_original(recorder: Recorder) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url} with {request.headers}")

    recorder.handlers = [refuse]
    async with make_http_client(transport=httpx.MockTransport(recorder)) as http:
        client = CheveretoClient(http, API_URL, retry=FAST)
        with pytest.raises(HostUnavailable) as raised:
            await client.upload(png(), key=KEY)

    error = raised.value
    assert error.__cause__ is None
    assert error.__suppress_context__
    assert "ConnectError" in error.message
    text = "".join(traceback.format_exception(error))
    assert KEY.get_secret_value() not in text
    assert "pic.test" not in text
    assert len(recorder.requests) == FAST.attempts


async def test_a_source_that_lies_about_its_size_is_not_retried(
    client: CheveretoClient, recorder: Recorder
) -> None:
    async def short() -> AsyncIterator[bytes]:
        yield b"abc"

    source = UploadSource.from_stream(short, size=10, filename="a.png", content_type="image/png")

    with pytest.raises(InputError, match="fewer bytes"):
        await client.upload(source, key=KEY)
    assert len(recorder.bodies) <= 1


async def test_a_flood_wait_past_the_deadline_gives_up_at_once(recorder: Recorder) -> None:
    def flood(request: httpx.Request) -> httpx.Response:
        error = {"code": 130, "message": "Flooding detected. You can only upload 1 image(s)"}
        return httpx.Response(400, json={"status_code": 400, "error": error})

    recorder.handlers = [flood]
    policy = RetryPolicy(attempts=5, deadline_s=1.0, flood_wait_s=60.0, wait_jitter_s=0.0)
    async with make_http_client(transport=httpx.MockTransport(recorder)) as http:
        client = CheveretoClient(http, API_URL, retry=policy)
        with pytest.raises(FloodLimited):
            await client.upload(png(), key=KEY)

    assert len(recorder.requests) == 1


async def test_rejections_are_not_retried(client: CheveretoClient, recorder: Recorder) -> None:
    def invalid(request: httpx.Request) -> httpx.Response:
        error = {"code": 612, "message": "Invalid mimetype"}
        return httpx.Response(400, content=json.dumps({"status_code": 400, "error": error}))

    recorder.handlers = [invalid]

    with pytest.raises(NotMedia):
        await client.upload(png(), key=KEY)
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://pic.test/api/1/upload?x=1",
        "ftp://pic.test/api/1/upload",
        "pic.test/api/1/upload",
        "https://pic.test/api/1/upload#top",
    ],
)
async def test_an_api_url_that_cannot_work_is_refused_up_front(
    http: httpx.AsyncClient, url: str
) -> None:
    with pytest.raises(ConfigurationError, match="PICLOUD_API_URL"):
        CheveretoClient(http, url)


@pytest.mark.parametrize(
    ("answers", "outcome", "tries"),
    [
        ([httpx.Response(301, headers={"Location": "/image/AbC?deleted"})], "deleted", 1),
        ([httpx.Response(302, headers={"Location": "https://pic.test/"})], "deleted", 1),
        ([httpx.Response(404, text="<html>404</html>")], "already_gone", 1),
        ([httpx.Response(503), httpx.Response(301)], "deleted", 2),
        ([httpx.Response(500)], "failed", FAST.attempts),
        ([httpx.Response(200, text="<html>Are you sure?</html>")], "failed", 1),
        ([httpx.Response(403)], "failed", 1),
    ],
)
async def test_delete_outcomes(
    recorder: Recorder, answers: list[httpx.Response], outcome: str, tries: int
) -> None:
    recorder.handlers = [replay(answer) for answer in answers]
    async with make_http_client(transport=httpx.MockTransport(recorder)) as http:
        client = CheveretoClient(http, API_URL, retry=FAST)
        assert await client.delete(DELETE_URL) == DeleteOutcome(outcome)

    assert len(recorder.requests) == tries
    assert {request.method for request in recorder.requests} == {"GET"}


@pytest.mark.parametrize(
    ("old", "new"), [("https://", "https://www."), ("https://pic.test", "http://pic.test:8080")]
)
async def test_a_delete_link_redirecting_to_itself_deleted_nothing(
    client: CheveretoClient, recorder: Recorder, old: str, new: str
) -> None:
    # The site moved (another host, scheme or port): the link itself was never visited.
    moved = DELETE_URL.get_secret_value().replace(old, new)
    recorder.handlers = [lambda request: httpx.Response(301, headers={"Location": moved})]

    assert await client.delete(DELETE_URL) is DeleteOutcome.FAILED


@pytest.mark.parametrize("link", ["", "javascript:alert(1)", "/image/AbC/delete/x", " https://a/"])
async def test_a_malformed_delete_link_fails_without_a_request(
    client: CheveretoClient, recorder: Recorder, link: str
) -> None:
    assert await client.delete(SecretStr(link)) is DeleteOutcome.FAILED
    assert recorder.requests == []
