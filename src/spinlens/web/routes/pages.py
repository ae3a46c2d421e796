"""The HTML pages: the analyst's page, the corpus dashboard, one highlighted analysis, sign-in, and /docs."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from spinlens.errors import SpinlensError
from spinlens.report import render_analysis
from spinlens.report.corpus import render_corpus
from spinlens.review import tables
from spinlens.store import stats
from spinlens.web import security
from spinlens.web.deps import DetectorDep, SettingsDep, SignedIn, StoreDep
from spinlens.web.routes.history import AnalysisId
from spinlens.web.security import SESSION_COOKIE, login_page, safe_next, session_value, token_named

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

PAGE_HTML = Path(__file__).resolve().parent.parent.joinpath("page.html").read_text(encoding="utf-8")
# /docs is Swagger UI 5 from the swagger-ui-bundle-v2 package (Swagger UI 4, in swagger-ui-bundle, cannot read the
# OpenAPI 3.1 that FastAPI writes), served by this server, so it works without internet (see `spinlens.web.app`)
SWAGGER_UI_URL = "/static/swagger-ui"
DOCS_HTML = get_swagger_ui_html(
    openapi_url="/openapi.json",
    title="spinlens: API docs",
    swagger_js_url=f"{SWAGGER_UI_URL}/swagger-ui-bundle.js",
    swagger_css_url=f"{SWAGGER_UI_URL}/swagger-ui.css",
    swagger_favicon_url=f"{SWAGGER_UI_URL}/favicon-32x32.png",
    # no badge image from the online validator (validator.swagger.io): nothing from another origin
    swagger_ui_parameters={"validatorUrl": None},
).body.decode("utf-8")


def inline_scripts(page: str) -> list[str]:
    """The text of each inline <script> of a page (what its Content-Security-Policy allows by hash)."""
    return re.findall(r"<script>(.*?)</script>", page, flags=re.S)


PAGE_CSP = security.page_csp(inline_scripts(PAGE_HTML))
DOCS_CSP = security.docs_csp(inline_scripts(DOCS_HTML))
# the bar above the dashboard and the highlighted articles: back to the app (constant HTML, no user data)
NAV = (
    '<nav id="spinlens-nav" style="font:14px system-ui,sans-serif;background:#1d3557;padding:.5rem 1rem;'
    'margin:0 0 1rem"><a href="/" id="nav-app" style="color:#fff">spinlens: analyse an article</a> '
    '<span style="color:#fff">·</span> <a href="/#history" style="color:#fff">History</a> '
    '<span style="color:#fff">·</span> <a href="/dashboard" id="nav-dashboard" style="color:#fff">'
    "Corpus dashboard</a></nav>"
)


VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


def with_nav(page: str) -> str:
    """The page with `NAV` at the top of its body (and a viewport, for phones, where it has none)."""
    body = page.find("<body")
    end = page.find(">", body) + 1 if body >= 0 else 0
    page = page[:end] + NAV + page[end:]
    if 'name="viewport"' not in page[: max(0, body)]:
        page = page.replace("<body", VIEWPORT + "<body", 1) if body >= 0 else VIEWPORT + page
    return page


def login_response(next_path: str, message: str = "", status_code: int = 200) -> HTMLResponse:
    """The sign-in form, under its own Content-Security-Policy (it posts to this server only)."""
    return HTMLResponse(
        login_page(next_path, message), status_code=status_code, headers={"Content-Security-Policy": security.LOGIN_CSP}
    )


def _sign_in_first(request: Request) -> HTMLResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return login_response(target, status_code=401)


@router.get("/")
def page(request: Request, signed_in: SignedIn) -> HTMLResponse:
    if not signed_in:
        return _sign_in_first(request)
    return HTMLResponse(PAGE_HTML, headers={"Content-Security-Policy": PAGE_CSP})


@router.get("/dashboard")
def dashboard(request: Request, signed_in: SignedIn, store: StoreDep, detector: DetectorDep) -> HTMLResponse:
    """The corpus report of `spinlens report`, on the database this server uses."""
    if not signed_in:
        return _sign_in_first(request)
    try:
        scope = stats.choose_scope(store)
    except SpinlensError as exc:
        return HTMLResponse(
            with_nav(f"<!DOCTYPE html><body><p>{html.escape(str(exc))}. Analyse a corpus with spinlens batch.</p>"),
            headers={"Content-Security-Policy": security.REPORT_CSP},
        )
    report = render_corpus(store, scope, _training_profile(detector), lambda i: f"/analyses/{i}")
    return HTMLResponse(with_nav(report), headers={"Content-Security-Policy": security.DASHBOARD_CSP})


def _training_profile(detector: object) -> dict | None:
    """The model's description of its training data (the dashboard compares the corpus with it), if it has one."""
    config = getattr(detector, "config", None)
    profile = config.get("training_data") if isinstance(config, dict) else getattr(config, "training_data", None)
    return profile if isinstance(profile, dict) else None


@router.get("/analyses/{analysis_id}")
async def analysis_page(
    request: Request, analysis_id: AnalysisId, signed_in: SignedIn, store: StoreDep
) -> HTMLResponse:
    """One stored analysis as its highlighted page, as people left it."""
    if not signed_in:
        return _sign_in_first(request)
    reviewed = await run_in_threadpool(tables.load, store, analysis_id)
    if reviewed is None:
        raise HTTPException(404, f"no analysis {analysis_id}")
    page = render_analysis(reviewed.model, reviewed)
    return HTMLResponse(with_nav(page), headers={"Content-Security-Policy": security.REPORT_CSP})


@router.get("/login")
def login_form(next_path: Annotated[str, Query(alias="next")] = "/") -> HTMLResponse:
    return login_response(next_path)


@router.post("/login")
def login(
    request: Request,
    settings: SettingsDep,
    token_given: Annotated[str, Form(alias="token")] = "",
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """The pages' sign-in form (CSRF-checked by Guard): a right token sets an HttpOnly SameSite=Strict cookie."""
    if not settings.tokens:
        return RedirectResponse(safe_next(next_path), status_code=303)
    holder = token_named(settings.tokens, token_given)
    if holder is None:
        return login_response(next_path, "Wrong token.", status_code=401)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(settings.tokens[holder]),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.get("/docs")
def docs() -> HTMLResponse:
    """Swagger UI for this API, its files served by this server."""
    return HTMLResponse(DOCS_HTML, headers={"Content-Security-Policy": DOCS_CSP})
