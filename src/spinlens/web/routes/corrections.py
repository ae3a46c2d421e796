"""Corrections of a stored analysis: what people say about its spans, and the corrected state."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool

from spinlens.corrections import Correction, CorrectionIn, corrected_spans
from spinlens.errors import InputError
from spinlens.web.deps import Author, StoreDep, require_token
from spinlens.web.models import CorrectionsOut, Problem
from spinlens.web.routes.history import MAX_ID, NOT_FOUND, AnalysisId

router = APIRouter(
    prefix="/api/analyses/{analysis_id}/corrections",
    tags=["corrections"],
    dependencies=[Depends(require_token)],
    responses={401: {"model": Problem, "description": "No token, or a wrong one"}, **NOT_FOUND},
)


@router.get("")
async def corrections(analysis_id: AnalysisId, store: StoreDep) -> CorrectionsOut:
    """Every correction of an analysis, the corrected spans, and the model's spans (which `span` indexes)."""
    analysis = await run_in_threadpool(store.get, analysis_id)
    if analysis is None:
        raise HTTPException(404, f"no analysis {analysis_id}")
    made = await run_in_threadpool(store.corrections, analysis_id)
    return CorrectionsOut(
        corrections=made,
        spans=corrected_spans(analysis.document.text, analysis.spans, made),
        model_spans=analysis.spans,
    )


@router.post(
    "",
    status_code=201,
    responses={
        403: {"model": Problem, "description": "A request another site's page could have forged"},
        413: {"model": Problem, "description": "A body over the limit"},
        422: {"model": Problem, "description": "A correction that is incomplete or does not fit this analysis"},
    },
)
async def add_correction(
    analysis_id: AnalysisId, correction: CorrectionIn, store: StoreDep, author: Author
) -> Correction:
    """Store one correction (accept, reject, relabel, move or add) of an analysis, by the token's holder ("local"
    without a token). The model's output is never changed; moved and added edges snap to whole words."""
    if await run_in_threadpool(store.get, analysis_id) is None:
        raise HTTPException(404, f"no analysis {analysis_id}")
    if correction.added is not None and correction.added > MAX_ID:  # would overflow the database's INTEGER
        raise HTTPException(422, f"correction {correction.added} is not a span added to analysis {analysis_id}")
    try:
        return await run_in_threadpool(store.add_correction, analysis_id, correction, author)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
