"""Fetching a feed, a sitemap or a page over HTTP(S), politely and defensively (the standard library only).

What comes back is untrusted: bodies are read up to a size limit (a larger one is refused, not truncated), the
whole download has a deadline, only http and https are followed (a redirect to ``file:`` or ``ftp:`` is refused),
no compression is asked for (no decompression bombs), and a feed's or page's validators (ETag, Last-Modified) make
the next request conditional, so an unchanged feed costs a 304 and no parsing.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from spinlens import __version__

MAX_BODY = 20_000_000  # bytes: a feed or a page is far smaller; a larger body is refused
TIMEOUT = 30.0  # seconds for the whole download
USER_AGENT = f"spinlens/{__version__} (+https://github.com/spinlens; monitoring)"


class FetchError(Exception):
    """A download that failed: one line, naming the URL."""


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int  # 200, or 304 (not modified: no body)
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = ""


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = 5

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(f"{req.full_url}: redirected to {newurl!r}, which is not http(s)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects)


def is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https") and bool(urlsplit(text).netloc)


def fetch(
    url: str,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_BODY,
    timeout: float = TIMEOUT,
) -> Fetched:
    """GET ``url`` (conditionally, given the validators of the last answer); `FetchError` when it fails."""
    if not is_url(url):
        raise FetchError(f"{url}: not an http(s) URL")
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + timeout
    try:
        with _OPENER.open(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FetchError(f"{url}: {int(length):,} bytes, over the {max_bytes:,}-byte limit")
            chunks, size = [], 0
            while chunk := response.read1(65_536):  # returns what one read brought: the deadline is checked often
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"{url}: more than {max_bytes:,} bytes, over the limit")
                if time.monotonic() > deadline:
                    raise FetchError(f"{url}: the download took more than {timeout:g} s")
                chunks.append(chunk)
            return Fetched(
                url=response.geturl(),
                status=response.status,
                body=b"".join(chunks),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                content_type=response.headers.get("Content-Type", ""),
            )
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(url=url, status=304, etag=etag, last_modified=last_modified)
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise FetchError(f"{url}: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise FetchError(f"{url}: {exc}") from None
