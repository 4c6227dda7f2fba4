"""Who may drive the server: a token, the Host header and the Origin header, checked on every request and socket.

The standard of Jupyter Server and TensorBoard for a local server that a browser reaches:
- a random token in the printed URL; `?token=` on the page's address sets an HttpOnly, SameSite=Strict cookie
  (named for the port: cookies are not kept apart by port) and redirects to the address without it; API clients
  may send `Authorization: token …` instead;
- a Host allowlist (loopback names and what `--host` names), so a DNS-rebinding page under another name gets 403;
- the Origin of a WebSocket and of every state-changing request must be the server's own: a page on another
  origin (another port of localhost included, which the cookie does not tell apart) gets 403;
- security headers on every answer: a Content-Security-Policy with no inline script, no framing, no sniffing.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.websockets import WebSocket

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_PARAMETER = "token"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


def new_token() -> str:
    """A fresh random token (192 bits, URL-safe)."""
    return secrets.token_urlsafe(24)


def allowed_hosts_for(host: str, extra: tuple[str, ...] = ()) -> frozenset[str] | None:
    """The Host names the server answers: loopback names, the address it listens on and `extra`; None (any name)
    when it listens on every interface, where the token is what keeps others out."""
    if host.strip("[]") in WILDCARD_HOSTS:
        return None
    return LOOPBACK_NAMES | {host.strip("[]").lower()} | {name.strip("[]").lower() for name in extra}


@dataclass(frozen=True)
class AccessPolicy:
    """`token`: required on every request (None: none needed); `hosts`: the Host names answered (None: any)."""

    token: str | None
    hosts: frozenset[str] | None = LOOPBACK_NAMES

    def cookie_name(self, port: int | None) -> str:
        return f"featurelens-token-{port or 0}"


def host_name(host_header: str) -> str:
    """`example.com:8000` → `example.com`, `[::1]:8000` → `::1`, lower case."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")].lower() if "]" in host_header else ""
    return host_header.rsplit(":", 1)[0].lower() if host_header.count(":") == 1 else host_header.lower()


def same_origin(origin: str, host_header: str) -> bool:
    """The page that sent the request was served by this server: scheme http(s) and exactly this Host."""
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host_header.lower() and not parts.path.strip("/")


class GuardMiddleware:
    """ASGI middleware applying an `AccessPolicy` to HTTP requests and WebSockets, and the security headers."""

    def __init__(self, app, policy: AccessPolicy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        asked = HTTPConnection(scope)
        refusal = self._refusal(asked)
        if refusal is not None:
            status, message = refusal
            return await _refuse(asked, receive, send, status, message)
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        if asked.url.path == "/" and self._is_token(asked.query_params.get(TOKEN_PARAMETER)):
            return await self._keep_token(asked)(scope, receive, send)
        return await self.app(scope, receive, _with_headers(send))

    def _refusal(self, asked: HTTPConnection) -> tuple[int, str] | None:
        """(status, one-line reason) when the request must not reach the app, else None."""
        host = asked.headers.get("host", "")
        if self.policy.hosts is not None and host_name(host) not in self.policy.hosts:
            return 403, f"this server does not answer the host name {host_name(host)!r}: open it as 127.0.0.1 or localhost, or start it with --allow-host NAME"
        origin = asked.headers.get("origin")
        checks_origin = asked.scope["type"] == "websocket" or asked.scope["method"] not in SAFE_METHODS
        if checks_origin and origin is not None and not same_origin(origin, host):
            return 403, f"requests from {origin} are refused: only this server's own page may use it"
        if self.policy.token and not self._has_token(asked):
            return 401, "this server needs its token: open the URL that `featurelens serve` printed (it ends in ?token=…)"
        return None

    def _has_token(self, asked: HTTPConnection) -> bool:
        """The token came in the address, an `Authorization: token …` (or Bearer) header, or this port's cookie."""
        offered = asked.query_params.getlist(TOKEN_PARAMETER) + [asked.cookies.get(self._cookie(asked), "")]
        scheme, _, credential = asked.headers.get("authorization", "").partition(" ")
        if scheme.lower() in ("token", "bearer"):
            offered.append(credential.strip())
        return any(self._is_token(value) for value in offered)

    def _is_token(self, value: str | None) -> bool:
        expected = self.policy.token
        return bool(expected) and value is not None and secrets.compare_digest(value.encode(), expected.encode())

    def _cookie(self, asked: HTTPConnection) -> str:
        return self.policy.cookie_name((asked.scope.get("server") or (None, None))[1])

    def _keep_token(self, asked: HTTPConnection) -> Response:
        """The page's address carried the token: keep it in a cookie and show the address without it."""
        rest = urlencode([(key, value) for key, value in asked.query_params.multi_items() if key != TOKEN_PARAMETER])
        answer = RedirectResponse("/" + (f"?{rest}" if rest else ""), status_code=303, headers=SECURITY_HEADERS)
        answer.headers.append("set-cookie", f"{self._cookie(asked)}={self.policy.token}; Path=/; HttpOnly; SameSite=Strict")
        return answer


def _with_headers(send):
    """`send` that adds the security headers to the response start (those the app set itself win)."""
    extra = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]

    async def sending(message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            message = {**message, "headers": [*message.get("headers", []), *[(n, v) for n, v in extra if n not in present]]}
        await send(message)

    return sending


REFUSAL_PAGE = ("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>featurelens</title>"
                "<body style=\"font: 16px system-ui, sans-serif; margin: 3rem\"><h1>featurelens</h1><p>{message}</p></body></html>")


async def _refuse(asked: HTTPConnection, receive, send, status: int, message: str) -> None:
    """Answer `status` with a one-line error (JSON, or a short page for a browser asking for HTML); a WebSocket is
    refused before it opens (the browser sees the status)."""
    if asked.scope["type"] == "websocket":
        socket = WebSocket(asked.scope, receive, send)
        await socket.receive()  # websocket.connect
        if "websocket.http.response" in asked.scope.get("extensions", {}):
            await socket.send_denial_response(JSONResponse({"error": message}, status))
        else:
            await socket.close(1008)  # the server answers 403 for a socket closed before it opens
        return
    if asked.scope["method"] == "GET" and "text/html" in asked.headers.get("accept", ""):  # a person at the browser: words
        answer: Response = HTMLResponse(REFUSAL_PAGE.format(message=html.escape(message)), status, SECURITY_HEADERS)
    else:
        answer = JSONResponse({"error": message}, status, SECURITY_HEADERS)
    await answer(asked.scope, receive, send)
