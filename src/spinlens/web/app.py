"""REST API and page: `create_app` puts together the routers of `spinlens.web.routes`, the security middleware
and the lanes where analyses run.

The model is loaded once per process. Analyses run on two worker threads (`spinlens.web.lanes`): short texts in
their own lane, a bounded queue, a time bound per analysis, and a stop that takes effect at once on SIGTERM.

Security (host names, CSRF, body size, headers) is `spinlens.web.security.Guard`, in front of every route. With a
token, the API takes ``Authorization: Bearer TOKEN`` or the cookie that the pages' sign-in form sets; never a URL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope
from swagger_ui_bundle import swagger_ui_path

from spinlens.store import Store
from spinlens.web import security
from spinlens.web.deps import Runtime, Settings, runtime_of
from spinlens.web.lanes import Detector, Lanes, Unavailable
from spinlens.web.models import Problem
from spinlens.web.routes import analyze, corrections, history, pages, stats
from spinlens.web.security import Guard

BATCH_CHARS_FACTOR = 5  # a batch may total this many times max_chars, unless max_batch_chars says otherwise
# Only the three files that /docs loads are served, not the rest of the package's folder (its demo page among them)
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


def create_app(
    db_url: str | None = None,
    token: str | Iterable[str] | Mapping[str, str] | None = None,
    max_body: int = 2_000_000,
    max_batch: int = 20,
    max_pending: int = 8,
    detector: Detector | None = None,
    *,
    host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    max_chars: int = 200_000,
    max_batch_chars: int | None = None,
    timeout: float = 60.0,
    short_chars: int = 5_000,
    model: str | None = None,
    max_waiting: int = 64,
    max_wait: float = 10.0,
    catalogues: Sequence[str] = (),
) -> FastAPI:
    """The app `spinlens serve` runs.

    ``token``: the API and the pages need one of these (see `security.parse_tokens`: ``"SECRET"``, named "token",
    ``"NAME=SECRET"``, several of them, or a mapping name -> secret); the name is stored with each correction.
    ``host`` is the address the server listens on: that name, the loopback names (localhost, 127.0.0.1, ::1) and
    each of ``allowed_hosts`` are the only ``Host`` header names served (400 otherwise). ``max_body`` bytes per
    request (chunked or not), ``max_chars`` characters per document and ``max_batch_chars`` (default
    ``5 * max_chars``) per batch: beyond them the answer is 413. At most ``max_pending`` long analyses at once (503
    beyond), each within ``timeout`` seconds (504 beyond); requests under ``short_chars`` characters in all have a
    lane of their own (0: one lane for all), where at most ``max_waiting`` wait, each at most ``max_wait`` seconds
    before it starts (503 beyond). ``model``: a tier ("fast", "default", "accurate") or a model
    directory, loaded at start-up (``detector`` instead gives one already loaded); ``catalogues``: names or files of
    catalogues of known claims that every text is matched against (`spinlens.load`)."""
    settings = Settings(
        tokens=security.parse_tokens(token),
        max_batch=max_batch,
        max_chars=max_chars,
        max_batch_chars=max_batch_chars if max_batch_chars is not None else BATCH_CHARS_FACTOR * max_chars,
    )
    lanes = Lanes(max_pending, timeout, short_chars, max_waiting=max_waiting, max_wait=max_wait)
    runtime = Runtime(settings, lanes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import spinlens

        runtime.detector = detector or spinlens.load(model, catalogues=list(catalogues), db=db_url).warm_up()
        runtime.store = Store(db_url)
        runtime.lanes.start(runtime.detector)
        yield
        runtime.lanes.stop()

    app = FastAPI(
        title="spinlens",
        version="0.1.0",
        lifespan=lifespan,
        description="Find, label and explain propaganda techniques in news.",
        docs_url=None,  # /docs is in `routes.pages`, from files this server serves (FastAPI's own uses a CDN)
        redoc_url=None,
        # what `_one_line_validation_error` answers, rather than FastAPI's list of errors
        responses={422: {"model": Problem, "description": "Invalid input: one line says where and what"}},
    )
    app.state.runtime = runtime
    app.mount(pages.SWAGGER_UI_URL, _OnlyFiles(Path(str(swagger_ui_path)), SWAGGER_UI_FILES), name="swagger-ui")
    app.add_middleware(
        Guard,
        allowed_hosts=security.allowed_host_names(host, allowed_hosts),
        max_body=max_body,
        csp_for=lambda path: pages.DOCS_CSP if path == "/docs" else security.STRICT_CSP,
    )
    app.add_exception_handler(RequestValidationError, _one_line_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Unavailable, _unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _no_traceback)
    for module in (analyze, history, corrections, stats, pages):
        app.include_router(module.router)
    return app


def stop_analyses(app: FastAPI) -> None:
    """Answer the analyses in flight 503 and stop them now (on SIGTERM, before the server waits for requests)."""
    runtime_of(app).lanes.stop()


async def _one_line_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": _validation_detail(exc.errors())}, status_code=422)


async def _unavailable(request: Request, exc: Unavailable) -> JSONResponse:
    """Busy or shutting down (503, with Retry-After), or over the time bound (504)."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)


async def _no_traceback(request: Request, exc: Exception) -> JSONResponse:
    """The last resort (the traceback goes to the server's log, never to the user)."""
    response = JSONResponse({"detail": "internal error: see the server's log"}, status_code=500)
    security.add_security_headers(response.headers, security.STRICT_CSP)
    return response


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
