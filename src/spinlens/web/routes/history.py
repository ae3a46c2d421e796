"""The stored analyses: list (paged, searchable), one, its HTML report, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from spinlens.report import render_analysis
from spinlens.review import tables
from spinlens.web import security
from spinlens.web.deps import StoreDep, require_token
from spinlens.web.models import AnalysisOut, Deleted, HistoryItem, Problem
from spinlens.web.routes.analyze import record

# the largest id the store can hold on every database (SQL INTEGER: 32 bits on PostgreSQL, 64 on SQLite); a larger
# one is a 422 before it reaches the database, where it would overflow (a 500)
MAX_ID = 2**31 - 1
AnalysisId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="The id of a stored analysis")]
router = APIRouter(
    prefix="/api/analyses",
    tags=["history"],
    dependencies=[Depends(require_token)],
    responses={401: {"model": Problem, "description": "No token, or a wrong one"}},
)
NOT_FOUND = {404: {"model": Problem, "description": "No analysis with this id"}}


@router.get("")
async def analyses(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=500, description="How many, most recent first")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="How many to skip")] = 0,
    q: Annotated[
        str | None, Query(max_length=200, description="Only analyses whose title or text contains this")
    ] = None,
) -> list[HistoryItem]:
    """Past analyses, most recent first, without their text; spans and score as people left them."""
    rows = await run_in_threadpool(store.search, q, limit, offset)
    return [HistoryItem(**row) for row in await run_in_threadpool(tables.as_left, store, rows)]


@router.get("/{analysis_id}", responses=NOT_FOUND)
async def analysis(analysis_id: AnalysisId, store: StoreDep) -> AnalysisOut:
    """One stored analysis as people left it: the corrected spans, verdicts and score (``corrected``, each span's
    ``review``), and the model's own (``model_spans``, ``model_propaganda_score``) when they differ."""
    reviewed = await run_in_threadpool(tables.load, store, analysis_id)
    if reviewed is None:
        raise HTTPException(404, f"no analysis {analysis_id}")
    return record(analysis_id, reviewed.model, cached=True, reviewed=reviewed)


@router.delete("/{analysis_id}", responses=NOT_FOUND)
async def delete_analysis(analysis_id: AnalysisId, store: StoreDep) -> Deleted:
    """Delete a stored analysis (and its text, unless another analysis or document refers to it)."""
    if not await run_in_threadpool(store.delete, analysis_id):
        raise HTTPException(404, f"no analysis {analysis_id}")
    return Deleted(id=analysis_id)


@router.get("/{analysis_id}/report", response_class=HTMLResponse, responses=NOT_FOUND)
async def report(analysis_id: AnalysisId, store: StoreDep) -> HTMLResponse:
    """The standalone HTML report of one stored analysis as people left it (corrections shown as such), as a
    download."""
    reviewed = await run_in_threadpool(tables.load, store, analysis_id)
    if reviewed is None:
        raise HTTPException(404, f"no analysis {analysis_id}")
    return HTMLResponse(
        render_analysis(reviewed.model, reviewed),
        headers={
            "Content-Disposition": f'attachment; filename="analysis-{analysis_id}.html"',
            "Content-Security-Policy": security.REPORT_CSP,
        },
    )
