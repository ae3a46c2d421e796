"""What another site's page, a rebinding DNS name, a leaked URL or an oversized body can make the server do.

The real app, the real detector and a real SQLite file (PostgreSQL too where `SPINLENS_TEST_POSTGRES` names one),
driven over HTTP by httpx through FastAPI's TestClient. Its Host is "testserver", which production never allows:
each app here is created with ``allowed_hosts=["testserver"]``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html.parser
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from spinlens.web import create_app

XRW = {"X-Requested-With": "spinlens"}
TEXT = "The corrupt regime lies to its people every single day.\n"
ATTACKER = "http://attacker.example"
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


@pytest.fixture(scope="module")
def nlp():
    """The shipped detector, loaded once for all the apps of this module."""
    import spinlens

    return spinlens.load().warm_up()


def _app_client(db_url: str, nlp, **options) -> TestClient:
    options.setdefault("allowed_hosts", ["testserver"])
    return TestClient(create_app(db_url=db_url, detector=nlp, **options), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(nlp, tmp_path_factory):
    db = tmp_path_factory.mktemp("security") / "spinlens.db"
    with _app_client(
        f"sqlite:///{db}", nlp, max_body=100_000, max_batch=3, max_chars=5_000, max_batch_chars=8_000
    ) as c:
        yield c


@pytest.fixture
def locked(nlp, tmp_path):
    """An app with a token; a fresh cookie jar for each test."""
    with _app_client(f"sqlite:///{tmp_path / 'locked.db'}", nlp, token="s3cret") as c:
        yield c


def _n_stored(c: TestClient, **headers) -> int:
    r = c.get("/api/analyses", params={"limit": 500}, headers=headers)
    assert r.status_code == 200, r.text
    return len(r.json())


def _one_line_detail(r) -> str:
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and detail.strip(), detail
    assert "Traceback" not in r.text
    return detail


def _csp(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        if part.strip():
            name, *sources = part.split()
            out[name.lower()] = sources
    return out


def _multipart(name: str, data: bytes, kind: str = "text/plain") -> tuple[bytes, str]:
    boundary = "spinlens-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: {kind}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


# --- 1. CSRF ---------------------------------------------------------------------------------------------------

_FILE_BODY, _FILE_TYPE = _multipart("a.txt", TEXT.encode())
FORGED = {
    # what a page on another origin can make a browser send without asking first (form posts, no-cors fetch)
    "form text/plain": ("/api/analyze", TEXT.encode(), {"Content-Type": "text/plain", "Origin": ATTACKER}),
    "fetch cross-site": (
        "/api/analyze",
        TEXT.encode(),
        {"Content-Type": "text/plain", "Origin": ATTACKER, "Sec-Fetch-Site": "cross-site"},
    ),
    "another port of this host": (
        "/api/analyze",
        TEXT.encode(),
        {"Content-Type": "text/plain", "Origin": "http://testserver:9999", "Sec-Fetch-Site": "same-site"},
    ),
    "upload form": ("/api/analyze/file", _FILE_BODY, {"Content-Type": _FILE_TYPE, "Origin": ATTACKER}),
    "sandboxed frame": ("/api/analyze", TEXT.encode(), {"Content-Type": "text/plain", "Origin": "null"}),
    "Sec-Fetch-Site only": (
        "/api/analyze",
        TEXT.encode(),
        {"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"},
    ),
    "no Origin, no header": ("/api/analyze", TEXT.encode(), {"Content-Type": "text/plain"}),
    "upload without header": ("/api/analyze/file", _FILE_BODY, {"Content-Type": _FILE_TYPE}),
    "header but foreign Origin": (
        "/api/analyze",
        TEXT.encode(),
        {"Content-Type": "text/plain", "Origin": ATTACKER, **XRW},
    ),
    "JSON batch from another origin": (
        "/api/analyze/batch",
        json.dumps({"documents": [{"text": TEXT}]}).encode(),
        {"Content-Type": "application/json", "Origin": ATTACKER},
    ),
    "sign-in form from a sandboxed frame": (
        "/login",
        b"token=x&next=%2F",
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"},
    ),
    "sign-in form from another site": (
        "/login",
        b"token=x&next=%2F",
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": ATTACKER},
    ),
}


@pytest.mark.parametrize("case", list(FORGED))
def test_forged_cross_site_requests_are_refused_and_store_nothing(client, case):
    path, body, headers = FORGED[case]
    before = _n_stored(client)
    r = client.post(path, content=body, headers=headers)
    assert r.status_code == 403, (r.status_code, r.text)
    assert _one_line_detail(r)
    for method in ("PUT", "PATCH", "DELETE"):  # every state-changing method, routed or not
        assert client.request(method, path, content=body, headers=headers).status_code == 403
    assert _n_stored(client) == before


def test_own_page_scripts_and_curl_are_served(client):
    same_origin = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin", **XRW}
    # the page: same origin, the custom header, text/plain and multipart
    r = client.post("/api/analyze", content=TEXT.encode(), headers={"Content-Type": "text/plain", **same_origin})
    assert r.status_code == 200, r.text
    r = client.post("/api/analyze/file", content=_FILE_BODY, headers={"Content-Type": _FILE_TYPE, **same_origin})
    assert r.status_code == 200, r.text
    # scripts and curl send no Origin: a JSON body, or the header, is enough
    assert client.post("/api/analyze", json={"text": TEXT}).status_code == 200
    assert client.post("/api/analyze", content=TEXT.encode(), headers=XRW).status_code == 200
    assert client.post("/api/analyze/batch", json={"documents": [{"text": TEXT}]}).status_code == 200
    # a browser's own navigation (Sec-Fetch-Site: none) with a JSON body
    assert client.post("/api/analyze", json={"text": TEXT}, headers={"Sec-Fetch-Site": "none"}).status_code == 200


# --- 2. DNS rebinding ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:8000", "127.0.0.1.nip.io", "localhost.attacker.example", "[::2]"]
)
def test_unknown_host_names_get_400(client, host):
    for r in (
        client.get("/", headers={"Host": host}),
        client.get("/api/analyses", headers={"Host": host}),
        client.get("/openapi.json", headers={"Host": host}),
        client.post("/api/analyze", json={"text": TEXT}, headers={"Host": host}),
    ):
        assert r.status_code == 400, (host, r.status_code)
        assert "host name" in _one_line_detail(r)


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "LOCALHOST:8000", "127.0.0.1", "127.0.0.1:8000", "[::1]", "[::1]:8000"]
)
def test_localhost_names_are_served(client, host):
    assert client.get("/healthz", headers={"Host": host}).status_code == 200


def test_serve_allowed_host_and_max_chars_options(monkeypatch):
    """`spinlens serve --allowed-host NAME` (repeatable) and `--max-chars N` reach the app it runs."""
    from spinlens.cli import app as cli
    from spinlens.web import server

    ran = {}
    monkeypatch.setattr(server, "run", lambda app, **kw: ran.update(app=app, **kw))
    result = CliRunner().invoke(
        cli,
        [
            "serve",
            "--host",
            "0.0.0.0",
            "--allowed-host",
            "spin.example.org",
            "--allowed-host",
            "news.example.net",
            "--max-chars",
            "50",
        ],
    )
    assert result.exit_code == 0, result.output
    assert ran["host"] == "0.0.0.0"
    with TestClient(ran["app"], base_url="http://spin.example.org", raise_server_exceptions=False) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/healthz", headers={"Host": "news.example.net:443"}).status_code == 200
        assert c.get("/healthz", headers={"Host": "localhost:8000"}).status_code == 200
        assert c.get("/healthz", headers={"Host": "attacker.example"}).status_code == 400
        assert c.get("/healthz", headers={"Host": "testserver"}).status_code == 400  # only tests allow it
        r = c.post("/api/analyze", json={"text": "x" * 51})
        assert r.status_code == 413 and "limit is 50 characters" in _one_line_detail(r)
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert "--allowed-host" in result.output and "--max-chars" in result.output


# --- 3. The token ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_in_any_case(locked, scheme):
    assert locked.get("/api/analyses", headers={"Authorization": f"{scheme} s3cret"}).status_code == 200


@pytest.mark.parametrize(
    "value", ["Bearer wrong", "Bearer s3cre", "Bearer s3cretx", "Basic s3cret", "Bearer", "s3cret"]
)
def test_wrong_tokens_get_401(locked, value):
    r = locked.get("/api/analyses", headers={"Authorization": value})
    assert r.status_code == 401 and "token" in _one_line_detail(r)


def test_the_token_is_compared_in_constant_time(locked, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert locked.get("/api/analyses", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert locked.get("/api/analyses", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert (b"s3cret", b"s3cret") in calls and (b"nope", b"s3cret") in calls


def test_the_token_is_never_taken_from_the_url(locked):
    assert locked.get("/api/analyses?token=s3cret").status_code == 401
    for path in ("/dashboard?token=s3cret", "/?token=s3cret", "/analyses/1?token=s3cret"):
        r = locked.get(path)
        assert r.status_code == 401 and 'action="/login"' in r.text and "corpus report" not in r.text
    page = locked.get("/", headers={"Authorization": "Bearer s3cret"}).text
    assert "?token=" not in page and "prompt(" not in page and "sessionStorage" not in page
    assert "X-Requested-With" in page


def test_the_sign_in_form_sets_a_strict_httponly_cookie(locked):
    r = locked.get("/dashboard")
    assert r.status_code == 401 and 'action="/login"' in r.text and 'name="token"' in r.text
    assert "form-action 'self'" in r.headers["content-security-policy"]
    same_origin = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    wrong = locked.post("/login", data={"token": "guess", "next": "/dashboard"}, headers=same_origin)
    assert wrong.status_code == 401 and "Wrong token" in wrong.text and "set-cookie" not in wrong.headers
    # the page's own form under Referrer-Policy: no-referrer, as Chromium sends it: Origin null, same-origin
    again = locked.post("/login", data={"token": "guess"}, headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert again.status_code == 401 and "Wrong token" in again.text
    ok = locked.post(
        "/login", data={"token": "s3cret", "next": "/dashboard"}, headers=same_origin, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/dashboard"
    cookie = ok.headers["set-cookie"]
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")}
    assert "httponly" in attributes and attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/" and "secure" not in attributes  # plain http on loopback
    assert "s3cret" not in cookie  # the cookie is derived from the token, not the token
    # the pages and the API now take the cookie
    assert locked.get("/dashboard").status_code == 200
    assert locked.get("/").status_code == 200 and 'id="go"' in locked.get("/").text
    assert _n_stored(locked) == 0
    r = locked.post("/api/analyze", content=TEXT.encode(), headers={"Content-Type": "text/plain", **XRW})
    assert r.status_code == 200, r.text
    assert locked.get(f"/analyses/{r.json()['id']}").status_code == 200
    # ... only with the CSRF checks passed
    forged = locked.post("/api/analyze", content=b"Another text.", headers={"Content-Type": "text/plain"})
    assert forged.status_code == 403
    forged = locked.post("/api/analyze", json={"text": "Another text."}, headers={"Origin": ATTACKER})
    assert forged.status_code == 403
    assert _n_stored(locked) == 1
    # a sign-in not from the page's form is refused; a redirect never leaves the server
    assert locked.post("/login", data={"token": "s3cret"}).status_code == 403
    for target in ("//attacker.example/x", "https://attacker.example/", "/\\attacker.example"):
        r = locked.post("/login", data={"token": "s3cret", "next": target}, headers=same_origin, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"


def test_the_cookie_is_secure_over_https(nlp, tmp_path):
    app = create_app(
        db_url=f"sqlite:///{tmp_path / 's.db'}", detector=nlp, token="s3cret", allowed_hosts=["testserver"]
    )
    with TestClient(app, base_url="https://testserver") as c:
        r = c.post("/login", data={"token": "s3cret"}, headers={"Origin": "https://testserver"}, follow_redirects=False)
        assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()


def _analysis_with_a_span(c: TestClient, **headers) -> int:
    r = c.post("/api/analyze", json={"text": TEXT}, headers=headers)
    assert r.status_code == 200 and r.json()["spans"], r.text
    return r.json()["id"]


def test_corrections_are_behind_the_token_and_the_csrf_checks(locked):
    """Reading or adding corrections needs the token; a forged correction (another origin, a body another site's
    page can send) is refused before the route runs; nothing is stored by a refused request."""
    auth = {"Authorization": "Bearer s3cret"}
    url = f"/api/analyses/{_analysis_with_a_span(locked, **auth)}/corrections"
    body = json.dumps({"kind": "reject", "span": 0}).encode()
    assert locked.get(url).status_code == 401
    assert locked.post(url, content=body, headers={"Content-Type": "application/json"}).status_code == 401
    for headers in (
        {"Content-Type": "application/json", "Origin": ATTACKER},
        {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
        {"Content-Type": "application/json", "Origin": "http://testserver:9999", "Sec-Fetch-Site": "same-site"},
        {"Content-Type": "text/plain"},  # a form post or a no-cors fetch
        {"Content-Type": "text/plain", "Origin": ATTACKER, **XRW},
    ):
        r = locked.post(url, content=body, headers={**auth, **headers})
        assert r.status_code == 403 and _one_line_detail(r), (headers, r.text)
    assert locked.get(url, headers=auth).json()["corrections"] == []
    ok = locked.post(url, content=body, headers={**auth, "Content-Type": "application/json"})
    assert ok.status_code == 201 and ok.json()["author"] == "token"


def test_a_correction_over_the_body_limit_gets_413(client):
    url = f"/api/analyses/{_analysis_with_a_span(client)}/corrections"
    big = json.dumps({"kind": "accept", "span": 0, "pad": "x" * 150_000}).encode()
    r = client.post(url, content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "limit" in _one_line_detail(r)
    r = client.post(url, content=_chunked(big), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert client.get(url).json()["corrections"] == []


@pytest.mark.parametrize(
    ("values", "tokens"),
    [
        ("s3cret", {"token": "s3cret"}),
        (["alice=a-s3cret", "bob=b=s3cret"], {"alice": "a-s3cret", "bob": "b=s3cret"}),
        ("alice=a-s3cret, bob=b-s3cret", {"alice": "a-s3cret", "bob": "b-s3cret"}),  # SPINLENS_TOKEN
        (["dGVzdHRlc3Q=", "carol=Y2Fyb2w="], {"token": "dGVzdHRlc3Q=", "carol": "Y2Fyb2w="}),  # base64 padding
        (["=s3cret"], {"token": "=s3cret"}),
        (None, {}),
    ],
)
def test_token_values_name_their_holders(values, tokens):
    from spinlens.web.security import parse_tokens

    assert parse_tokens(values) == tokens


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (["one", "two"], "two tokens are named 'token'"),
        (["alice=x1", "alice=x2"], "two tokens are named 'alice'"),
        (["alice=same", "bob=same"], "also another name's token"),
    ],
)
def test_ambiguous_tokens_are_refused(values, problem):
    from spinlens.web.security import parse_tokens

    with pytest.raises(ValueError, match=problem):
        parse_tokens(values)


def test_serve_token_option_is_repeatable_and_read_from_the_environment(monkeypatch):
    """`--token NAME=SECRET` (repeatable) and SPINLENS_TOKEN (comma-separated) reach the app; a bad set is one line."""
    from spinlens.cli import app as cli
    from spinlens.web import server
    from spinlens.web.deps import runtime_of

    ran = {}
    monkeypatch.setattr(server, "run", lambda app, **kw: ran.update(app=app, **kw))
    monkeypatch.delenv("SPINLENS_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--token", "alice=a-s3cret", "--token", "plain-s3cret"])
    assert result.exit_code == 0, result.output
    assert dict(runtime_of(ran["app"]).settings.tokens) == {"alice": "a-s3cret", "token": "plain-s3cret"}
    result = CliRunner().invoke(cli, ["serve"], env={"SPINLENS_TOKEN": "alice=a-s3cret,bob=b-s3cret"})
    assert result.exit_code == 0, result.output
    assert dict(runtime_of(ran["app"]).settings.tokens) == {"alice": "a-s3cret", "bob": "b-s3cret"}
    result = CliRunner().invoke(cli, ["serve", "--token", "one", "--token", "two"])
    assert result.exit_code == 2 and "--token: two tokens are named 'token'" in result.output
    assert "NAME=SECRET" in CliRunner().invoke(cli, ["serve", "--help"]).output


def test_each_named_token_signs_in_as_its_holder(nlp, tmp_path):
    with _app_client(f"sqlite:///{tmp_path / 'n.db'}", nlp, token=["alice=a-s3cret", "bob=b-s3cret"]) as c:
        assert c.get("/api/analyses", headers={"Authorization": "Bearer b-s3cret"}).status_code == 200
        assert c.get("/api/analyses", headers={"Authorization": "Bearer bob"}).status_code == 401
        same_origin = {"Origin": "http://testserver"}
        assert c.post("/login", data={"token": "bob"}, headers=same_origin).status_code == 401
        ok = c.post("/login", data={"token": "a-s3cret"}, headers=same_origin, follow_redirects=False)
        assert ok.status_code == 303 and "a-s3cret" not in ok.headers["set-cookie"]
        url = f"/api/analyses/{_analysis_with_a_span(c)}/corrections"
        assert c.post(url, json={"kind": "accept", "span": 0}).json()["author"] == "alice"


# --- 4. Limits that hold ---------------------------------------------------------------------------------------


def _chunked(data: bytes, size: int = 16_384):
    """A body with no Content-Length: httpx sends it with Transfer-Encoding: chunked."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


_BIG_FILE, _BIG_FILE_TYPE = _multipart("big.txt", ("word " * 30_000).encode())
OVERSIZED = {
    "analyze": ("POST", "/api/analyze", ("word " * 30_000).encode(), {"Content-Type": "text/plain", **XRW}),
    # 4 documents for a batch of at most 3: without a limit on the stream, the route answers 422
    "batch": (
        "POST",
        "/api/analyze/batch",
        json.dumps({"documents": [{"text": "word " * 7_000}] * 4}).encode(),
        {"Content-Type": "application/json"},
    ),
    "file": ("POST", "/api/analyze/file", _BIG_FILE, {"Content-Type": _BIG_FILE_TYPE, **XRW}),
    "login": (
        "POST",
        "/login",
        b"token=" + b"x" * 150_000,
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://testserver"},
    ),
    "healthz": ("GET", "/healthz", b"x" * 150_000, {}),
    "analyses": ("GET", "/api/analyses", b"x" * 150_000, {}),
}


@pytest.mark.parametrize("case", list(OVERSIZED))
def test_the_body_limit_holds_for_chunked_bodies(client, case):
    method, path, body, headers = OVERSIZED[case]
    assert len(body) > 100_000
    before = _n_stored(client)
    r = client.request(method, path, content=_chunked(body), headers=headers)
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert "the limit is 100,000 bytes" in _one_line_detail(r)
    # with a Content-Length too
    r = client.request(method, path, content=body, headers=headers)
    assert r.status_code == 413 and "the limit is 100,000 bytes" in _one_line_detail(r)
    assert _n_stored(client) == before


def test_chunked_bodies_under_the_limit_are_served(client):
    r = client.post(
        "/api/analyze", content=_chunked(TEXT.encode() * 3, 7), headers={"Content-Type": "text/plain", **XRW}
    )
    assert r.status_code == 200 and r.json()["text"] == TEXT * 3


def test_a_document_over_max_chars_gets_413_naming_the_limit(client):
    long = "word " * 1_001  # 5,005 characters for a limit of 5,000
    html_page = "<html><body><article><p>" + "The regime lies. " * 400 + "</p></article></body></html>"
    html_body, html_type = _multipart("page.html", html_page.encode(), "text/html")
    txt_body, txt_type = _multipart("a.txt", long.encode())
    before = _n_stored(client)
    for r in (
        client.post("/api/analyze", content=long.encode(), headers={"Content-Type": "text/plain", **XRW}),
        client.post("/api/analyze", json={"text": long}),
        client.post("/api/analyze/file", content=txt_body, headers={"Content-Type": txt_type, **XRW}),
        client.post("/api/analyze/file", content=html_body, headers={"Content-Type": html_type, **XRW}),
    ):
        assert r.status_code == 413, (r.status_code, r.text[:300])
        assert "the limit is 5,000 characters" in _one_line_detail(r)
    r = client.post("/api/analyze/batch", json={"documents": [{"text": TEXT}, {"text": long}]})
    assert r.status_code == 413 and _one_line_detail(r).startswith("document 1: ")
    assert "the limit is 5,000 characters" in r.json()["detail"]
    # each document within its limit, the batch over its total
    r = client.post(
        "/api/analyze/batch", json={"documents": [{"text": "a" * 4_000}, {"text": "b" * 4_000}, {"text": TEXT}]}
    )
    assert r.status_code == 413 and "the limit is 8,000 characters per batch" in _one_line_detail(r)
    assert _n_stored(client) == before


def test_the_default_limit_is_200000_characters(nlp, tmp_path):
    with _app_client(f"sqlite:///{tmp_path / 'd.db'}", nlp) as c:
        r = c.post("/api/analyze", content=b"w" * 200_001, headers={"Content-Type": "text/plain", **XRW})
        assert r.status_code == 413 and "the limit is 200,000 characters" in _one_line_detail(r)
        r = c.post("/api/analyze/batch", json={"documents": [{"text": "w" * 150_000}] * 7})
        assert r.status_code == 413 and "the limit is 1,000,000 characters per batch" in _one_line_detail(r)


# --- 5. One big request must not stall everyone ---------------------------------------------------------------


def _long_text(chars: int, tag: str = "") -> str:
    """A text of about ``chars`` characters, unlike any other (so that no answer comes from the store)."""
    lines, i = [], 0
    while sum(map(len, lines)) < chars:
        lines.append(f"The corrupt regime lies to its people, day {i}{tag}, and its puppets cheer every lie.\n")
        i += 1
    return "".join(lines)


class _Gated:
    """The real detector, held before it starts until `gate` opens: an analysis that stays in flight."""

    def __init__(self, nlp) -> None:
        self.nlp, self.name, self.version = nlp, nlp.name, nlp.version
        self.gate, self.entered = threading.Event(), threading.Event()

    def pipe(self, documents, batch_size: int = 8):
        self.entered.set()
        self.gate.wait(60)
        return self.nlp.pipe(documents, batch_size)


def _pending(c: TestClient) -> int:
    return c.get("/healthz").json()["analyses_pending"]


def _wait_until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_a_full_queue_answers_503_with_retry_after(nlp, tmp_path):
    gated = _Gated(nlp)
    with (
        _app_client(f"sqlite:///{tmp_path / 'q.db'}", gated, max_pending=2, short_chars=0) as c,
        ThreadPoolExecutor(2) as pool,
    ):
        threading.Timer(15, gated.gate.set).start()  # whatever happens, the held analyses end
        first = pool.submit(c.post, "/api/analyze", json={"text": TEXT})
        second = pool.submit(c.post, "/api/analyze", json={"text": TEXT + " Again."})
        assert gated.entered.wait(30)
        _wait_until(lambda: _pending(c) == 2)
        t0 = time.monotonic()
        r = c.post("/api/analyze", json={"text": "A third text, refused at once."})
        assert time.monotonic() - t0 < 5 and not gated.gate.is_set(), "it waited instead of being refused"
        assert r.status_code == 503 and r.headers["retry-after"].isdigit()
        assert "busy" in _one_line_detail(r)
        gated.gate.set()
        assert first.result(60).status_code == 200 and second.result(60).status_code == 200
        _wait_until(lambda: _pending(c) == 0)
        assert c.post("/api/analyze", json={"text": "A third text, refused at once."}).status_code == 200


def test_an_analysis_over_the_time_bound_gets_504_and_its_work_stops(nlp, tmp_path):
    import torch

    passes = []
    hook = torch.nn.modules.module.register_module_forward_pre_hook(lambda m, i: passes.append(1))
    try:
        with _app_client(f"sqlite:///{tmp_path / 't.db'}", nlp, timeout=1.5) as c:
            t0 = time.monotonic()
            r = c.post("/api/analyze", json={"text": _long_text(40_000)})
            assert r.status_code == 504, (r.status_code, r.text[:200])
            assert time.monotonic() - t0 < 4
            assert "longer than 1.5 seconds" in _one_line_detail(r)
            _wait_until(lambda: _pending(c) == 0, 5)
            seen = len(passes)
            time.sleep(1)
            assert len(passes) == seen, "the model still runs for a request that was answered"
            assert _n_stored(c) == 0
            assert c.post("/api/analyze", json={"text": TEXT}).status_code == 200  # the lane is free again
    finally:
        hook.remove()


def test_short_requests_keep_moving_while_a_long_one_runs(nlp, tmp_path):
    with _app_client(f"sqlite:///{tmp_path / 'l.db'}", nlp, timeout=300) as c, ThreadPoolExecutor(1) as pool:
        long = pool.submit(c.post, "/api/analyze", json={"text": _long_text(40_000)})
        _wait_until(lambda: _pending(c) == 1)
        time.sleep(0.5)  # the long analysis is under way
        for i in range(3):
            t0 = time.monotonic()
            r = c.post("/api/analyze", json={"text": f"{TEXT} Short text {i}."})
            assert r.status_code == 200 and not r.json()["cached"]
            assert not long.done(), "the short text waited for the long one"
            assert time.monotonic() - t0 < 10
        r = long.result(300)
        assert r.status_code == 200 and r.json()["spans"]


def test_sigterm_ends_the_server_with_an_analysis_in_flight(tmp_path):
    """`spinlens serve` gets SIGTERM while it analyses a long text: it answers that request and exits in seconds."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "spinlens.cli",
        "serve",
        "--port",
        str(port),
        "--db",
        f"sqlite:///{tmp_path / 's.db'}",
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until(lambda: _up(url) or server.poll() is not None, 120)
        assert server.poll() is None, server.stderr.read().decode()[-2000:]
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(httpx.post, url + "/api/analyze", json={"text": _long_text(150_000)}, timeout=300)
            _wait_until(lambda: httpx.get(url + "/healthz").json()["analyses_pending"] == 1, 30)
            time.sleep(1)  # under way
            t0 = time.monotonic()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            assert time.monotonic() - t0 < 5, f"the server took {time.monotonic() - t0:.1f} s to exit"
            try:
                r = answer.result(10)
            except httpx.HTTPError:
                pass  # the connection closed: acceptable, the server is gone
            else:
                assert r.status_code == 503 and "shutting down" in r.json()["detail"]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# --- 6. Inputs that gave 500 -----------------------------------------------------------------------------------


def test_huge_ids_and_bad_paging_are_refused_not_500(nlp, db_url):
    with _app_client(db_url, nlp) as c:
        r = c.post("/api/analyze/batch", json={"documents": [{"text": TEXT}, {"text": "Second text, plain."}]})
        assert r.status_code == 200, r.text
        first = r.json()[0]["id"]
        for big in (2**31, 2**63 - 1, 2**63, 2**63 + 1, 2**64, 10**30):
            for path in (f"/api/analyses/{big}", f"/api/analyses/{big}/report", f"/analyses/{big}"):
                r = c.get(path)
                assert r.status_code in (404, 422), (path, r.status_code)
                assert _one_line_detail(r)
        assert c.get(f"/api/analyses/{2**31 - 1}").status_code == 404
        assert c.get(f"/api/analyses/{first}").status_code == 200
        for params, name in (
            ({"limit": -1}, "limit"),
            ({"limit": 0}, "limit"),
            ({"limit": 501}, "limit"),
            ({"limit": "many"}, "limit"),
            ({"offset": -1}, "offset"),
            ({"offset": 2**31}, "offset"),
            ({"offset": 2**63}, "offset"),
        ):
            r = c.get("/api/analyses", params=params)
            assert r.status_code == 422, (params, r.status_code, r.text)
            assert _one_line_detail(r).startswith(name)
        assert len(c.get("/api/analyses", params={"limit": 1}).json()) == 1
        assert len(c.get("/api/analyses", params={"limit": 500}).json()) == 2
        assert c.get("/api/analyses", params={"offset": 2**31 - 1}).json() == []


def test_huge_ids_in_a_correction_are_refused_not_500(nlp, db_url):
    with _app_client(db_url, nlp) as c:
        url = f"/api/analyses/{_analysis_with_a_span(c)}/corrections"
        for big in (2**31, 2**63, 10**30):
            for body in (
                {"kind": "reject", "added": big},
                {"kind": "accept", "span": big},
                {"kind": "move", "span": 0, "start": 0, "end": big},
                {"kind": "add", "start": big, "end": big + 1, "techniques": ["Doubt"]},
            ):
                r = c.post(url, json=body)
                assert r.status_code == 422 and _one_line_detail(r), (body, r.status_code, r.text)
            assert c.post(f"/api/analyses/{big}/corrections", json={"kind": "accept", "span": 0}).status_code in (
                404,
                422,
            )
        assert c.get(url).json()["corrections"] == []


# --- 7. Headers on every response ------------------------------------------------------------------------------


def test_security_headers_on_every_response(client):
    stored = client.post("/api/analyze", json={"text": TEXT, "title": "t"}).json()["id"]
    answers = {
        "page": client.get("/"),
        "docs": client.get("/docs"),
        "docs script": client.get("/static/swagger-ui/swagger-ui-bundle.js"),
        "docs style": client.get("/static/swagger-ui/swagger-ui.css"),
        "openapi": client.get("/openapi.json"),
        "health": client.get("/healthz"),
        "api": client.get("/api/analyses"),
        "analysis": client.get(f"/api/analyses/{stored}"),
        "report": client.get(f"/api/analyses/{stored}/report"),
        "article page": client.get(f"/analyses/{stored}"),
        "dashboard": client.get("/dashboard"),
        "login": client.get("/login"),
        "404": client.get("/nope"),
        "405": client.get("/api/analyze"),
        "422": client.get("/api/analyses/abc"),
        "400": client.get("/", headers={"Host": "attacker.example"}),
        "403": client.post("/api/analyze", content=b"x", headers={"Origin": ATTACKER}),
        "413": client.post("/api/analyze", content=_chunked(b"x" * 100_001), headers=XRW),
    }
    for name, r in answers.items():
        for header, value in SECURITY_HEADERS.items():
            assert r.headers.get(header) == value, (name, header, r.headers.get(header))
        csp = _csp(r.headers.get("content-security-policy", ""))
        assert csp.get("frame-ancestors") == ["'none'"], (name, csp)
        assert "'unsafe-eval'" not in sum(csp.values(), []), name
    page = _csp(answers["page"].headers["content-security-policy"])
    assert page["script-src"] and all(s.startswith("'sha256-") for s in page["script-src"])  # no 'unsafe-inline'
    assert page["object-src"] == ["'none'"]
    for name in ("report", "article page", "api", "404"):
        assert _csp(answers[name].headers["content-security-policy"])["default-src"] == ["'none'"], name


# --- 8. Offline docs: Swagger UI from this server, nothing from another origin ---------------------------------

ASSET_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",), ".png": ("image/png",)}


class _Assets(html.parser.HTMLParser):
    """The URLs a page loads (script src, link href, img src) and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe") and a.get("src"):
            self.urls.append(a["src"])
        elif tag == "link" and a.get("href"):
            self.urls.append(a["href"])
        self._in_inline_script = tag == "script" and not a.get("src")
        if self._in_inline_script:
            self.inline.append("")

    def handle_endtag(self, tag):
        self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script:
            self.inline[-1] += data


def test_docs_load_only_this_servers_files(client):
    """/docs is Swagger UI whose files this server serves: the page names no other host, each file it loads answers
    200 with its type, and its policy names no other host (script-src: this server and the start-up script's hash)."""
    docs = client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert not re.search(r"(https?:)?//", docs.text), "the page names another host"
    assets = _Assets()
    assets.feed(docs.text)
    assert len(assets.urls) == 3, assets.urls  # Swagger UI's script, its style sheet and the icon
    for url in assets.urls:
        assert url.startswith("/static/swagger-ui/") and urlsplit(url).netloc == "", url
        r = client.get(url)
        assert r.status_code == 200 and r.content, url
        kind = r.headers["content-type"].split(";")[0].strip()
        assert kind in ASSET_TYPES[url[url.rfind(".") :]], (url, kind)
        assert r.headers["x-content-type-options"] == "nosniff"
        if kind == "text/css":
            assert not re.search(r"url\(\s*['\"]?(https?:)?//", r.text), "the style sheet loads from another host"
    (script,) = [u for u in assets.urls if u.endswith(".js")]
    assert "SwaggerUIBundle" in client.get(script).text
    # the one inline script starts Swagger UI on this API's description, whose title is this API's
    (init,) = assets.inline
    assert "SwaggerUIBundle(" in init and "url: '/openapi.json'" in init and '"validatorUrl": null' in init
    assert client.get("/openapi.json").json()["info"]["title"] == "spinlens"

    csp = _csp(docs.headers["content-security-policy"])
    for directive, sources in csp.items():
        for source in sources:
            assert source in ("'self'", "'none'", "'unsafe-inline'", "data:") or source.startswith("'sha256-"), (
                directive,
                source,
            )
    digest = base64.b64encode(hashlib.sha256(init.encode()).digest()).decode()
    assert csp["script-src"] == ["'self'", f"'sha256-{digest}'"]  # not 'unsafe-inline', not 'unsafe-eval'
    assert csp["default-src"] == ["'none'"] and csp["connect-src"] == ["'self'"]


@pytest.mark.parametrize(
    "path",
    [
        "/redoc",  # dropped: it loaded its viewer and fonts from CDNs
        "/static/swagger-ui/index.html",  # the package's demo page, which loads the Petstore from the internet
        "/static/swagger-ui/swagger-initializer.js",
        "/static/swagger-ui/swagger-ui-bundle.js.map",
        "/static/swagger-ui/../__init__.py",
        "/static/swagger-ui/%2e%2e/__init__.py",
        "/static/swagger-ui/",
        "/docs/oauth2-redirect",
    ],
)
def test_only_the_docs_files_are_served(client, path):
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert _csp(r.headers["content-security-policy"])["default-src"] == ["'none'"]
