"""Health, the techniques and the corpus numbers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from spinlens import taxonomy
from spinlens.errors import SpinlensError
from spinlens.store import stats
from spinlens.web.deps import DetectorDep, LanesDep, StoreDep, require_token
from spinlens.web.models import Health, Problem, StatsRow, TechniqueInfo

router = APIRouter()


@router.get("/healthz", tags=["meta"])
def healthz(detector: DetectorDep, lanes: LanesDep) -> Health:
    """Up, with its model, how many analyses are admitted (running or waiting), and its measured speed."""
    return Health(
        status="ok",
        model=detector.name,
        model_version=detector.version,
        analyses_pending=lanes.pending,
        chars_per_second=lanes.chars_per_second,
    )


@router.get(
    "/api/techniques",
    tags=["meta"],
    responses={422: {"model": Problem, "description": "Unknown scheme"}},
)
def techniques(scheme: str = "ptc14") -> list[TechniqueInfo]:
    """The techniques of a scheme, with category, definition, example and colour."""
    try:
        return [TechniqueInfo(**t.__dict__) for t in taxonomy.techniques(scheme)]
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get(
    "/api/stats/{by}",
    tags=["corpus"],
    dependencies=[Depends(require_token)],
    response_model_exclude_unset=True,
    responses={
        401: {"model": Problem, "description": "No token, or a wrong one"},
        404: {"model": Problem, "description": "No analyses for this model"},
        422: {"model": Problem, "description": "An unknown dimension"},
    },
)
def corpus_stats(
    by: str, store: StoreDep, model: str | None = None, model_version: str | None = None
) -> list[StatsRow]:
    """Corpus numbers by outlet, month, outlet-month or technique (rates per 1,000 words): what `spinlens stats`
    prints."""
    if by not in stats.DIMENSIONS:
        raise HTTPException(422, f"by must be one of {sorted(stats.DIMENSIONS)}, not {by!r}")
    try:
        scope = stats.choose_scope(store, model, model_version)
    except SpinlensError as exc:
        raise HTTPException(404, str(exc)) from None
    return [StatsRow(**row) for row in stats.DIMENSIONS[by](store, scope)]
