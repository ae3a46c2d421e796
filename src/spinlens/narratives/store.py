"""Catalogues in the database (SQLite or PostgreSQL), beside the documents and analyses of `spinlens.store.db`.

- ``narrative_catalogues``: one row per named catalogue, with where it came from and whether its last ``add`` ran
  to the end (``complete``).
- ``narrative_claims``: the claims, unique per (catalogue, claim id); claims with the same text are one row whose
  ``duplicates`` lists the other ids.
- ``narrative_vectors``: one vector per (encoder, text), keyed by the text's normalised hash, shared by every claim
  and catalogue with that text. So adding a catalogue again encodes only new or changed texts, and a catalogue
  stored with one encoder gets another's vectors the first time that encoder is asked for.

``add`` commits every `CHUNK` claims with their vectors, so a claim is never stored without them; an interrupted
add keeps what it committed, and running it again goes on from there (stored claims are skipped, not re-encoded).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
    union,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from spinlens.errors import InputError
from spinlens.narratives.catalogue import Claim, ReadResult, text_key
from spinlens.narratives.encoders import SentenceEncoder
from spinlens.store.db import Store
from spinlens.store.schema import Base

CHUNK = 500  # claims per transaction in `add`: 500 MiniLM encodings take ~5 s on 2 cores


class CatalogueRow(Base):
    __tablename__ = "narrative_catalogues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(20), default="")
    complete: Mapped[int] = mapped_column(Integer, default=0)  # 0 while an add runs (or after it was interrupted)
    updated: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ClaimRow(Base):
    __tablename__ = "narrative_claims"
    __table_args__ = (UniqueConstraint("catalogue_id", "id_key", name="one_claim_per_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    catalogue_id: Mapped[int] = mapped_column(ForeignKey("narrative_catalogues.id"), index=True)
    id_key: Mapped[str] = mapped_column(String(64))  # sha256 of the claim's id: ids (URLs) can be long
    claim_json: Mapped[str] = mapped_column(Text)  # the whole `Claim`
    text_key: Mapped[str] = mapped_column(String(64), index=True)  # of the claim's text
    title_key: Mapped[str | None] = mapped_column(String(64), index=True)  # of its title, when that is matched too


class VectorRow(Base):
    __tablename__ = "narrative_vectors"
    __table_args__ = (UniqueConstraint("encoder", "text_key", name="one_vector_per_text"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    encoder: Mapped[str] = mapped_column(String(100))
    text_key: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian


_TABLES = [CatalogueRow.__table__, ClaimRow.__table__, VectorRow.__table__]


@dataclass
class Added:
    """What `CatalogueStore.add` did."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    merged: int = 0  # claims whose text a stored claim already had: listed as that one's duplicates
    removed: int = 0
    encoded: int = 0  # texts encoded (new or changed), per encoder


def _id_key(claim_id: str) -> str:
    return hashlib.sha256(claim_id.encode("utf-8")).hexdigest()


def _keys(claim: Claim) -> tuple[str, str | None]:
    texts = claim.indexed_texts()
    return text_key(texts[0]), (text_key(texts[1]) if len(texts) > 1 else None)


class CatalogueStore:
    """Catalogues of one database: add, list, remove, and load for matching."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine
        self.url = store.url
        Base.metadata.create_all(self.engine, tables=_TABLES)

    @classmethod
    def of(cls, store: Store | str | None) -> CatalogueStore:
        return cls(store if isinstance(store, Store) else Store(store))

    # --- adding ------------------------------------------------------------------------------------------------

    def add(
        self,
        name: str,
        result: ReadResult,
        encoders: Sequence[SentenceEncoder],
        source: str = "",
        fmt: str = "",
        replace: bool = False,
        progress: Callable | None = None,
    ) -> Added:
        """Store the claims of ``result`` in catalogue ``name`` (made if new) with their vectors, CHUNK at a time.

        Claims already stored unchanged are skipped; a changed claim is updated and its new texts encoded. With
        ``replace``, claims of the catalogue that are not in ``result`` are removed. ``progress(iterable, label,
        total)`` wraps the claims (`spinlens.progress.progress`).
        """
        name = _check_name(name)
        now = dt.datetime.now(dt.UTC)
        with Session(self.engine) as s, s.begin():
            row = s.scalar(select(CatalogueRow).where(CatalogueRow.name == name))
            if row is None:
                row = CatalogueRow(name=name, source=source, format=fmt, complete=0, updated=now)
                s.add(row)
                s.flush()
            else:
                row.complete, row.updated, row.source, row.format = 0, now, source or row.source, fmt or row.format
            catalogue_id = row.id
        report = Added(merged=result.merged)
        claims = result.claims
        items = progress(claims, f"catalogue {name}", len(claims)) if progress else claims
        chunk: list[Claim] = []
        for claim in items:
            chunk.append(claim)
            if len(chunk) >= CHUNK:
                self._add_chunk(catalogue_id, chunk, encoders, report)
                chunk = []
        if chunk:
            self._add_chunk(catalogue_id, chunk, encoders, report)
        with Session(self.engine) as s, s.begin():
            if replace:
                keep = {_id_key(c.id) for c in claims}
                stored = s.execute(select(ClaimRow.id, ClaimRow.id_key).where(ClaimRow.catalogue_id == catalogue_id))
                gone = [rid for rid, key in stored if key not in keep]
                for i in range(0, len(gone), 500):
                    s.execute(delete(ClaimRow).where(ClaimRow.id.in_(gone[i : i + 500])))
                report.removed = len(gone)
            row = s.get(CatalogueRow, catalogue_id)
            row.complete, row.updated = 1, dt.datetime.now(dt.UTC)  # type: ignore[union-attr]
            self._drop_orphans(s)
        return report

    def _add_chunk(self, catalogue_id: int, chunk: list[Claim], encoders: Sequence[SentenceEncoder], report: Added):
        keys = [_id_key(c.id) for c in chunk]
        with Session(self.engine) as s, s.begin():
            stored = {
                r.id_key: r
                for r in s.scalars(
                    select(ClaimRow).where(ClaimRow.catalogue_id == catalogue_id, ClaimRow.id_key.in_(keys))
                )
            }
            text_keys = [_keys(c)[0] for c in chunk]
            same_text = {
                r.text_key: r
                for r in s.scalars(
                    select(ClaimRow).where(ClaimRow.catalogue_id == catalogue_id, ClaimRow.text_key.in_(text_keys))
                )
            }
            wanted: dict[str, str] = {}  # text key -> text, of every text these claims match against
            for claim, key in zip(chunk, keys, strict=True):
                tkey, title_key = _keys(claim)
                blob = claim.model_dump_json()
                old = stored.get(key)
                if old is not None and old.claim_json == blob:
                    report.unchanged += 1
                    continue
                twin = same_text.get(tkey)
                if old is None and twin is not None and twin.id_key != key:  # the same claim under another id
                    kept = Claim.model_validate_json(twin.claim_json)
                    if claim.id not in kept.duplicates:
                        kept = kept.model_copy(update={"duplicates": [*kept.duplicates, claim.id, *claim.duplicates]})
                        twin.claim_json = kept.model_dump_json()
                    report.merged += 1
                    continue
                for k, t in zip((tkey, title_key), claim.indexed_texts(), strict=False):
                    wanted[k] = t  # type: ignore[index]
                if old is None:
                    row = ClaimRow(
                        catalogue_id=catalogue_id, id_key=key, claim_json=blob, text_key=tkey, title_key=title_key
                    )
                    s.add(row)
                    same_text[tkey] = row
                    report.new += 1
                else:
                    old.claim_json, old.text_key, old.title_key = blob, tkey, title_key
                    report.changed += 1
            for encoder in encoders:
                report.encoded += self._encode_missing(s, encoder, wanted)

    def _encode_missing(self, s: Session, encoder: SentenceEncoder, texts: dict[str, str]) -> int:
        """Encode and store the texts that have no vector from ``encoder`` yet; how many were encoded."""
        if not texts:
            return 0
        have: set[str] = set()
        keys = list(texts)
        for i in range(0, len(keys), 500):
            have |= set(
                s.scalars(
                    select(VectorRow.text_key).where(
                        VectorRow.encoder == encoder.name, VectorRow.text_key.in_(keys[i : i + 500])
                    )
                )
            )
        missing = [k for k in keys if k not in have]
        if not missing:
            return 0
        vectors = np.asarray(encoder.encode([texts[k] for k in missing]), dtype="<f4")
        s.add_all(
            VectorRow(encoder=encoder.name, text_key=k, vector=v.tobytes())
            for k, v in zip(missing, vectors, strict=True)
        )
        return len(missing)

    def _drop_orphans(self, s: Session) -> None:
        used = union(
            select(ClaimRow.text_key), select(ClaimRow.title_key).where(ClaimRow.title_key.isnot(None))
        ).subquery()
        s.execute(delete(VectorRow).where(VectorRow.text_key.not_in(select(used.c[0]))))

    # --- reading -----------------------------------------------------------------------------------------------

    def names(self) -> list[str]:
        with Session(self.engine) as s:
            return list(s.scalars(select(CatalogueRow.name).order_by(CatalogueRow.name)))

    def list(self) -> list[dict]:
        """One dict per catalogue: name, claims, source, format, updated, complete, encoders with vectors."""
        with Session(self.engine) as s:
            counts = dict(s.execute(select(ClaimRow.catalogue_id, func.count()).group_by(ClaimRow.catalogue_id)).all())
            out = []
            for row in s.scalars(select(CatalogueRow).order_by(CatalogueRow.name)):
                out.append(
                    {
                        "name": row.name,
                        "claims": counts.get(row.id, 0),
                        "source": row.source,
                        "format": row.format,
                        "updated": row.updated.isoformat(timespec="seconds") if row.updated else None,
                        "complete": bool(row.complete),
                    }
                )
            return out

    def claims(self, name: str) -> list[Claim]:
        with Session(self.engine) as s:
            catalogue_id = self._id(s, name)
            rows = s.scalars(
                select(ClaimRow.claim_json).where(ClaimRow.catalogue_id == catalogue_id).order_by(ClaimRow.id)
            )
            return [Claim.model_validate_json(r) for r in rows]

    def stamp(self, names: Sequence[str]) -> tuple:
        """Changes whenever one of the catalogues does: what a loaded matcher is cached by."""
        with Session(self.engine) as s:
            rows = s.execute(
                select(CatalogueRow.name, CatalogueRow.updated, CatalogueRow.complete).where(
                    CatalogueRow.name.in_(list(names))
                )
            ).all()
        return tuple(sorted((n, str(u), c) for n, u, c in rows))

    def load(self, names: Sequence[str], encoder: SentenceEncoder, progress: Callable | None = None):  # type: ignore[no-untyped-def]
        """(entries, vectors, owners) of the named catalogues for `matcher.Index`; texts that have no vector from
        ``encoder`` yet are encoded and stored now."""
        from spinlens.narratives.matcher import Entry

        entries: list[Entry] = []
        keys: list[tuple[str, str]] = []  # (text key, text) of every indexed text, in order
        owners: list[int] = []
        with Session(self.engine) as s:
            for name in names:
                catalogue_id = self._id(s, name)
                for blob in s.scalars(
                    select(ClaimRow.claim_json).where(ClaimRow.catalogue_id == catalogue_id).order_by(ClaimRow.id)
                ):
                    claim = Claim.model_validate_json(blob)
                    for t in claim.indexed_texts():
                        keys.append((text_key(t), t))
                        owners.append(len(entries))
                    entries.append(Entry(name, claim))
        wanted = dict(keys)
        with Session(self.engine) as s, s.begin():
            missing = {k: t for k, t in wanted.items()}
            have = self._vectors(s, encoder.name, list(missing))
            todo = {k: t for k, t in missing.items() if k not in have}
            if todo:
                items = list(todo.items())
                batches = [dict(items[i : i + CHUNK]) for i in range(0, len(items), CHUNK)]
                for batch in progress(batches, f"encoding with {encoder.name}", len(batches)) if progress else batches:
                    self._encode_missing(s, encoder, batch)
                have = self._vectors(s, encoder.name, list(todo)) | have
        dim = next(iter(have.values())).shape[0] if have else 384
        vectors = np.stack([have[k] for k, _ in keys]) if keys else np.zeros((0, dim), np.float32)
        return entries, vectors, np.asarray(owners, dtype=np.int64)

    def _vectors(self, s: Session, encoder: str, keys: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            rows = s.execute(
                select(VectorRow.text_key, VectorRow.vector).where(
                    VectorRow.encoder == encoder, VectorRow.text_key.in_(keys[i : i + 500])
                )
            )
            out.update((k, np.frombuffer(v, dtype="<f4")) for k, v in rows)
        return out

    def _id(self, s: Session, name: str) -> int:
        catalogue_id = s.scalar(select(CatalogueRow.id).where(CatalogueRow.name == name))
        if catalogue_id is None:
            known = ", ".join(self.names()) or "none yet; add one with: spinlens catalogue add NAME FILE"
            raise InputError(f"no catalogue {name!r} in this database (catalogues: {known})")
        return catalogue_id

    # --- removing ----------------------------------------------------------------------------------------------

    def remove(self, name: str) -> int:
        """Remove a catalogue, its claims and the vectors nothing else uses; how many claims went."""
        with Session(self.engine) as s, s.begin():
            catalogue_id = self._id(s, name)
            n = s.execute(delete(ClaimRow).where(ClaimRow.catalogue_id == catalogue_id)).rowcount
            s.execute(delete(CatalogueRow).where(CatalogueRow.id == catalogue_id))
            self._drop_orphans(s)
        return n


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or any(c in name for c in "\x00/\\"):
        raise InputError(f"a catalogue name is 1 to 100 characters without slashes: {name[:120]!r}")
    return name
