"""The browser snippet and the demo shop, shipped as package data in ``tracker/static``."""

from __future__ import annotations

import gzip
import mimetypes
from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path

from aiohttp import web

STATIC = Path(str(files("tracker") / "static"))
SNIPPET = STATIC / "tracker.js"
DEMO = STATIC / "demo"
# Short: a fixed snippet reaches every page within minutes without versioned URLs.
SNIPPET_CACHE = "public, max-age=300"

Handler = Callable[[web.Request], Awaitable[web.Response]]


class Asset:
    """A small file held in memory with its gzip form, compressed once at start."""

    def __init__(self, path: Path, cache_control: str) -> None:
        self.body = path.read_bytes()
        self.gzipped = gzip.compress(self.body, compresslevel=9, mtime=0)
        guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self.content_type = "text/javascript" if path.suffix == ".js" else guessed
        self.cache_control = cache_control

    def response(self, request: web.Request) -> web.Response:
        headers = {"Cache-Control": self.cache_control, "Vary": "Accept-Encoding"}
        body = self.body
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            body = self.gzipped
            headers["Content-Encoding"] = "gzip"
        charset = "utf-8" if self.content_type.startswith("text/") else None
        return web.Response(
            body=body, content_type=self.content_type, charset=charset, headers=headers
        )


def snippet_handler() -> Handler:
    asset = Asset(SNIPPET, SNIPPET_CACHE)

    async def snippet(request: web.Request) -> web.Response:
        return asset.response(request)

    return snippet


def demo_handler() -> Handler:
    """Files of the demo shop; any other path under /demo/ is the single-page app."""
    assets = {
        path.relative_to(DEMO).as_posix(): Asset(path, "no-cache")
        for path in DEMO.rglob("*")
        if path.is_file()
    }
    index = assets["index.html"]

    async def demo(request: web.Request) -> web.Response:
        # Only files that exist at start are served: no path ever reaches the file system.
        asset = assets.get(request.match_info.get("tail", ""))
        return (asset or index).response(request)

    return demo
