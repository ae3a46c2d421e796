"""Health, the techniques and the corpus numbers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

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
    by: str,
    store: StoreDep,
    model: str | None = None,
    model_version: str | None = None,
    since: Annotated[dt.date | None, Query(description="Only articles published on or after this date (UTC)")] = None,
    until: Annotated[dt.date | None, Query(description="... and before this date")] = None,
    compare_days: Annotated[
        int | None,
        Query(
            ge=1,
            le=3660,
            description="By outlet or technique: the last N days (to `until`, else now) against the N before",
        ),
    ] = None,
    min_articles: Annotated[int, Query(ge=0, description="Leave out groups with fewer articles")] = 0,
) -> list[StatsRow]:
    """Corpus numbers by outlet, day, week, month, outlet-day|week|month or technique (rates per 1,000 words with
    their counts and 95% intervals): what `spinlens stats` prints. Each item counts once (its current version)."""
    if by not in stats.DIMENSIONS:
        raise HTTPException(422, f"by must be one of {sorted(stats.DIMENSIONS)}, not {by!r}")
    if since and until and since >= until:
        raise HTTPException(422, f"since ({since}) must come before until ({until})")
    try:
        scope = stats.choose_scope(store, model, model_version).period(since, until)
    except SpinlensError as exc:
        raise HTTPException(404, str(exc)) from None
    try:
        if compare_days:
            rows = stats.compare(store, scope, by, compare_days, scope.until)
        else:
            rows = stats.DIMENSIONS[by](store, scope)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return [StatsRow(**row) for row in rows if row.get("documents", 0) >= min_articles]
