"""REST API and page. The model is loaded once per process; analyses run one at a time on a worker thread behind a
bounded queue, so that a flood of requests waits instead of exhausting memory, and concurrent requests get the
same answers as serial ones.

Security (host names, CSRF, body size, headers) is `spinlens.web.security.Guard`, in front of every route. With a
token, the API takes ``Authorization: Bearer TOKEN`` or the cookie that the pages' sign-in form sets; never a URL."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import html
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope
from swagger_ui_bundle import swagger_ui_path

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
from spinlens.web import security
from spinlens.web.security import SESSION_COOKIE, Guard, login_page, safe_next, session_value, token_ok

PAGE = Path(__file__).with_name("page.html")
# the largest id the store can hold on every database (SQL INTEGER: 32 bits on PostgreSQL, 64 on SQLite); a larger
# one is a 422 before it reaches the database, where it would overflow (a 500)
MAX_ID = 2**31 - 1
AnalysisId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="The id of a stored analysis")]
BATCH_CHARS_FACTOR = 5  # a batch may total this many times max_chars, unless max_batch_chars says otherwise
# /docs is Swagger UI 5 from the swagger-ui-bundle-v2 package (Swagger UI 4, in swagger-ui-bundle, cannot read the
# OpenAPI 3.1 that FastAPI writes), served by this server, so it works without internet. Only the three files the
# page loads are served, not the rest of the package's folder (its demo page among them)
SWAGGER_UI_URL = "/static/swagger-ui"
SWAGGER_UI_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


class _OnlyFiles(StaticFiles):
    """Static files from a folder, limited to the given names (404 for any other path)."""

    def __init__(self, directory: Path, names: Iterable[str]) -> None:
        super().__init__(directory=directory)
        self.names = frozenset(names)

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in self.names:
            raise StarletteHTTPException(404)
        return await super().get_response(path, scope)


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
    *,
    host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    max_chars: int = 200_000,
    max_batch_chars: int | None = None,
) -> FastAPI:
    """The app `spinlens serve` runs.

    ``host`` is the address the server listens on: that name, the loopback names (localhost, 127.0.0.1, ::1) and
    each of ``allowed_hosts`` are the only ``Host`` header names served (400 otherwise). ``max_body`` bytes per
    request (chunked or not), ``max_chars`` characters per document and ``max_batch_chars`` (default
    ``5 * max_chars``) per batch: beyond them the answer is 413."""
    state: dict[str, Any] = {}
    batch_chars = max_batch_chars if max_batch_chars is not None else BATCH_CHARS_FACTOR * max_chars
    page_html = PAGE.read_text(encoding="utf-8")
    page_csp = security.page_csp(_inline_scripts(page_html))
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
        docs_url=None,  # /docs is below, from files this server serves (FastAPI's own loads them from a CDN)
        redoc_url=None,
    )
    app.mount(SWAGGER_UI_URL, _OnlyFiles(Path(str(swagger_ui_path)), SWAGGER_UI_FILES), name="swagger-ui")
    docs_html = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title}: API docs",
        swagger_js_url=f"{SWAGGER_UI_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI_URL}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_UI_URL}/favicon-32x32.png",
        # no badge image from the online validator (validator.swagger.io): nothing from another origin
        swagger_ui_parameters={"validatorUrl": None},
    ).body.decode("utf-8")
    docs_csp = security.docs_csp(_inline_scripts(docs_html))

    app.add_middleware(
        Guard,
        allowed_hosts=security.allowed_host_names(host, allowed_hosts),
        max_body=max_body,
        csp_for=lambda path: docs_csp if path == "/docs" else security.STRICT_CSP,
    )

    @app.exception_handler(RequestValidationError)
    async def one_line_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc.errors())}, status_code=422)

    @app.exception_handler(Exception)
    async def no_traceback(request: Request, exc: Exception) -> JSONResponse:
        """The last resort (the traceback goes to the server's log, never to the user)."""
        response = JSONResponse({"detail": "internal error: see the server's log"}, status_code=500)
        security.add_security_headers(response.headers, security.STRICT_CSP)
        return response

    def signed_in(request: Request) -> bool:
        return token is None or token_ok(request, token)

    def authorised(request: Request) -> None:
        if not signed_in(request):
            raise HTTPException(
                401, "missing or wrong token: send 'Authorization: Bearer <token>' (or sign in on the page)"
            )

    def sign_in_page(request: Request) -> HTMLResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return _login_response(target, status_code=401)

    def check_sizes(docs: list[Document], batch: bool) -> None:
        for i, d in enumerate(docs):
            if len(d.text) > max_chars:
                where = f"document {i}: " if batch else ""
                raise HTTPException(
                    413, f"{where}the text is {len(d.text):,} characters; the limit is {max_chars:,} characters"
                )
        total = sum(len(d.text) for d in docs)
        if batch and total > batch_chars:
            raise HTTPException(
                413, f"the batch totals {total:,} characters; the limit is {batch_chars:,} characters per batch"
            )

    def analyse(docs: list[Document]) -> list[Analysis]:
        with lock:
            return list(state["nlp"].pipe(docs))

    async def analyse_and_store(docs: list[Document], batch: bool = False) -> list[dict]:
        check_sizes(docs, batch)
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
        body = await request.body()  # at most max_body bytes: Guard has counted them
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
        data = await file.read()  # at most max_body bytes: Guard has counted the request's
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
        return await analyse_and_store([_document(d, i) for i, d in enumerate(batch.documents)], batch=True)

    @app.get("/api/analyses", dependencies=[Depends(authorised)])
    def analyses(
        limit: Annotated[int, Query(ge=1, le=500, description="How many, most recent first")] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_ID, description="How many to skip")] = 0,
    ) -> list[dict]:
        return state["store"].list(limit, offset)

    @app.get("/api/analyses/{analysis_id}", dependencies=[Depends(authorised)])
    def analysis(analysis_id: AnalysisId) -> dict:
        a = state["store"].get(analysis_id)
        if a is None:
            raise HTTPException(404, f"no analysis {analysis_id}")
        return _record(analysis_id, a, cached=True)

    @app.get("/api/analyses/{analysis_id}/report", response_class=HTMLResponse, dependencies=[Depends(authorised)])
    def report(analysis_id: AnalysisId) -> HTMLResponse:
        a = state["store"].get(analysis_id)
        if a is None:
            raise HTTPException(404, f"no analysis {analysis_id}")
        return HTMLResponse(
            render_analysis(a),
            headers={
                "Content-Disposition": f'attachment; filename="analysis-{analysis_id}.html"',
                "Content-Security-Policy": security.REPORT_CSP,
            },
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

    @app.get("/dashboard", response_class=HTMLResponse)
    def dashboard(request: Request) -> HTMLResponse:
        """The corpus report of `spinlens report`, on the database this server uses."""
        if not signed_in(request):
            return sign_in_page(request)
        store: Store = state["store"]
        try:
            scope = stats.choose_scope(store)
        except SpinlensError as exc:
            return HTMLResponse(
                f"<!DOCTYPE html><p>{html.escape(str(exc))}. Analyse a corpus with spinlens batch.</p>",
                headers={"Content-Security-Policy": security.REPORT_CSP},
            )
        profile = getattr(state["nlp"], "config", {}).get("training_data")
        page = render_corpus(store, scope, profile, lambda i: f"/analyses/{i}")
        return HTMLResponse(page, headers={"Content-Security-Policy": security.DASHBOARD_CSP})

    @app.get("/analyses/{analysis_id}", response_class=HTMLResponse)
    def analysis_page(request: Request, analysis_id: AnalysisId) -> HTMLResponse:
        """One stored analysis as its highlighted page."""
        if not signed_in(request):
            return sign_in_page(request)
        a = state["store"].get(analysis_id)
        if a is None:
            raise HTTPException(404, f"no analysis {analysis_id}")
        return HTMLResponse(render_analysis(a), headers={"Content-Security-Policy": security.REPORT_CSP})

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(next_path: Annotated[str, Query(alias="next")] = "/") -> HTMLResponse:
        return _login_response(next_path)

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    def login(
        request: Request,
        token_given: Annotated[str, Form(alias="token")] = "",
        next_path: Annotated[str, Form(alias="next")] = "/",
    ) -> Response:
        """The pages' sign-in form (CSRF-checked by Guard): the right token sets an HttpOnly SameSite=Strict cookie."""
        if token is None:
            return RedirectResponse(safe_next(next_path), status_code=303)
        if not hmac.compare_digest(token_given.encode("utf-8"), token.encode("utf-8")):
            return _login_response(next_path, "Wrong token.", status_code=401)
        response = RedirectResponse(safe_next(next_path), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session_value(token),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @app.get("/api/techniques")
    def techniques(scheme: str = "ptc14") -> list[dict]:
        try:
            return [t.__dict__ for t in taxonomy.techniques(scheme)]
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI for this API, its files served by this server."""
        return HTMLResponse(docs_html, headers={"Content-Security-Policy": docs_csp})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request) -> HTMLResponse:
        if not signed_in(request):
            return sign_in_page(request)
        return HTMLResponse(page_html, headers={"Content-Security-Policy": page_csp})

    return app


def _login_response(next_path: str, message: str = "", status_code: int = 200) -> HTMLResponse:
    """The sign-in form, under its own Content-Security-Policy (it posts to this server only)."""
    return HTMLResponse(
        login_page(next_path, message), status_code=status_code, headers={"Content-Security-Policy": security.LOGIN_CSP}
    )


def _inline_scripts(page: str) -> list[str]:
    """The text of each inline <script> of a page (what its Content-Security-Policy allows by hash)."""
    return re.findall(r"<script>(.*?)</script>", page, flags=re.S)


def _validation_detail(errors: Iterable[Any]) -> str:
    """FastAPI's list of validation errors as one line: where and what, for the first; how many more."""
    errors = list(errors)
    if not errors:
        return "invalid request"
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ())]
    if loc and loc[0] in ("query", "path", "body", "header", "cookie"):
        loc = loc[1:]
    where = ".".join(loc) or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return " ".join(f"{where}: {first.get('msg', 'invalid')}{more}".split())


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
