"""POST /api/analyze, /api/analyze/file and /api/analyze/batch: analyse, store, answer."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from spinlens.document import Analysis, Document
from spinlens.errors import InputError
from spinlens.formats.results import analysis_record
from spinlens.formats.text import decode
from spinlens.narratives.stored import checked_catalogues, replace_narratives
from spinlens.review import tables
from spinlens.review.state import Reviewed
from spinlens.sources import Options, read_upload
from spinlens.store import Store
from spinlens.store.schema import unstorable
from spinlens.textutil import short_title
from spinlens.web.deps import DetectorDep, LanesDep, SettingsDep, StoreDep, require_token
from spinlens.web.lanes import Detector, Lanes
from spinlens.web.models import AnalysisOut, BatchIn, DocumentIn, Problem

ERRORS = {
    code: {"model": Problem, "description": why}
    for code, why in {
        401: "No token, or a wrong one",
        403: "A request another site's page could have forged",
        413: "A body or a document over the limits",
        415: "Not UTF-8 text, or another content type",
        422: "An empty or invalid document",
        503: "The server is busy or shutting down (see Retry-After); short requests wait a few seconds first",
        504: "The analysis took longer than the server's time bound and was stopped",
    }.items()
}
router = APIRouter(prefix="/api/analyze", tags=["analyse"], dependencies=[Depends(require_token)], responses=ERRORS)
TEXT_OR_JSON = {
    "requestBody": {
        "required": True,
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/DocumentIn"}},
        },
    }
}


@router.post("", openapi_extra=TEXT_OR_JSON)
async def analyze(
    request: Request, settings: SettingsDep, store: StoreDep, detector: DetectorDep, lanes: LanesDep
) -> AnalysisOut:
    """Analyse one article: a plain-text body, or JSON with title, text, source, url and date.

    The answer gives the text's `language` (ISO 639-1, detected offline) and `notes` a reader must see: technique
    spans are looked for in English text only, and a text in another language says so (no technique verdicts, a
    null score). When the server matches catalogues of known claims (`spinlens serve --catalogue NAME`), `narratives`
    lists the sentences that repeat one, with the claim and where it was debunked."""
    doc = await _read_document(request)
    _check_sizes([doc], settings.max_chars)
    return (await _analyse_and_store([doc], store, detector, lanes, request))[0]


@router.post("/file")
async def analyze_file(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    detector: DetectorDep,
    lanes: LanesDep,
    file: UploadFile = File(...),  # noqa: B008
) -> AnalysisOut:
    """Analyse an uploaded file holding one article, read as `spinlens analyze` and `spinlens batch` read files
    (`spinlens.sources`): .txt; .html (main text, title, author and date via trafilatura); a one-row .jsonl/.csv; a
    one-entry feed. A file that cannot be read, or is junk, gets 422 with the reader's one-line reason."""
    data = await file.read()  # at most max_body bytes: Guard has counted the request's
    name = file.filename or "upload"
    items = await run_in_threadpool(read_upload, name, data, Options(max_chars=settings.max_chars))
    problems = [f"{item.ref}: {item.error}" for item in items if item.error]
    docs = [item.document for item in items if item.document is not None]
    if problems and "over the limit" in problems[0]:  # said as the other routes say it
        over = problems[0].split(", over the limit")[0]
        raise HTTPException(413, f"{over}; the limit is {settings.max_chars:,} characters")
    if problems or len(docs) != 1:
        raise HTTPException(
            422,
            problems[0]
            if problems
            else f"{name} holds {len(docs)} documents; upload one article (or use /api/analyze/batch)",
        )
    return (await _analyse_and_store(docs, store, detector, lanes, request))[0]


@router.post("/batch")
async def analyze_batch(
    request: Request, batch: BatchIn, settings: SettingsDep, store: StoreDep, detector: DetectorDep, lanes: LanesDep
) -> list[AnalysisOut]:
    """Analyse up to `max_batch` documents in one request."""
    if len(batch.documents) > settings.max_batch:
        raise HTTPException(422, f"{len(batch.documents)} documents; at most {settings.max_batch} per batch")
    docs = [_document(d, i) for i, d in enumerate(batch.documents)]
    _check_sizes(docs, settings.max_chars, settings.max_batch_chars)
    return await _analyse_and_store(docs, store, detector, lanes, request)


def record(analysis_id: int, analysis: Analysis, cached: bool, reviewed: Reviewed | None = None) -> AnalysisOut:
    """The JSON record of the CLI (as people left it, with ``reviewed``), plus the stored id and the full text (the
    page highlights spans in it)."""
    fields = analysis_record(analysis, reviewed)
    fields["document_id"] = fields.pop("id")
    return AnalysisOut(id=analysis_id, cached=cached, **fields, text=analysis.document.text)


async def _analyse_and_store(
    docs: list[Document], store: Store, detector: Detector, lanes: Lanes, request: Request
) -> list[AnalysisOut]:
    """Answers from the store where the same text was analysed by this model; the rest through the lanes (whose
    work stops when the client leaves: the page's Cancel)."""
    results: list[AnalysisOut | None] = [None] * len(docs)
    catalogues = list(getattr(detector, "catalogues", ()))
    todo = []
    for i, d in enumerate(docs):
        if problem := unstorable(d.text):
            raise HTTPException(422, f"document {i}: {problem}")
        found = await run_in_threadpool(store.find, d.fingerprint, detector.name, detector.version)
        if found and not await run_in_threadpool(_unmatched, store, found[0], catalogues):
            # as people left it, if they reviewed it
            reviewed = await run_in_threadpool(tables.load, store, found[0])
            results[i] = record(found[0], found[1], cached=True, reviewed=reviewed)
        else:
            todo.append(i)
    if todo:
        done = await lanes.analyse([docs[i] for i in todo], gone=request.is_disconnected)
        for i, a in zip(todo, done, strict=True):
            analysis_id = await run_in_threadpool(store.save, a)
            reviewed = None
            if catalogues:  # stored before (without this server's catalogues)? its matches and notes brought up to date
                await run_in_threadpool(replace_narratives, store, analysis_id, a, catalogues)
                reviewed = await run_in_threadpool(tables.load, store, analysis_id)  # and people may have reviewed it
            results[i] = record(analysis_id, a, cached=False, reviewed=reviewed)
    return [r for r in results if r is not None]


def _unmatched(store: Store, analysis_id: int, catalogues: list[str]) -> bool:
    """Has this server catalogues that the stored analysis was not matched against?"""
    return bool(catalogues) and not set(catalogues) <= set(checked_catalogues(store, analysis_id))


def _check_sizes(docs: list[Document], max_chars: int, max_batch_chars: int | None = None) -> None:
    """413 for a document over ``max_chars`` characters, or a batch (``max_batch_chars`` given) over its total."""
    for i, d in enumerate(docs):
        if len(d.text) > max_chars:
            where = f"document {i}: " if max_batch_chars is not None else ""
            raise HTTPException(
                413, f"{where}the text is {len(d.text):,} characters; the limit is {max_chars:,} characters"
            )
    total = sum(len(d.text) for d in docs)
    if max_batch_chars is not None and total > max_batch_chars:
        raise HTTPException(
            413, f"the batch totals {total:,} characters; the limit is {max_batch_chars:,} characters per batch"
        )


async def _read_document(request: Request) -> Document:
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
    return Document(id="pasted", text=text, title=short_title(text))  # stored: history and reports show it


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
