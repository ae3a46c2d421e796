"""`spinlens batch --catalogue NAME` on a corpus analysed before: its stored analyses are matched now.

A batch run analyses only documents without an analysis by its model; without this step, adding a catalogue to a
corpus of a million analysed articles would match nothing. Here every stored analysis (of the run's model) not yet
matched against all the chosen catalogues gets its language, notes and matches brought up to date, with progress;
technique spans are not computed again. Interrupted, it goes on where it stopped (what is done is committed in
batches and recorded per analysis in ``analysis_languages.catalogues_json``).
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from spinlens.narratives.stored import AnalysisLanguageRow, replace_narratives
from spinlens.store.db import Store
from spinlens.store.schema import AnalysisRow, DocumentRow, _document

BATCH = 64


def unmatched(store: Store, model: str, version: str, catalogues: list[str]) -> list[int]:
    """Ids of the model's analyses that were not matched against every one of ``catalogues``."""
    wanted = set(catalogues)
    q = (
        select(AnalysisRow.id, AnalysisLanguageRow.catalogues_json)
        .outerjoin(AnalysisLanguageRow, AnalysisLanguageRow.analysis_id == AnalysisRow.id)
        .where(AnalysisRow.model == model, AnalysisRow.model_version == version)
        .order_by(AnalysisRow.id)
    )
    with Session(store.engine) as s:
        return [i for i, done in s.execute(q) if not wanted <= set(json.loads(done or "[]"))]


def match_stored(store: Store, config) -> int:  # type: ignore[no-untyped-def]
    """Match the stored analyses of ``config.model`` that lack ``config.catalogues``; returns how many were."""
    from spinlens.analyzer import load_matchers, narratives_of
    from spinlens.detect.pipeline import detector_notes, model_identity
    from spinlens.progress import progress

    catalogues = list(config.catalogues)
    todo = unmatched(store, *model_identity(config.model), catalogues)
    if not todo:
        return 0
    matchers = load_matchers(catalogues, db=store.url)
    names = list(matchers.names)
    done = 0
    for first in progress(range(0, len(todo), BATCH), "matching earlier analyses", total=-(-len(todo) // BATCH)):
        ids = todo[first : first + BATCH]
        with Session(store.engine) as s:
            rows = s.execute(
                select(AnalysisRow, DocumentRow)
                .join(DocumentRow, AnalysisRow.document_id == DocumentRow.id)
                .where(AnalysisRow.id.in_(ids))
            ).all()
            pairs = [(a.id, _document(d)) for a, d in rows]
        found = narratives_of(matchers, [doc for _, doc in pairs])
        for (analysis_id, _), (notes, language, matches) in zip(pairs, found, strict=True):
            stored = store.get(analysis_id)
            assert stored is not None
            kept = detector_notes(stored.notes)  # reported speech left unmarked: the model's, not redone here
            fresh = stored.model_copy(update={"language": language, "notes": notes + kept, "narratives": matches})
            replace_narratives(store, analysis_id, fresh, names)
            done += 1
    return done
