"""Reviewing a stored analysis: corrections of its spans, the corrected state, and the "review complete" mark."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool

from spinlens.corrections import Correction, CorrectionIn
from spinlens.errors import InputError
from spinlens.formats.results import analysis_record
from spinlens.review import tables
from spinlens.web.deps import Author, StoreDep, require_token
from spinlens.web.models import CorrectionsOut, Deleted, Problem, ReviewCompleteOut
from spinlens.web.routes.history import MAX_ID, NOT_FOUND, AnalysisId

router = APIRouter(
    prefix="/api/analyses/{analysis_id}",
    tags=["corrections"],
    dependencies=[Depends(require_token)],
    responses={401: {"model": Problem, "description": "No token, or a wrong one"}, **NOT_FOUND},
)
FORGED = {403: {"model": Problem, "description": "A request another site's page could have forged"}}


@router.get("/corrections")
async def corrections(analysis_id: AnalysisId, store: StoreDep) -> CorrectionsOut:
    """Every correction of an analysis, the corrected spans, the rejected ones, the model's spans (which `span`
    indexes), the "review complete" mark, and the corrected article's summary, score and verdicts."""
    reviewed = await run_in_threadpool(tables.load, store, analysis_id)
    if reviewed is None:
        raise HTTPException(404, f"no analysis {analysis_id}")
    record = analysis_record(reviewed.model, reviewed)
    return CorrectionsOut(
        corrections=reviewed.corrections,
        spans=reviewed.spans,
        model_spans=reviewed.model.spans,
        rejected=reviewed.rejected,
        review_complete=reviewed.mark,
        summary=record["summary"],
        propaganda_score=record["propaganda_score"],
        techniques=record["techniques"],
        review=record["review"],
    )


@router.post(
    "/corrections",
    status_code=201,
    responses={
        **FORGED,
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


@router.post("/review-complete", responses=FORGED)
async def mark_review_complete(analysis_id: AnalysisId, store: StoreDep, author: Author) -> ReviewCompleteOut:
    """Mark the analysis's review complete, by the token's holder: "I have looked at every span".

    The model spans nobody has reviewed yet are accepted by them (as a submitted Label Studio task accepts the
    regions left as predicted), and from now on the spans that are not there count as absent: the analysis goes
    into the training exports (`spinlens export --format ptc|spacy`). Marking it again renews the mark. No body;
    send the header 'X-Requested-With: spinlens' (a request another site's page could forge gets 403)."""
    try:
        marks, accepted = await run_in_threadpool(tables.mark_complete, store, [analysis_id], author)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None
    return ReviewCompleteOut(mark=marks[0], accepted=accepted)


@router.delete("/review-complete", responses=FORGED)
async def clear_review_complete(analysis_id: AnalysisId, store: StoreDep, author: Author) -> Deleted:
    """Take the "review complete" mark back (the corrections stay); 404 when the analysis has no such mark."""
    if not await run_in_threadpool(tables.clear_complete, store, analysis_id):
        raise HTTPException(404, f"analysis {analysis_id} has no 'review complete' mark")
    return Deleted(id=analysis_id)
