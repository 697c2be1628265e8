"""A small in-process HTTP client for ASGI apps, with a cookie jar: requests without sockets.

The dashboard's HTTP-level tests (auth, CSRF, escaping, errors) drive the app exactly as a
server would, one ASGI call per request; the browser tests use a real server.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import attrs
import trio

ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


@attrs.frozen
class Reply:
    """What the app answered."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name.lower()]


@attrs.define
class Client:
    """Sends requests to *app* at *root* (its mount path), keeping cookies like a browser."""

    app: ASGIApp
    root: str = ""
    scheme: str = "http"
    cookies: dict[str, str] = attrs.field(factory=dict)

    async def get(self, path: str, **query: str) -> Reply:
        return await self.request("GET", path, query=query)

    async def post(self, path: str, form: dict[str, str] | None = None, **kw: Any) -> Reply:
        return await self.request("POST", path, form=form, **kw)

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str = "application/x-www-form-urlencoded",
        cookies: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        split = urlsplit(path)
        query_string = split.query or urlencode(query or {})
        data = body if body is not None else urlencode(form or {}).encode()
        sent_headers = [(b"host", b"testserver")]
        sent_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        if method == "POST":
            sent_headers.append((b"content-type", content_type.encode()))
            sent_headers.append((b"content-length", str(len(data)).encode()))
        if cookies and self.cookies:
            jar = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            sent_headers.append((b"cookie", jar.encode()))
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": self.scheme,
            "path": self.root + split.path,
            "raw_path": (self.root + split.path).encode(),
            "root_path": self.root,
            "query_string": query_string.encode(),
            "headers": sent_headers,
            "client": ("127.0.0.1", 5000),
            "server": ("testserver", 80),
        }
        sent = False
        started: dict[str, Any] = {}
        chunks: list[bytes] = []
        done = trio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        await self.app(scope, receive, send)
        done.set()
        headers_out = [(k.decode().lower(), v.decode()) for k, v in started.get("headers", [])]
        reply = Reply(started["status"], headers_out, b"".join(chunks))
        for cookie in reply.all("set-cookie"):
            name, _, rest = cookie.partition("=")
            value = rest.split(";")[0]
            if re.search(r"max-age=0\b|expires=thu, 01 jan 1970", cookie, re.IGNORECASE):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return reply


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found is not None, "no CSRF field on the page"
    return found[1]
