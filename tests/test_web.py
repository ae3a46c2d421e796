"""The REST API against the real app, the real model and a real SQLite file."""

import concurrent.futures
import re
import threading

import pytest
from fastapi.testclient import TestClient

from spinlens.web import create_app

from .conftest import REPO

EXAMPLE = (REPO / "src" / "spinlens" / "examples" / "op-ed.txt").read_text(encoding="utf-8")
# the header that scripts send with text/plain and multipart bodies (requests another site could forge are refused)
XRW = {"X-Requested-With": "spinlens"}
XSS = '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a>'


@pytest.fixture(scope="module")
def nlp():
    """The shipped detector, loaded once for the apps of this module that share it."""
    import spinlens

    return spinlens.load().warm_up()


@pytest.fixture(scope="module")
def client(tmp_path_factory, nlp):
    db = tmp_path_factory.mktemp("db") / "spinlens.db"
    app = create_app(
        db_url=f"sqlite:///{db}", max_body=200_000, max_batch=3, allowed_hosts=["testserver"], detector=nlp
    )
    with TestClient(app, headers=XRW) as c:
        c.db_path = db
        yield c


def test_health_and_openapi(client):
    assert client.get("/healthz").json()["status"] == "ok"
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/analyze",
        "/api/analyze/batch",
        "/api/analyses",
        "/api/analyses/{analysis_id}",
        "/api/techniques",
    } <= set(paths)
    # /docs is Swagger UI (its script, served here) started on this API's description; tests/test_browser.py sees it
    # render this API's title and operations, and tests/test_web_security.py checks that nothing comes from elsewhere
    docs = client.get("/docs").text
    script = re.search(r'<script src="(/[^"]+\.js)"></script>', docs)
    assert script, docs
    assert "SwaggerUIBundle" in client.get(script.group(1)).text
    started = re.search(r"SwaggerUIBundle\(\{\s*url: '([^']+)'", docs)
    assert started and client.get(started.group(1)).json()["info"]["title"] == "spinlens"


def test_analyze_plain_text_stores_and_reuses(client):
    r = client.post("/api/analyze", content=EXAMPLE.encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["text"] == EXAMPLE and first["spans"] and first["cached"] is False
    for s in first["spans"]:
        assert EXAMPLE[s["start"] : s["end"]] == s["text"]
    assert client.db_path.exists() and client.db_path.stat().st_size > 0
    again = client.post("/api/analyze", content=EXAMPLE.encode(), headers={"Content-Type": "text/plain"}).json()
    assert again["cached"] is True and again["id"] == first["id"] and again["spans"] == first["spans"]
    stored = client.get(f"/api/analyses/{first['id']}").json()
    assert stored["spans"] == first["spans"]
    assert any(item["id"] == first["id"] for item in client.get("/api/analyses").json())
    assert client.get("/api/analyses/999999").status_code == 404


def test_analyze_json_document_and_batch(client):
    doc = {
        "title": "A title",
        "text": "The regime's lies are a disgrace.\n",
        "source": "Outlet",
        "url": "https://example.org",
        "date": "2020-01-02",
    }
    r = client.post("/api/analyze", json=doc)
    assert r.status_code == 200 and r.json()["title"] == "A title" and r.json()["source"] == "Outlet"
    batch = client.post("/api/analyze/batch", json={"documents": [doc, {"text": "Second text here."}]})
    assert batch.status_code == 200 and len(batch.json()) == 2
    too_many = client.post("/api/analyze/batch", json={"documents": [doc] * 4})
    assert too_many.status_code == 422 and "at most 3" in too_many.json()["detail"]


def test_upload_txt_and_html(client):
    r = client.post("/api/analyze/file", files={"file": ("a.txt", EXAMPLE.encode(), "text/plain")})
    assert r.status_code == 200 and r.json()["spans"]
    page = (
        "<html><head><title>Puppet regime falls</title><meta name='author' content='Jane Roe'></head><body><nav>Home | World</nav>"
        "<article><h1>Puppet regime falls</h1><p>"
        + "The corrupt puppet regime collapsed in disgrace today, officials said. "
        * 8
        + "</p></article>"
        "<footer>Copyright</footer></body></html>"
    )
    r = client.post("/api/analyze/file", files={"file": ("page.html", page.encode(), "text/html")})
    assert r.status_code == 200, r.text
    assert "Copyright" not in r.json()["text"] and "corrupt puppet regime" in r.json()["text"]


@pytest.mark.parametrize(
    "name, data, status, message",
    [
        ("rows.jsonl", b'{"text": "The corrupt puppet regime collapsed in disgrace today."}\n', 200, ""),
        ("two.jsonl", b'{"text": "First article here."}\n{"text": "Second article here."}\n', 422, "holds 2 documents"),
        ("junk.txt", b"x" * 5000, 422, "one character"),
        ("utf16.txt", "Die Marionettenregierung st\u00fcrzt.".encode("utf-16"), 200, ""),
        ("deep.jsonl", b"[" * 20_000 + b"]" * 20_000 + b"\n", 422, "deep.jsonl:1"),
        ("page.html", b"<html><body>" + b"<div><span>&amp;</span></div>" * 50 + b"</body></html>", 422, "page.html"),
    ],
)
def test_uploads_are_read_as_the_cli_reads_files(client, name, data, status, message):
    """The upload goes through `spinlens.sources` (issue 12, item 7): same readers, junk checks and messages."""
    r = client.post("/api/analyze/file", files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == status, r.text
    if message:
        assert message in r.json()["detail"] and "/tmp/" not in r.json()["detail"]


@pytest.mark.parametrize(
    "body, content_type, status, message",
    [
        (b"caf\xe9 au lait", "text/plain", 415, "not valid UTF-8"),
        (b"\x89PNG\r\n\x00\x00", "text/plain", 415, "binary"),
        (b"   ", "text/plain", 422, "empty"),
        (b"x" * 300_000, "text/plain", 413, "limit is 200,000 bytes"),
        (b"<xml/>", "application/xml", 415, "text/plain or application/json"),
        (b"x" * 9000 + b"\x00", "text/plain", 415, "NUL byte at offset 9000"),
        (b'{"text": "a \\u0000 b"}', "application/json", 422, "NUL characters"),
        (b'{"text": "a \\ud800 b"}', "application/json", 422, "Invalid JSON"),
        (b'{"title": "no text"}', "application/json", 422, "text: Field required"),
    ],
)
def test_bad_bodies_say_why(client, body, content_type, status, message):
    r = client.post("/api/analyze", content=body, headers={"Content-Type": content_type})
    assert r.status_code == status and message in r.json()["detail"]


def test_xss_payload_comes_back_as_data_and_the_report_escapes_it(client):
    r = client.post("/api/analyze", json={"title": XSS, "text": "The corrupt regime lies " + XSS + " every day!\n"})
    assert r.status_code == 200
    assert XSS in r.json()["text"]  # returned verbatim as JSON data, for the page to insert as text
    report = client.get(f"/api/analyses/{r.json()['id']}/report").text
    assert "<script>" not in report and "<img" not in report and "&lt;script&gt;" in report
    page = client.get("/")
    assert "innerHTML" not in page.text and "textContent" in page.text
    assert "object-src 'none'" in page.headers["content-security-policy"]


def test_concurrent_requests_match_serial_ones(client, nlp, tmp_path):
    """Four texts analysed one after another, then sent all at once to a second app whose database is empty: each
    concurrent answer comes from the model (not from the store) and is the serial one."""
    texts = [EXAMPLE + f"\nAddendum {i}: the regime lies again, concurrently.\n" for i in range(4)]
    serial = [
        client.post("/api/analyze", content=t.encode(), headers={"Content-Type": "text/plain"}).json() for t in texts
    ]
    assert [r["cached"] for r in serial] == [False] * 4 and all(r["spans"] for r in serial)

    fresh = create_app(db_url=f"sqlite:///{tmp_path / 'fresh.db'}", allowed_hosts=["testserver"], detector=nlp)
    with TestClient(fresh, headers=XRW) as other, concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert other.get("/api/analyses").json() == []
        together = threading.Barrier(4)

        def send(text: str) -> dict:
            together.wait(timeout=30)  # all four in flight at once
            r = other.post("/api/analyze/batch", json={"documents": [{"text": text}]})
            assert r.status_code == 200, r.text
            return r.json()[0]

        parallel = list(pool.map(send, texts))
        assert len(other.get("/api/analyses").json()) == 4
    assert [r["cached"] for r in parallel] == [False] * 4, "answered from the store: the model did not run"
    assert len({r["id"] for r in parallel}) == 4
    for p, s in zip(parallel, serial, strict=True):
        assert p["text"] == s["text"]
        assert p["spans"] == s["spans"] and p["propaganda_score"] == s["propaganda_score"]


def test_token_is_required_when_set(tmp_path):
    app = create_app(db_url=f"sqlite:///{tmp_path / 'x.db'}", token="s3cret", allowed_hosts=["testserver"])
    with TestClient(app) as c:
        assert c.post("/api/analyze", content=b"text", headers=XRW).status_code == 401
        assert c.get("/api/analyses").status_code == 401
        ok = c.get("/api/analyses", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert c.get("/healthz").status_code == 200


def test_dashboard_and_stats_from_a_corpus_database(tmp_path) -> None:
    """`spinlens serve` pointed at a database filled by `spinlens batch` shows the corpus report and its numbers."""
    from spinlens.scale import run_batch
    from spinlens.scale.synthetic import write_jsonl
    from spinlens.store import Store

    db = f"sqlite:///{tmp_path / 'corpus.db'}"
    corpus = write_jsonl(tmp_path / "c.jsonl", 24, sentences=4)
    with open(corpus, "a", encoding="utf-8") as f:  # hostile outlet and title names
        f.write(
            '{"text": "They are traitors and liars, all of them.", "source": "<script>alert(1)</script>$x$",'
            ' "title": "<img src=x onerror=alert(2)>", "date": "2024-02-02"}\n'
        )
    run_batch([corpus], Store(db), executor="local")
    with TestClient(create_app(db_url=db, token="t0k", allowed_hosts=["testserver"])) as c:
        assert c.get("/dashboard").status_code == 401
        assert c.get("/dashboard?token=t0k").status_code == 401  # never a token in a URL: sign in instead
        signed_in = c.post(
            "/login", data={"token": "t0k", "next": "/dashboard"}, headers={"Origin": "http://testserver"}
        )
        assert signed_in.status_code == 200 and signed_in.url.path == "/dashboard"
        page = c.get("/dashboard")
        assert page.status_code == 200 and "script-src" not in page.headers["content-security-policy"]
        # the heat map is an inline PNG (data: URL) inside the SVG: the page's policy allows data: images, no more
        policy = dict(
            (part.split()[0], part.split()[1:]) for part in page.headers["content-security-policy"].split(";")
        )
        assert policy["img-src"] == ["data:"] and policy["default-src"] == ["'none'"]
        assert "data:image/png;base64," in page.text
        body = page.text
        assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "<img src=x" not in body
        assert body.count("<svg") == 3  # outlets, months, training comparison
        assert "Patriot Wire" in body
        assert "token=" not in body
        link = re.search(r'href="(/analyses/\d+)"', body)
        assert link, "the densest articles link to their highlighted pages"
        article = c.get(link.group(1))
        assert article.status_code == 200 and 'class="s"' in article.text
        outlets = c.get("/api/stats/outlet", headers={"Authorization": "Bearer t0k"}).json()
        assert {r["outlet"] for r in outlets} >= {"Daily Courier", "Patriot Wire"}
        assert sum(r["documents"] for r in outlets) == 25
        assert c.get("/api/stats/nope", headers={"Authorization": "Bearer t0k"}).status_code == 422


def test_every_json_route_documents_its_response_schema(client):
    """/openapi.json names a model with properties for the success answer of every JSON route (not `{}` or a bare
    object), and a one-line `detail` for its errors."""
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def resolve(schema: dict) -> dict:
        if "$ref" in schema:
            return schemas[schema["$ref"].rsplit("/", 1)[1]]
        if schema.get("type") == "array":
            return resolve(schema.get("items", {}))
        return schema

    checked = 0
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
            if "application/json" not in ok.get("content", {}):
                assert "text/html" in ok.get("content", {}), (method, path)  # the HTML report
                continue
            schema = resolve(ok["content"]["application/json"]["schema"])
            assert schema.get("properties"), f"{method.upper()} {path}: no response schema ({schema})"
            for code, answer in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert resolve(answer["content"]["application/json"]["schema"])["properties"] == {
                        "detail": {"title": "Detail", "type": "string"}
                    }, (method, path, code)
            checked += 1
    assert checked >= 9


def test_history_pages_searches_and_deletes(tmp_path, nlp):
    app = create_app(db_url=f"sqlite:///{tmp_path / 'h.db'}", allowed_hosts=["testserver"], detector=nlp)
    with TestClient(app, headers=XRW) as c:
        texts = [
            f"Report {i}: the council met and the regime lies, {'tiger' if i % 2 else 'zebra'} {i}." for i in range(5)
        ]
        ids = [c.post("/api/analyze", json={"text": t}).json()["id"] for t in texts]
        c.post("/api/analyze", json={"title": "Special 100% title_x", "text": "Nothing to see here."})
        everything = c.get("/api/analyses").json()
        assert len(everything) == 6 and all("propaganda_score" in row for row in everything)
        page1 = c.get("/api/analyses", params={"limit": 2}).json()
        page2 = c.get("/api/analyses", params={"limit": 2, "offset": 2}).json()
        assert [r["id"] for r in page1 + page2] == [r["id"] for r in everything[:4]]
        tigers = c.get("/api/analyses", params={"q": "TIGER"}).json()
        assert sorted(r["id"] for r in tigers) == [ids[1], ids[3]]
        assert [r["title"] for r in c.get("/api/analyses", params={"q": "100% title_"}).json()] == [
            "Special 100% title_x"
        ]
        assert c.get("/api/analyses", params={"q": "100%_"}).json() == []  # % and _ are not wildcards
        # delete: the analysis and its text are gone, a second delete is a 404
        r = c.delete(f"/api/analyses/{ids[1]}")
        assert r.status_code == 200 and r.json() == {"id": ids[1], "deleted": True}
        assert c.get(f"/api/analyses/{ids[1]}").status_code == 404
        assert c.delete(f"/api/analyses/{ids[1]}").status_code == 404
        assert [r["id"] for r in c.get("/api/analyses", params={"q": "tiger"}).json()] == [ids[3]]
        again = c.post("/api/analyze", json={"text": texts[1]}).json()
        assert again["cached"] is False  # analysed anew: nothing of it was kept


def test_delete_is_behind_the_token_and_the_csrf_checks(tmp_path, nlp):
    app = create_app(
        db_url=f"sqlite:///{tmp_path / 'd.db'}", token="s3cret", allowed_hosts=["testserver"], detector=nlp
    )
    auth = {"Authorization": "Bearer s3cret"}
    with TestClient(app) as c:
        analysis_id = c.post("/api/analyze", json={"text": "The regime lies."}, headers=auth).json()["id"]
        assert c.delete(f"/api/analyses/{analysis_id}", headers=XRW).status_code == 401
        assert c.delete(f"/api/analyses/{analysis_id}", headers=auth).status_code == 403  # no custom header
        forged = {**auth, **XRW, "Origin": "http://attacker.example"}
        assert c.delete(f"/api/analyses/{analysis_id}", headers=forged).status_code == 403
        assert c.get(f"/api/analyses/{analysis_id}", headers=auth).status_code == 200
        assert c.delete(f"/api/analyses/{analysis_id}", headers={**auth, **XRW}).status_code == 200


# --- Corrections ------------------------------------------------------------------------------------------------

CORRECTED_TEXT = "They lie about the Kiev regime, as always. Only traitors doubt it."


def _stored_analysis(db_url: str) -> int:
    """An analysis with three known spans, saved as the model made it (indexes 0, 1, 2 in the store's order)."""
    from spinlens.document import Analysis, Document, Span, TechniqueVerdict
    from spinlens.store import Store

    spans = [
        Span(start=5, end=8, technique="Loaded_Language", score=0.8, span_confidence=0.9, technique_confidence=0.9),
        Span(start=19, end=30, technique="Name_Calling,Labeling", score=0.6),
        Span(start=48, end=56, technique="Name_Calling,Labeling", score=0.5),
    ]
    analysis = Analysis(
        document=Document(id="c", text=CORRECTED_TEXT),
        spans=spans,
        techniques=[TechniqueVerdict(technique="Loaded_Language", present=True, probability=0.8)],
        propaganda_score=0.8,
        model="test-model",
        model_version="7",
    )
    return Store(db_url).save(analysis)


def _span_texts(state: dict) -> list[tuple[str, list[str], str]]:
    return [(CORRECTED_TEXT[s["start"] : s["end"]], s["techniques"], s["status"]) for s in state["spans"]]


def test_each_kind_of_correction_is_stored_and_changes_the_corrected_state(db_url, nlp):
    """SQLite and PostgreSQL: accept, reject, relabel, move and add through the API; the store holds each one,
    by "local" (no token), with the analysis, model and version; the model's own spans stay as they were."""
    from spinlens.store import Store

    aid = _stored_analysis(db_url)
    app = create_app(db_url=db_url, allowed_hosts=["testserver"], detector=nlp)
    url = f"/api/analyses/{aid}/corrections"
    with TestClient(app) as c:
        assert c.get(url).json()["corrections"] == []
        assert [s[2] for s in _span_texts(c.get(url).json())] == ["model", "model", "model"]
        made = [
            c.post(url, json=body)
            for body in (
                {"kind": "accept", "span": 0},
                {"kind": "relabel", "span": 1, "techniques": ["Doubt", "Exaggeration,Minimisation"]},
                {"kind": "move", "span": 1, "start": 25, "end": 28},  # "egi": snapped to "regime"
                {"kind": "reject", "span": 2},
                {"kind": "add", "start": 32, "end": 41, "techniques": ["Repetition"]},
            )
        ]
        assert [r.status_code for r in made] == [201] * 5, [r.text for r in made]
        first = made[0].json()
        assert (first["analysis_id"], first["model"], first["model_version"], first["author"]) == (
            aid,
            "test-model",
            "7",
            "local",
        )
        state = c.get(url).json()
        assert [x["kind"] for x in state["corrections"]] == ["accept", "relabel", "move", "reject", "add"]
        assert _span_texts(state) == [
            ("lie", ["Loaded_Language"], "accepted"),
            ("regime", ["Doubt", "Exaggeration,Minimisation"], "relabelled, moved"),
            ("as always", ["Repetition"], "added"),
        ]
        assert [s["technique"] for s in state["model_spans"]] == [
            "Loaded_Language",
            "Name_Calling,Labeling",
            "Name_Calling,Labeling",
        ]
        # an added span is withdrawn by rejecting that addition
        added = made[4].json()["id"]
        assert c.post(url, json={"kind": "reject", "added": added}).status_code == 201
        assert [s[0] for s in _span_texts(c.get(url).json())] == ["lie", "regime"]
        # the analysis shows the corrected state, marked as such; the model's own output is beside it, unchanged
        shown = c.get(f"/api/analyses/{aid}").json()
        assert shown["corrected"] and [s["text"] for s in shown["spans"]] == ["lie", "regime", "regime"]
        assert [s["text"] for s in shown["model_spans"]] == ["lie", "Kiev regime", "traitors"]
    stored = Store(db_url).corrections(aid)
    assert [(x.kind, x.author) for x in stored] == [
        ("accept", "local"),
        ("relabel", "local"),
        ("move", "local"),
        ("reject", "local"),
        ("add", "local"),
        ("reject", "local"),
    ]


def test_corrections_of_no_analysis_are_404_and_ones_that_do_not_fit_are_422(tmp_path, nlp):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    aid = _stored_analysis(db)
    with TestClient(create_app(db_url=db, allowed_hosts=["testserver"], detector=nlp)) as c:
        for r in (
            c.get("/api/analyses/999/corrections"),
            c.post("/api/analyses/999/corrections", json={"kind": "accept", "span": 0}),
        ):
            assert r.status_code == 404 and r.json() == {"detail": "no analysis 999"}
        url = f"/api/analyses/{aid}/corrections"
        for body, message in [
            ({"kind": "accept", "span": 3}, "has 3 spans; there is no span 3"),
            ({"kind": "add", "start": 60, "end": 999, "techniques": ["Doubt"]}, "past the text"),
            ({"kind": "reject", "added": 12345}, "is not a span added"),
            ({"kind": "relabel", "span": 0}, "needs 'techniques'"),
            ({"kind": "add", "start": 0, "end": 4, "techniques": ["Not_A_Technique"]}, "unknown technique"),
            ({"kind": "accept", "span": 0, "surprise": 1}, "surprise"),
            ({"kind": "approve", "span": 0}, "kind"),
        ]:
            r = c.post(url, json=body)
            detail = r.json()["detail"]
            assert r.status_code == 422 and message in detail and "\n" not in detail, (body, r.text)
        assert c.get(url).json()["corrections"] == []  # nothing half-stored


def test_the_author_of_a_correction_is_the_name_of_its_token(tmp_path, nlp):
    """`--token alice=SECRET` names its holder; a plain token is named "token"; the sign-in cookie counts too."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    aid = _stored_analysis(db)
    app = create_app(
        db_url=db,
        token=["alice=s3cret-alice", "bob=s3cret-bob", "plain-s3cret"],
        allowed_hosts=["testserver"],
        detector=nlp,
    )
    url = f"/api/analyses/{aid}/corrections"
    with TestClient(app) as c:
        for secret, name in [("s3cret-alice", "alice"), ("s3cret-bob", "bob"), ("plain-s3cret", "token")]:
            r = c.post(url, json={"kind": "accept", "span": 0}, headers={"Authorization": f"Bearer {secret}"})
            assert r.status_code == 201 and r.json()["author"] == name, r.text
        assert c.post(url, json={"kind": "accept", "span": 0}).status_code == 401
        assert (
            c.post(url, json={"kind": "accept", "span": 0}, headers={"Authorization": "Bearer alice"}).status_code
            == 401
        )
        signed_in = c.post(
            "/login", data={"token": "s3cret-bob"}, headers={"Origin": "http://testserver"}, follow_redirects=False
        )
        assert signed_in.status_code == 303
        r = c.post(url, json={"kind": "reject", "span": 1})  # the cookie alone
        assert r.status_code == 201 and r.json()["author"] == "bob"
        authors = [x["author"] for x in c.get(url).json()["corrections"]]
    assert authors == ["alice", "bob", "token", "bob"]


def test_openapi_documents_the_corrections_api(client):
    spec = client.get("/openapi.json").json()
    ops = spec["paths"]["/api/analyses/{analysis_id}/corrections"]
    assert ops["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CorrectionIn")
    assert ops["post"]["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/Correction")
    assert {"401", "403", "404", "413", "422"} <= set(ops["post"]["responses"])
    assert ops["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/CorrectionsOut")
    kinds = spec["components"]["schemas"]["Kind"]["enum"]
    assert kinds == ["accept", "reject", "relabel", "move", "add"]


def test_serve_takes_a_model_tier_and_the_answer_names_the_model(monkeypatch, tmp_path):
    """`spinlens serve --model TIER` (issue 10): the tier answers and says so; an unknown one stops in one line."""
    from typer.testing import CliRunner

    from spinlens.cli import app as cli
    from spinlens.web import server

    ran = {}
    monkeypatch.setattr(server, "run", lambda app, **kw: ran.update(app=app, **kw))
    result = CliRunner().invoke(cli, ["serve", "--model", "default", "--db", f"sqlite:///{tmp_path}/m.db"])
    assert result.exit_code == 0, result.output
    with TestClient(ran["app"], base_url="http://127.0.0.1") as c:
        r = c.post("/api/analyze", json={"text": "They lie to us every day, the traitors."})
        assert r.status_code == 200 and r.json()["model"] == "ptc-minilm-bilstm" and r.json()["model_version"]
    result = CliRunner().invoke(cli, ["serve", "--model", "no-such-tier"])
    assert result.exit_code == 2 and "no model 'no-such-tier'" in result.output and "Traceback" not in result.output
