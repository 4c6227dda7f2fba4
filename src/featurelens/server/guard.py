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
import json
import secrets
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_PARAMETER = "token"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


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
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, message = refusal
            return await _refuse(scope, receive, send, status, message)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if scope["type"] == "http" and scope["path"] == "/" and self._is_token(query.get(TOKEN_PARAMETER)):
            return await self._set_cookie_and_redirect(scope, send, query)
        if scope["type"] == "http":
            return await self.app(scope, receive, _with_headers(send, SECURITY_HEADERS))
        return await self.app(scope, receive, send)

    def _refusal(self, scope, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, one-line reason) when the request must not reach the app, else None."""
        host = headers.get("host", "")
        if self.policy.hosts is not None and host_name(host) not in self.policy.hosts:
            return 403, f"this server does not answer the host name {host_name(host)!r}: open it as 127.0.0.1 or localhost, or start it with --allow-host NAME"
        origin = headers.get("origin")
        checks_origin = scope["type"] == "websocket" or scope.get("method", "GET") not in SAFE_METHODS
        if checks_origin and origin is not None and not same_origin(origin, host):
            return 403, f"requests from {origin} are refused: only this server's own page may use it"
        if self.policy.token and not self._has_token(scope, headers):
            return 401, "this server needs its token: open the URL that `featurelens serve` printed (it ends in ?token=…)"
        return None

    def _has_token(self, scope, headers: dict[str, str]) -> bool:
        offered = [value for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if key == TOKEN_PARAMETER]
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        if scheme.lower() in ("token", "bearer"):
            offered.append(credential.strip())
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is no token
            pass
        port = (scope.get("server") or (None, None))[1]
        if self.policy.cookie_name(port) in cookies:
            offered.append(cookies[self.policy.cookie_name(port)].value)
        return any(self._is_token(value) for value in offered)

    def _is_token(self, value: str | None) -> bool:
        expected = self.policy.token
        return bool(expected) and value is not None and secrets.compare_digest(value.encode(), expected.encode())

    async def _set_cookie_and_redirect(self, scope, send, query: dict[str, str]) -> None:
        """The page's address carried the token: keep it in a cookie and show the address without it."""
        rest = urlencode([(key, value) for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if key != TOKEN_PARAMETER])
        port = (scope.get("server") or (None, None))[1]
        cookie = f"{self.policy.cookie_name(port)}={query[TOKEN_PARAMETER]}; Path=/; HttpOnly; SameSite=Strict"
        headers = [(b"location", ("/" + (f"?{rest}" if rest else "")).encode()), (b"set-cookie", cookie.encode()), *SECURITY_HEADERS]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _with_headers(send, extra: list[tuple[bytes, bytes]]):
    """`send` that adds `extra` headers to the response start (those the app set itself win)."""

    async def sending(message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            message = {**message, "headers": [*message.get("headers", []), *[(n, v) for n, v in extra if n not in present]]}
        await send(message)

    return sending


REFUSAL_PAGE = ("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>featurelens</title>"
                "<body style=\"font: 16px system-ui, sans-serif; margin: 3rem\"><h1>featurelens</h1><p>{message}</p></body></html>")


async def _refuse(scope, receive, send, status: int, message: str) -> None:
    """Answer `status` with a one-line error (JSON, or a short page for a browser asking for HTML); a WebSocket is
    refused before it opens (the browser sees the status)."""
    body = json.dumps({"error": message}).encode()
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})  # the server sends 403 for a socket closed before it opens
            return
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    kind = b"application/json"
    accepts = dict(scope["headers"]).get(b"accept", b"")
    if scope.get("method") == "GET" and b"text/html" in accepts:  # a person at the browser: a page that says it in words
        body = REFUSAL_PAGE.format(message=html.escape(message)).encode()
        kind = b"text/html; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
