"""What another site's page, a rebinding DNS name or an oversized body can make the server do, closed in one place.

`Guard` is a pure ASGI middleware in front of every route (the page, the API, /docs and its files, /openapi.json and the errors):

- **Host names** (DNS rebinding): only the names the server was started for are served (``--host``, the loopback
  names and each ``--allowed-host``); any other ``Host`` gets 400 before anything else runs.
- **CSRF**: a POST, PUT, PATCH or DELETE is refused (403) when its ``Origin`` is not this server or its
  ``Sec-Fetch-Site`` is ``cross-site`` or ``same-site``. The API also needs a body another site's page cannot send
  without the browser asking first (CORS preflight, which this server never grants): ``Content-Type:
  application/json``, or the header ``X-Requested-With: spinlens`` for text/plain and multipart bodies. The sign-in
  form (an HTML form cannot set a header) needs a matching ``Origin`` or ``Sec-Fetch-Site: same-origin`` instead
  (``Origin: null`` counts as no Origin: browsers send it on the page's own form posts under no-referrer).
  Scripts and curl send neither ``Origin`` nor ``Sec-Fetch-Site``: with the header or a JSON body they are served.
- **Body size**: the body is counted while it is read, chunked or not, on every route: past ``max_body`` bytes the
  answer is 413 and the route never runs.
- **Headers** on every answer: a Content-Security-Policy (each with ``frame-ancestors 'none'``),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and ``X-Frame-Options: DENY``.

Every refusal is a one-line JSON ``detail``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CUSTOM_HEADER = "X-Requested-With"  # any value; the page sends "spinlens"
LOGIN_PATH = "/login"
SESSION_COOKIE = "spinlens_session"

# Content-Security-Policies: each page allows what it needs and nothing more; none can be framed.
STRICT_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# the corpus report's heat map is an inline PNG (matplotlib's imshow in SVG: <image href="data:image/png;base64,...">)
DASHBOARD_CSP = REPORT_CSP + "; img-src data:"
LOGIN_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
# /docs: Swagger UI's files come from this server (the swagger-ui-bundle-v2 package, see `spinlens.web.app`), its
# small inline start-up script is allowed by its hash (see `docs_csp`), and nothing is loaded from another origin.
# Swagger UI sets inline styles and uses data: images in its CSS; it fetches /openapi.json and "Try it out" calls
# from this server only.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' {script_hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


def script_hashes(inline_scripts: Iterable[str]) -> str:
    """CSP sources (``'sha256-...'``) that allow exactly these inline scripts (each the text inside <script>)."""
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline_scripts
    )


def docs_csp(inline_scripts: Iterable[str]) -> str:
    """The /docs policy: Swagger UI from this server, its own inline start-up script by hash."""
    return DOCS_CSP.format(script_hashes=script_hashes(inline_scripts))


def page_csp(inline_scripts: Iterable[str]) -> str:
    """The main page's policy: its own inline script by hash, fetches to this server only."""
    hashes = script_hashes(inline_scripts)
    return (
        f"default-src 'self'; script-src {hashes}; style-src 'self' 'unsafe-inline'; object-src 'none'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def host_name(value: str) -> str:
    """The name in a Host header or a host option, lower case, without port, brackets or a final dot:
    ``Example.org:8000`` -> ``example.org``, ``[::1]:8000`` -> ``::1``."""
    v = value.strip().lower()
    if v.startswith("["):
        end = v.find("]")
        v = v[1:end] if end > 0 else v
    elif v.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        v = v.split(":", 1)[0]
    return v.rstrip(".")


def allowed_host_names(host: str | None, extra: Iterable[str] = ()) -> frozenset[str]:
    return frozenset(host_name(h) for h in (*LOCAL_HOSTS, host or "", *extra) if h and host_name(h))


def _same_origin(origin: str, host: str) -> bool:
    """Whether ``Origin`` (scheme://name[:port]) names the server this ``Host`` header (name[:port]) reached."""
    try:
        o = urlsplit(origin)
        o_port = o.port or {"http": 80, "https": 443}.get(o.scheme)
        h = urlsplit("//" + host)
        h_port = h.port or {"http": 80, "https": 443}.get(o.scheme)
    except ValueError:
        return False
    if o.scheme not in ("http", "https") or not o.hostname or not h.hostname:
        return False
    return host_name(o.hostname) == host_name(h.hostname) and o_port == h_port


def csrf_problem(path: str, headers: Headers) -> str | None:
    """Why a state-changing request may have been forged by another site's page, or None when it cannot have been."""
    origin, site = headers.get("origin"), headers.get("sec-fetch-site")
    if origin is not None and origin.strip().lower() == "null":
        # an opaque origin says nothing: browsers send it from sandboxed frames, and on the page's own form posts
        # under Referrer-Policy: no-referrer (which every answer here carries); Sec-Fetch-Site and the rest decide
        origin = None
    if origin is not None and not _same_origin(origin, headers.get("host", "")):
        return f"cross-origin request refused: Origin {origin[:100]!r} is not this server"
    if site is not None and site.strip().lower() not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {site[:30]})"
    if headers.get(CUSTOM_HEADER):
        return None
    if path == LOGIN_PATH:
        if origin is not None or (site or "").strip().lower() == "same-origin":
            return None
        return f"sign in from the server's own page (or send the header '{CUSTOM_HEADER}: spinlens')"
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        return None
    return (
        f"send Content-Type: application/json or the header '{CUSTOM_HEADER}: spinlens' "
        "(requests that another site's page could forge are refused)"
    )


class Guard:
    """Host names, CSRF, body size and security headers for every HTTP request (see the module's docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: frozenset[str],
        max_body: int,
        csp_for: Callable[[str], str],
    ) -> None:
        self.app, self.allowed_hosts, self.max_body, self.csp_for = app, allowed_hosts, max_body, csp_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(send, scope["path"])
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if host_name(host) not in self.allowed_hosts:
            shown = host[:100] or "(none)"
            await _refuse(
                scope,
                receive,
                send,
                400,
                f"this server does not answer to the host name {shown!r} "
                "(start it with --allowed-host NAME for each name clients use)",
            )
            return
        if scope["method"] in STATE_CHANGING and (problem := csrf_problem(scope["path"], headers)):
            await _refuse(scope, receive, send, 403, problem)
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await _refuse(
                scope,
                receive,
                send,
                413,
                f"request body is {int(length):,} bytes; the limit is {self.max_body:,} bytes",
            )
            return
        # read the whole body here, counting as it comes (chunked bodies have no Content-Length): at most max_body
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _refuse(
                    scope, receive, send, 413, f"request body is over the limit; the limit is {self.max_body:,} bytes"
                )
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server would

        await self.app(scope, replay, send)

    def _with_headers(self, send: Send, path: str) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(MutableHeaders(scope=message), self.csp_for(path))
            await send(message)

        return send_with_headers


def add_security_headers(headers: MutableHeaders, csp: str) -> None:
    """The headers every answer carries; a route's own Content-Security-Policy is kept (it cannot be framed)."""
    own = headers.get("content-security-policy")
    if own is None:
        headers["content-security-policy"] = csp
    elif "frame-ancestors" not in own:
        headers["content-security-policy"] = own + "; frame-ancestors 'none'"
    for k, v in HEADERS.items():
        headers.setdefault(k, v)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)


# --- the token: header for the API, an HttpOnly SameSite=Strict cookie set by the sign-in form for the pages ---


PLAIN_TOKEN_NAME = "token"  # the holder's name for a token given without one
_TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}")


def parse_tokens(values: str | Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    """The tokens, holder name -> secret, from ``--token`` values: ``NAME=SECRET`` names its holder, a plain
    ``SECRET`` is named "token"; each value may hold several, comma-separated (as ``SPINLENS_TOKEN`` does).

    A secret that only ends in ``=`` (base64 padding) is a plain secret. `ValueError` for an empty secret, a name
    or a secret given twice, or two secrets without names."""
    if values is None:
        return {}
    if isinstance(values, Mapping):
        pairs = list(values.items())
    else:
        items = [values] if isinstance(values, str) else list(values)
        pairs = [_name_and_secret(v.strip()) for item in items for v in item.split(",") if v.strip()]
    tokens: dict[str, str] = {}
    for name, secret in pairs:
        if not secret:
            raise ValueError(f"the token named {name!r} is empty")
        if name in tokens:
            hint = " (give each token a name: --token NAME=SECRET)" if name == PLAIN_TOKEN_NAME else ""
            raise ValueError(f"two tokens are named {name!r}{hint}")
        if secret in tokens.values():
            raise ValueError(f"the token named {name!r} is also another name's token")
        tokens[name] = secret
    return tokens


def _name_and_secret(value: str) -> tuple[str, str]:
    name, eq, secret = value.partition("=")
    if eq and _TOKEN_NAME.fullmatch(name) and secret.strip("="):
        return name, secret
    return PLAIN_TOKEN_NAME, value


def session_value(token: str) -> str:
    """The cookie's value: derived from the token, so that the cookie does not hold the token itself."""
    return hmac.new(token.encode("utf-8"), b"spinlens session cookie v1", hashlib.sha256).hexdigest()


def token_holder(request: Request, tokens: Mapping[str, str]) -> str | None:
    """The name of the token the request carries: ``Authorization: Bearer TOKEN`` (scheme in any case, RFC 6750)
    or the sign-in cookie; None without a right one. Every token is compared, each in constant time.

    The cookie is only ever sent by the browser with same-site requests (SameSite=Strict), and every state-changing
    request has passed `Guard`'s CSRF checks before it gets here."""
    holder = None
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, credentials = auth.strip().partition(" ")
        if scheme.lower() == "bearer":
            # header values arrive decoded as latin-1: back to their bytes, compared with the token's UTF-8 bytes
            given = credentials.strip().encode("latin-1", "replace")
            holder = _matching(tokens, given, lambda secret: secret.encode("utf-8"))
    cookie = request.cookies.get(SESSION_COOKIE)
    if holder is None and cookie is not None:
        holder = _matching(tokens, cookie.encode("latin-1", "replace"), lambda secret: session_value(secret).encode())
    return holder


def token_named(tokens: Mapping[str, str], given: str) -> str | None:
    """The name of the token typed into the sign-in form, or None; constant-time compares."""
    return _matching(tokens, given.encode("utf-8"), lambda secret: secret.encode("utf-8"))


def _matching(tokens: Mapping[str, str], given: bytes, expected: Callable[[str], bytes]) -> str | None:
    found = None
    for name, secret in tokens.items():  # no early exit: the time taken does not say which token matched
        if hmac.compare_digest(given, expected(secret)) and found is None:
            found = name
    return found


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path on this server only (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or any(ord(c) < 32 for c in path):
        return "/"
    return path


def login_page(next_path: str, message: str = "") -> str:
    note = f'<p id="error" role="alert">{html.escape(message)}</p>' if message else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>spinlens: sign in</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}}
header{{background:#1d3557;color:#fff;padding:.6rem 1.2rem}}main{{padding:1rem 1.2rem;max-width:30rem}}
input{{font:inherit;width:100%;box-sizing:border-box;margin:.3rem 0 .6rem}}#error{{color:#b00020}}</style></head>
<body><header><strong>spinlens</strong></header><main>
<h1>Sign in</h1><p>This spinlens server needs its access token.</p>{note}
<form method="post" action="{LOGIN_PATH}">
<input type="hidden" name="next" value="{html.escape(safe_next(next_path))}">
<label for="token">Token</label><input type="password" id="token" name="token" autocomplete="current-password" required autofocus>
<button type="submit" id="sign-in">Sign in</button>
</form></main></body></html>
"""
