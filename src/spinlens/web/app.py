"""REST API and page. The model is loaded once per process; analyses run one at a time on a worker thread behind a
bounded queue, so that a flood of requests waits instead of exhausting memory, and concurrent requests get the
same answers as serial ones."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError

from spinlens import taxonomy
from spinlens.document import Analysis, Document
from spinlens.errors import InputError, SpinlensError
from spinlens.formats.results import analysis_record
from spinlens.formats.text import decode
from spinlens.report import render_analysis
from spinlens.report.corpus import render_corpus
from spinlens.sources import document_from_html
from spinlens.store import Store, stats
from spinlens.store.db import unstorable

PAGE = Path(__file__).with_name("page.html")


class DocumentIn(BaseModel):
    text: str = Field(min_length=1, description="The article text")
    title: str | None = None
    source: str | None = None
    url: str | None = None
    date: dt.date | dt.datetime | None = None


class BatchIn(BaseModel):
    documents: list[DocumentIn]


def create_app(
    db_url: str | None = None,
    token: str | None = None,
    max_body: int = 2_000_000,
    max_batch: int = 20,
    max_pending: int = 8,
    detector: Any = None,
) -> FastAPI:
    state: dict[str, Any] = {}
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spinlens-analyse")
    lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        import spinlens

        state["nlp"] = detector or spinlens.load().warm_up()
        state["store"] = Store(db_url)
        state["slots"] = asyncio.Semaphore(max_pending)
        yield
        executor.shutdown(wait=False)

    app = FastAPI(
        title="spinlens",
        version="0.1.0",
        lifespan=lifespan,
        description="Find, label and explain propaganda techniques in news.",
    )

    @app.middleware("http")
    async def limit_body(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body:
            return JSONResponse(
                {"detail": f"request body is {int(length):,} bytes; the limit is {max_body:,} bytes"}, status_code=413
            )
        return await call_next(request)

    def authorised(request: Request) -> None:
        if token is not None and request.headers.get("authorization") != f"Bearer {token}":
            raise HTTPException(401, "missing or wrong token: send 'Authorization: Bearer <token>'")

    def authorised_view(request: Request) -> None:
        """Pages opened by a link cannot send a header: they take the token as ``?token=`` too."""
        if token is not None and request.query_params.get("token") != token:
            authorised(request)

    def analyse(docs: list[Document]) -> list[Analysis]:
        with lock:
            return list(state["nlp"].pipe(docs))

    async def analyse_and_store(docs: list[Document]) -> list[dict]:
        store: Store = state["store"]
        nlp = state["nlp"]
        results: list[dict | None] = [None] * len(docs)
        todo = []
        for i, d in enumerate(docs):
            if problem := unstorable(d.text):
                raise HTTPException(422, f"document {i}: {problem}")
            found = store.find(d.fingerprint, nlp.name, nlp.version)
            if found:
                results[i] = _record(found[0], found[1], cached=True)
            else:
                todo.append(i)
        if todo:
            async with state["slots"]:
                loop = asyncio.get_running_loop()
                done = await loop.run_in_executor(executor, analyse, [docs[i] for i in todo])
            for i, a in zip(todo, done, strict=True):
                results[i] = _record(store.save(a), a, cached=False)
        return results  # type: ignore[return-value]

    async def read_document(request: Request) -> Document:
        body = await request.body()
        if len(body) > max_body:
            raise HTTPException(413, f"request body is {len(body):,} bytes; the limit is {max_body:,} bytes")
        kind = request.headers.get("content-type", "text/plain").split(";")[0].strip()
        text = _decode(body)
        if kind == "application/json":
            try:
                doc_in = DocumentIn.model_validate_json(text)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "body"
                raise HTTPException(422, f"{where}: {first['msg']}") from None
            return _document(doc_in)
        if kind != "text/plain":
            raise HTTPException(415, f"send text/plain or application/json, not {kind}")
        if not text.strip():
            raise HTTPException(422, "the text is empty")
        return Document(id="pasted", text=text)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "model": state["nlp"].name, "model_version": state["nlp"].version}

    @app.post("/api/analyze", dependencies=[Depends(authorised)])
    async def analyze(request: Request) -> dict:
        """Analyse one article: a plain-text body, or JSON with title, text, source, url and date."""
        return (await analyse_and_store([await read_document(request)]))[0]

    @app.post("/api/analyze/file", dependencies=[Depends(authorised)])
    async def analyze_file(file: UploadFile = File(...)) -> dict:  # noqa: B008
        """Analyse an uploaded .txt or .html file (for HTML: main text, title, author and date via trafilatura)."""
        data = await file.read()
        if len(data) > max_body:
            raise HTTPException(413, f"file is {len(data):,} bytes; the limit is {max_body:,} bytes")
        text = _decode(data)
        name = file.filename or "upload"
        if name.lower().endswith((".html", ".htm")) or text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
            doc = _from_html(text, name)
        else:
            if not text.strip():
                raise HTTPException(422, f"{name}: the file is empty")
            doc = Document(id=name, text=text, title=None, metadata={"file": name})
        return (await analyse_and_store([doc]))[0]

    @app.post("/api/analyze/batch", dependencies=[Depends(authorised)])
    async def analyze_batch(batch: BatchIn) -> list[dict]:
        """Analyse up to `max_batch` documents in one request."""
        if len(batch.documents) > max_batch:
            raise HTTPException(422, f"{len(batch.documents)} documents; at most {max_batch} per batch")
        return await analyse_and_store([_document(d, i) for i, d in enumerate(batch.documents)])

    @app.get("/api/analyses", dependencies=[Depends(authorised)])
    def analyses(limit: int = 50, offset: int = 0) -> list[dict]:
        return state["store"].list(min(limit, 500), offset)

    @app.get("/api/analyses/{analysis_id}", dependencies=[Depends(authorised)])
    def analysis(analysis_id: int) -> dict:
        a = state["store"].get(analysis_id)
        if a is None:
            raise HTTPException(404, f"no analysis {analysis_id}")
        return _record(analysis_id, a, cached=True)

    @app.get("/api/analyses/{analysis_id}/report", response_class=HTMLResponse, dependencies=[Depends(authorised)])
    def report(analysis_id: int) -> HTMLResponse:
        a = state["store"].get(analysis_id)
        if a is None:
            raise HTTPException(404, f"no analysis {analysis_id}")
        return HTMLResponse(
            render_analysis(a), headers={"Content-Disposition": f'attachment; filename="analysis-{analysis_id}.html"'}
        )

    @app.get("/api/stats/{by}", dependencies=[Depends(authorised)])
    def corpus_stats(by: str, model: str | None = None, model_version: str | None = None) -> list[dict]:
        """Corpus numbers by outlet, month or technique (rates per 1,000 words): what `spinlens stats` prints."""
        if by not in stats.DIMENSIONS:
            raise HTTPException(422, f"by must be one of {sorted(stats.DIMENSIONS)}, not {by!r}")
        store: Store = state["store"]
        try:
            scope = stats.choose_scope(store, model, model_version)
        except SpinlensError as exc:
            raise HTTPException(404, str(exc)) from None
        return stats.DIMENSIONS[by](store, scope)

    @app.get("/dashboard", response_class=HTMLResponse, dependencies=[Depends(authorised_view)])
    def dashboard(request: Request) -> HTMLResponse:
        """The corpus report of `spinlens report`, on the database this server uses."""
        store: Store = state["store"]
        try:
            scope = stats.choose_scope(store)
        except SpinlensError as exc:
            return HTMLResponse(f"<!DOCTYPE html><p>{html.escape(str(exc))}. Analyse a corpus with spinlens batch.</p>")
        suffix = f"?token={request.query_params['token']}" if "token" in request.query_params else ""
        profile = getattr(state["nlp"], "config", {}).get("training_data")
        page = render_corpus(store, scope, profile, lambda i: f"/analyses/{i}{suffix}")
        return HTMLResponse(page, headers={"Content-Security-Policy": _REPORT_CSP})

    @app.get("/analyses/{analysis_id}", response_class=HTMLResponse, dependencies=[Depends(authorised_view)])
    def analysis_page(analysis_id: int) -> HTMLResponse:
        """One stored analysis as its highlighted page."""
        a = state["store"].get(analysis_id)
        if a is None:
            raise HTTPException(404, f"no analysis {analysis_id}")
        return HTMLResponse(render_analysis(a), headers={"Content-Security-Policy": _REPORT_CSP})

    @app.get("/api/techniques")
    def techniques(scheme: str = "ptc14") -> list[dict]:
        try:
            return [t.__dict__ for t in taxonomy.techniques(scheme)]
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(
            PAGE.read_text(encoding="utf-8"),
            headers={
                "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'"
            },
        )

    return app


_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _record(analysis_id: int, analysis: Analysis, cached: bool) -> dict:
    """The JSON record of the CLI, plus the stored id and the full text (the page highlights spans in it)."""
    record = analysis_record(analysis)
    record["document_id"] = record.pop("id")
    return {"id": analysis_id, "cached": cached, **record, "text": analysis.document.text}


def _decode(data: bytes) -> str:
    """The rules of `spinlens.formats.text.decode` (NUL bytes, UTF-8), answered as HTTP 415."""
    try:
        return decode(data, "request body")
    except InputError as exc:
        raise HTTPException(415, exc.reason) from None


def _document(d: DocumentIn, i: int = 0) -> Document:
    if not d.text.strip():
        raise HTTPException(422, f"document {i}: the text is empty")
    return Document(id=str(i), text=d.text, title=d.title, source=d.source, url=d.url, published=d.date)


def _from_html(html_text: str, name: str) -> Document:
    try:
        return document_from_html(html_text, name)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
