"""A compressing, caching front for the app's files: gzip once, serve the cached bytes.

Streamlit 1.67 sends its frontend (the page document and the content-hashed bundles under
``/static/``: ~8 MB of JavaScript for a page with a map) uncompressed on purpose: its gzip
middleware would compress every response anew, so it leaves that to "a reverse proxy / CDN
that compresses and caches". The twin runs on 127.0.0.1 without one, so this ASGI middleware is
that front: it sits before Streamlit's own middleware (``st.App(..., middleware=...)``, see
``serve.py``) and, for a ``GET`` of a file (the page document, ``/static/…``, the scene's layer
files and tiles under ``/app/static/…``) whose type compresses (JavaScript, CSS, JSON, HTML,
SVG, …), answers a client that accepts gzip with the gzip-encoded bytes. Each distinct content
is compressed once, in a worker thread, and kept in a bounded in-memory cache keyed by a hash
of the content (so a changed file can never be answered with stale bytes, and the page
document served under every page's URL is one entry). The response keeps the original headers
(``Cache-Control``, ``Last-Modified``, …) with ``Content-Encoding: gzip``, the compressed
``Content-Length``, ``Vary: Accept-Encoding`` and the ``ETag`` made weak (the gzip bytes are
another representation; Starlette's static files still answer ``If-None-Match`` with a 304).
Clients that do not accept gzip, ``HEAD`` and range requests, and Streamlit's own endpoints
(``/_stcore/…``: the WebSocket, health, uploads; ``/media/…``; ``/component/…``) pass through
unchanged.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

import anyio.to_thread
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Path prefixes of Streamlit's endpoints, never files: passed through untouched.
RESERVED = ("/_stcore/", "/media/", "/component/")
#: Media types worth compressing (by prefix); fonts in WOFF2, images and archives already are.
COMPRESSIBLE = (
    "text/",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "application/xml",
    "application/wasm",
    "image/svg+xml",
    "font/ttf",
    "font/otf",
)
#: Smaller bodies go as they are (gzip's header and the round trip cost more than they save).
MIN_BYTES = 1024
#: Larger bodies stream through uncompressed rather than being held in memory.
MAX_BYTES = 64 * 2**20
#: The cache's bound on compressed bytes kept (least recently used entries leave first).
CACHE_BYTES = 256 * 2**20
LEVEL = 9


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` header accepts gzip (``gzip`` or ``*`` with q > 0).

    Parameters
    ----------
    header
        The header's value ("" when absent).

    Returns
    -------
    bool
        True when the client takes a gzip-encoded body.
    """
    for item in header.split(","):
        token, _, params = item.strip().partition(";")
        if token.strip().lower() not in {"gzip", "x-gzip", "*"}:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _compressible(content_type: str | None) -> bool:
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind.startswith(COMPRESSIBLE)


def _vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Add ``Accept-Encoding`` to the ``Vary`` of ``headers``."""
    vary = _header(headers, b"vary")
    if vary is None:
        return [*headers, (b"vary", b"Accept-Encoding")]
    if "accept-encoding" in vary.lower() or vary.strip() == "*":
        return headers
    rest = [(k, v) for k, v in headers if k.lower() != b"vary"]
    return [*rest, (b"vary", f"{vary}, Accept-Encoding".encode("latin-1"))]


@dataclass
class Stats:
    """What the front did since it started (for tests and curiosity)."""

    compressed: int = 0  # bodies compressed (each distinct content once while cached)
    hits: int = 0  # responses served from the cache
    served_gzip: int = 0  # responses sent gzip-encoded
    cached_bytes: int = 0  # compressed bytes held now


class GzipCache:
    """Gzip-compressed bodies by content hash, each compressed once, bounded in bytes.

    Parameters
    ----------
    max_bytes
        Compressed bytes kept at most; the least recently used entries are dropped first.
    level
        The gzip compression level.
    """

    def __init__(self, max_bytes: int = CACHE_BYTES, level: int = LEVEL) -> None:
        self.max_bytes = max_bytes
        self.level = level
        self.stats = Stats()
        self._entries: OrderedDict[bytes, bytes | None] = OrderedDict()
        self._pending: dict[bytes, asyncio.Future[bytes | None]] = {}

    def _compress(self, body: bytes) -> bytes | None:
        packed = gzip.compress(body, compresslevel=self.level, mtime=0)
        return packed if len(packed) < len(body) else None

    async def get(self, body: bytes) -> bytes | None:
        """Return the gzip encoding of ``body``, or None when it does not come out smaller.

        Parameters
        ----------
        body
            The uncompressed response body.

        Returns
        -------
        bytes | None
            The compressed bytes (from the cache when this content was compressed before).
        """
        key = hashlib.blake2b(body, digest_size=20).digest()
        if key in self._entries:
            self._entries.move_to_end(key)
            self.stats.hits += 1
            return self._entries[key]
        pending = self._pending.get(key)
        if pending is not None:  # the same content is being compressed for another request
            self.stats.hits += 1
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            packed = await anyio.to_thread.run_sync(self._compress, body)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a lone request's failure is not "never retrieved"
            raise
        finally:
            del self._pending[key]
        future.set_result(packed)
        self.stats.compressed += 1
        self._store(key, packed)
        return packed

    def _store(self, key: bytes, packed: bytes | None) -> None:
        size = len(packed or b"")
        if size > self.max_bytes:
            return
        self._entries[key] = packed
        self.stats.cached_bytes += size
        while self.stats.cached_bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self.stats.cached_bytes -= len(dropped or b"")


class CompressingFront:
    """ASGI middleware: the app's files gzip-encoded from a cache (see the module docstring).

    Parameters
    ----------
    app
        The ASGI app behind the front (Streamlit's middleware stack and routes).
    cache
        Where compressed bodies are kept; a new :class:`GzipCache` by default.
    """

    def __init__(self, app: ASGIApp, cache: GzipCache | None = None) -> None:
        self.app = app
        self.cache = cache if cache is not None else GzipCache()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if not self._handles(scope):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
        accept = _header(headers, b"accept-encoding") or ""
        wants = scope["method"] == "GET" and accepts_gzip(accept)
        # Behind the front, Streamlit's own gzip never sees a file request: the front decides.
        inner = dict(scope)
        inner["headers"] = [(k, v) for k, v in headers if k.lower() != b"accept-encoding"]
        extensions = dict(scope.get("extensions") or {})
        extensions.pop("http.response.pathsend", None)  # the body must come as bytes
        inner["extensions"] = extensions
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if start is None and message["type"] == "http.response.start":
                response_headers = list(message.get("headers", []))
                if self._candidate(message["status"], response_headers):
                    message = {**message, "headers": _vary(response_headers)}
                    if wants and self._fits(response_headers):
                        start = message  # hold the response: its body is compressed below
                        return
                await send(message)
            elif start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            else:
                await send(message)

        await self.app(inner, receive, capture)
        if start is not None:
            await self._send_compressed(start, b"".join(chunks), send)

    @staticmethod
    def _handles(scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] not in {"GET", "HEAD"}:
            return False
        path: str = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        if path.startswith(RESERVED):
            return False
        return _header(scope.get("headers", []), b"range") is None

    @staticmethod
    def _candidate(status: int, headers: list[tuple[bytes, bytes]]) -> bool:
        """Tell whether a response is a whole file of a compressible type, not encoded yet."""
        return (
            status == HTTPStatus.OK
            and _header(headers, b"content-encoding") is None
            and _compressible(_header(headers, b"content-type"))
        )

    @staticmethod
    def _fits(headers: list[tuple[bytes, bytes]]) -> bool:
        length = _header(headers, b"content-length")
        return length is not None and length.isdigit() and MIN_BYTES <= int(length) <= MAX_BYTES

    async def _send_compressed(self, start: Message, body: bytes, send: Send) -> None:
        packed = await self.cache.get(body)
        headers: list[tuple[bytes, bytes]] = list(start["headers"])
        if packed is not None:
            kept = [(k, v) for k, v in headers if k.lower() not in {b"content-length", b"etag"}]
            etag = _header(headers, b"etag")
            if etag is not None:
                kept.append((b"etag", (etag if etag.startswith("W/") else f"W/{etag}").encode()))
            kept += [(b"content-encoding", b"gzip"), (b"content-length", str(len(packed)).encode())]
            headers, body = kept, packed
            self.cache.stats.served_gzip += 1
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def middleware(cache: GzipCache | None = None) -> list[Middleware]:
    """Return the front as ``st.App`` middleware (it runs before Streamlit's own).

    Parameters
    ----------
    cache
        The cache of compressed bodies; a new one by default.

    Returns
    -------
    list[Middleware]
        The middleware list for ``st.App(script, middleware=...)``.
    """
    return [Middleware(CompressingFront, cache=cache)]
