"""Training examples: PTC articles with their encoder vectors (cached on disk) and per-wordpiece span tags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from spinlens.detect.encoder import Encoded, Encoder
from spinlens.document import Document
from spinlens.evaluate.scorers import merge_spans
from spinlens.formats.ptc import Label
from spinlens.progress import progress

O, B, I = 0, 1, 2  # noqa: E741  (span tags of a wordpiece: outside, first of a span, inside a span)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "spinlens" / "encodings"


@dataclass
class Example:
    document: Document
    encoded: Encoded
    labels: list[Label]

    @property
    def tags(self) -> np.ndarray:
        return span_tags(self.encoded.offsets, [(x.start, x.end) for x in self.labels])


def span_tags(offsets: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """B/I/O tag of each wordpiece: inside when it shares a character with a (merged) span."""
    tags = np.zeros(len(offsets), dtype=np.int64)
    for start, end in merge_spans(spans):
        inside = np.nonzero((offsets[:, 0] < end) & (offsets[:, 1] > start))[0]
        if len(inside):
            tags[inside] = I
            tags[inside[0]] = B
    return tags


def encode_cached(
    documents: list[Document], encoder: Encoder, cache_dir: Path | None = None, batch: int = 8
) -> list[Encoded]:
    """Encode documents, reusing vectors stored under ``cache_dir`` (keyed by text and encoder depth)."""
    cache_dir = cache_dir or default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    # "u": encoded unit by unit (`detect.units`); older caches encoded whole windows and are not reused
    paths = [cache_dir / f"{doc.fingerprint[:32]}-{encoder.cache_key}-u.npz" for doc in documents]
    todo = [i for i, p in enumerate(paths) if not p.exists()]
    for b in progress(range(0, len(todo), batch), "encoding articles", total=(len(todo) + batch - 1) // batch):
        idx = todo[b : b + batch]
        for i, enc in zip(idx, encoder.encode_many([documents[i].text for i in idx]), strict=True):
            tmp = paths[i].with_suffix(".tmp.npz")
            np.savez(tmp, offsets=enc.offsets, vectors=enc.vectors.astype(np.float16), units=enc.units)
            tmp.replace(paths[i])
    out = []
    for p in paths:
        with np.load(p) as z:
            out.append(Encoded(offsets=z["offsets"], vectors=z["vectors"].astype(np.float32), units=z["units"]))
    return out


def build_examples(
    articles: Mapping[str, Document],
    labels: list[Label],
    encoder: Encoder,
    cache_dir: Path | None = None,
) -> list[Example]:
    docs = [articles[k] for k in sorted(articles)]
    by_article: dict[str, list[Label]] = {}
    for lab in labels:
        by_article.setdefault(lab.article_id, []).append(lab)
    encoded = encode_cached(docs, encoder, cache_dir)
    return [Example(d, e, by_article.get(d.id, [])) for d, e in zip(docs, encoded, strict=True)]


def meme_examples(folder: Path, encoder: Encoder, cache_dir: Path | None = None) -> list[Example]:
    """SemEval-2021 Task 6 memes (subtask 2 train + dev) as extra tagger training data, labels mapped to PTC."""
    docs, labels = meme_documents(folder)
    by_doc: dict[str, list[Label]] = {}
    for lab in labels:
        by_doc.setdefault(lab.article_id, []).append(lab)
    encoded = encode_cached(docs, encoder, cache_dir)
    return [Example(doc, enc, by_doc.get(doc.id, [])) for doc, enc in zip(docs, encoded, strict=True)]


def meme_documents(folder: Path) -> tuple[list[Document], list[Label]]:
    """The memes (ids prefixed ``meme-``) and their spans mapped to PTC.

    Spans of techniques PTC does not have (Smears, Glittering generalities, Obfuscation) are dropped: PTC's
    annotators would not have marked them, so they must not teach the tagger that they are spans.
    """
    from spinlens import taxonomy
    from spinlens.formats.semeval2021 import read_semeval2021

    items = []
    for name in ("training_set_task2.txt", "dev_set_task2.txt"):
        if (folder / name).is_file():
            items.extend(read_semeval2021(folder / name))
    docs, labels = [], []
    for doc, spans in items:
        doc = doc.model_copy(update={"id": f"meme-{doc.id}"})
        docs.append(doc)
        for span in spans:
            mapped = taxonomy.map_label(span.technique, "semeval2021", "ptc14")  # type: ignore[union-attr]
            if len(mapped) == 1:
                labels.append(Label(doc.id, span.start, span.end, mapped[0]))  # type: ignore[union-attr]
    return docs, labels


def extra_examples(folder: Path, encoder: Encoder, cache_dir: Path | None = None) -> list[Example]:
    """PTC-format articles and labels from elsewhere (e.g. ``spinlens export --corrections --format ptc``).

    The folder holds ``article<ID>.txt`` files (directly or in ``articles/``) and one or more ``*.labels`` files
    (TC/FLC lines: id, technique, start, end). Ids are prefixed with ``extra-`` so they never meet PTC's.
    """
    from spinlens.errors import InputError
    from spinlens.formats.ptc import read_articles, read_labels

    articles = read_articles(folder / "articles" if (folder / "articles").is_dir() else folder)
    label_paths = sorted(folder.glob("*.labels"))
    if not label_paths:
        raise InputError("no *.labels file beside the articles", folder)
    labels = [lab for path in label_paths for lab in read_labels(path, articles)]
    renamed = {f"extra-{k}": doc.model_copy(update={"id": f"extra-{k}"}) for k, doc in articles.items()}
    moved = [replace(lab, article_id=f"extra-{lab.article_id}") for lab in labels]
    return build_examples(renamed, moved, encoder, cache_dir)
