"""The app's front (twin.web.front): files gzip-encoded once, cached, and served unchanged."""

from __future__ import annotations

import gzip
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.testclient import TestClient
from test_app import _serve, browser, visit  # noqa: F401

from twin.web.front import MIN_BYTES, CompressingFront, GzipCache, accepts_gzip

BUNDLES = Path(streamlit.__file__).parent / "static"
SCRIPT = ("console.log('the twin');\n" * 400).encode()


def _headers(response: urllib.request.addinfourl) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


def _get(url: str, **headers: str) -> tuple[dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http on 127.0.0.1
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return _headers(response), response.read()


# --- the middleware in process ----------------------------------------------------------------


@pytest.fixture
def front(tmp_path: Path) -> tuple[TestClient, GzipCache]:
    (tmp_path / "app.js").write_bytes(SCRIPT)
    (tmp_path / "tiny.js").write_bytes(b"x = 1;\n")
    (tmp_path / "picture.png").write_bytes(bytes(range(256)) * 20)

    async def endpoint(_: Request) -> PlainTextResponse:
        return PlainTextResponse("live " * 400)

    cache = GzipCache()
    app = Starlette(
        routes=[Route("/_stcore/echo", endpoint), Mount("/", StaticFiles(directory=tmp_path))],
        middleware=[Middleware(CompressingFront, cache=cache)],
    )
    return TestClient(app), cache


def test_a_file_is_compressed_once_and_served_from_the_cache(front) -> None:
    client, cache = front
    for _ in range(3):
        response = client.get("/app.js", headers={"Accept-Encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["etag"].startswith('W/"')
        assert int(response.headers["content-length"]) < len(SCRIPT) / 10
        assert response.content == SCRIPT  # httpx decodes the gzip body
    assert cache.stats.compressed == 1
    assert cache.stats.hits == 2
    assert cache.stats.served_gzip == 3


def test_without_accept_encoding_the_file_comes_as_it_is(front) -> None:
    client, cache = front
    response = client.get("/app.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert int(response.headers["content-length"]) == len(SCRIPT)
    assert response.content == SCRIPT
    assert cache.stats.compressed == 0


def test_the_weak_etag_still_gets_a_304(front) -> None:
    client, _ = front
    etag = client.get("/app.js", headers={"Accept-Encoding": "gzip"}).headers["etag"]
    again = client.get("/app.js", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/tiny.js", {}),  # too small to gain
        ("/picture.png", {}),  # an image: not a compressible type
        ("/app.js", {"Range": "bytes=0-99"}),  # a range of the plain bytes
    ],
)
def test_what_does_not_gain_passes_through(front, path, headers) -> None:
    client, cache = front
    response = client.get(path, headers={"Accept-Encoding": "gzip", **headers})
    assert "content-encoding" not in response.headers
    assert cache.stats.compressed == 0


def test_head_and_endpoints_are_left_to_the_app(front) -> None:
    client, cache = front
    head = client.head("/app.js", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in head.headers
    assert int(head.headers["content-length"]) == len(SCRIPT)
    live = client.get("/_stcore/echo", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in live.headers  # no gzip in this app; the front stays out
    assert live.text == "live " * 400
    assert cache.stats.compressed == 0


def test_the_cache_keeps_at_most_its_bound() -> None:
    import asyncio

    cache = GzipCache(max_bytes=3000)
    bodies = [f"{i} ".encode() * 4000 for i in range(50)]

    async def fill() -> None:
        for body in bodies:
            assert gzip.decompress(await cache.get(body) or b"") == body

    asyncio.run(fill())
    assert 0 < cache.stats.cached_bytes <= 3000
    assert cache.stats.compressed == 50


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        ("gzip, deflate, br, zstd", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("", False),
        ("*", True),
        ("br, *;q=0", False),
    ],
)
def test_accept_encoding_is_read_with_its_qualities(header, gzip_ok) -> None:
    assert accepts_gzip(header) is gzip_ok


# --- the app as served: over HTTP and in chromium ----------------------------------------------


@pytest.fixture(scope="module")
def served(loaded: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _serve(loaded, tmp_path_factory.mktemp("front") / "streamlit.log") as app:
        yield app


def test_the_served_app_sends_its_bundles_gzip_encoded(served: str) -> None:
    _, index = _get(served, **{"Accept-Encoding": "gzip"})
    page = gzip.decompress(index).decode()
    bundle = re.search(r'src="\./(static/js/index\.[^"]+\.js)"', page)
    assert bundle is not None, page
    original = (BUNDLES / bundle.group(1)).read_bytes()
    headers, body = _get(served + bundle.group(1), **{"Accept-Encoding": "gzip, deflate"})
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["cache-control"] == "public, immutable, max-age=31536000"
    assert int(headers["content-length"]) == len(body) < len(original) / 2
    assert gzip.decompress(body) == original
    plain_headers, plain = _get(served + bundle.group(1))
    assert "content-encoding" not in plain_headers
    assert plain == original
    health_headers, health = _get(served + "_stcore/health", **{"Accept-Encoding": "gzip"})
    assert health == b"ok"
    assert "content-encoding" not in health_headers


@pytest.mark.browser
def test_pages_deep_links_and_the_websocket_work_behind_the_front(served: str, visit) -> None:  # noqa: F811
    page = visit.page
    encodings: dict[str, tuple[str, int]] = {}  # bundle: its encoding and bytes as sent

    def seen(response) -> None:
        if "/static/" in response.url and response.url.endswith((".js", ".css")):
            headers = response.headers
            sent = int(headers.get("content-length", 0))
            encodings[response.url] = (headers.get("content-encoding", ""), sent)

    page.on("response", seen)
    page.goto(served)
    page.locator("[data-testid='stDeckGlJsonChart'] canvas").first.wait_for(timeout=120_000)
    page.get_by_role("link", name="Data & sources").click()  # st.navigation, over the WebSocket
    page.locator("[data-testid='stTable']").wait_for(timeout=60_000)
    assert page.url.endswith("/sources")
    assert encodings, "no bundles seen"
    plain = {url: sent for url, (encoding, sent) in encodings.items() if encoding != "gzip"}
    assert all(sent < MIN_BYTES for sent in plain.values()), plain  # only the tiny ones
    assert len(plain) < len(encodings) / 2
    assert visit.outside == []
    assert visit.errors == []
    # a deep link opens its page too (Streamlit first probes /sources/_stcore/health, a 404
    # in the console that is its own, with or without the front: errors not checked here)
    page.goto(served + "sources")
    page.locator("[data-testid='stTable']").wait_for(timeout=60_000)
    assert page.get_by_text("Data & sources").count() > 0
    assert visit.outside == []
