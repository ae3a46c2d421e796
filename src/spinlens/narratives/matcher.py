"""The matcher: every sentence (the title, pairs of sentences) of a document against a catalogue of known claims.

For one query text (a sentence unit of `detect.units`, or two neighbouring ones):

1. Candidates: the claims nearest by a dense encoder (cosine of L2-normalised vectors, `narratives.encoders`) and
   the claims best by BM25 (`bm25s`, English stemming), the union of both top lists.
2. Each candidate gets a few features (`features`): its cosine, its BM25 score squashed to [0, 1), and both relative
   to the query's best; a linear ranker fitted on CheckThat! 2020 train pairs (`narratives.train`) weighs them into
   one fused score.
3. The fused score only orders one query's candidates (its gaps and ranks are relative). Whether a candidate is a
   match at all is a second logistic regression over its absolute features (`CONFIDENCE`: cosine and shares of
   words in common), fitted on CheckThat! dev pairs and on ordinary news sentences, which match nothing: the
   calibrated confidence. Two thresholds on it say whether the text *states* the claim or only shares its *topic*;
   below the lower one, nothing is reported.

The fitted numbers live in ``model/matcher-<encoder>.json`` with a model card beside them; hand-set ones in `MatchParams`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from spinlens.document import Document, NarrativeMatch
from spinlens.narratives.catalogue import Claim
from spinlens.narratives.encoders import MiniLM, SentenceEncoder, get_encoder, normalise
from spinlens.narratives.gate import StateGate

MODEL_DIR = Path(__file__).resolve().parent / "model"
BM25_SCALE = 10.0  # bm25 / (bm25 + BM25_SCALE): an absolute [0, 1) score, comparable across queries
FEATURES = (
    "cosine",  # the claim's best text's cosine to the query
    "cosine_gap",  # ... minus the best cosine of the catalogue (0 for the nearest claim)
    "bm25",  # BM25 squashed to [0, 1): bm25 / (bm25 + BM25_SCALE)
    "bm25_gap",  # ... minus the catalogue's best
    "bm25_relative",  # bm25 / the catalogue's best bm25
    "cosine_rank",  # 1 / (1 + rank among the candidates by cosine)
    "bm25_rank",  # 1 / (1 + rank by BM25)
    "claim_covered",  # share of the claim's (stemmed, stop-word-free) words that the query has
    "query_covered",  # share of the query's words that the claim has
    "claim_words",  # log(1 + the claim's number of words)
    "claim_covered_idf",  # claim_covered, words weighted by their inverse document frequency in the catalogue
    "query_covered_idf",  # query_covered, likewise
    "rarest_shared",  # the highest idf of a shared word, / 10
)
# what the confidence reads: features that mean the same whatever the other candidates and the catalogue's size
CONFIDENCE = ("cosine", "claim_covered", "query_covered")


@dataclass(frozen=True)
class MatchParams:
    """Hand-set parameters (how many candidates, which units) apart from the fitted ones (`Fitted`)."""

    candidates: int = 20  # from each of dense and BM25 retrieval
    per_unit: int = 3  # at most this many claims reported for one sentence
    windows: bool = True  # also match pairs of neighbouring sentences
    min_chars: int = 12  # shorter units ("Yes.", "Read more") are not matched
    threshold: float | None = None  # report matches from this confidence (None: the fitted "topic" threshold)


@dataclass(frozen=True)
class Fitted:
    """Fitted state, read from ``model/matcher.json``: ranker weights, calibration and thresholds."""

    weights: tuple[float, ...] = (1.0, 0, 0, 0, 0.15, 0, 0, 0, 0, 0, 0, 0, 0)  # zero-shot: cos + 0.15 bm25/best
    calibration: tuple[float, ...] = (12.0, 0.0, 0.0, -8.0)  # sigmoid(weights . CONFIDENCE features + intercept)
    topic: float = 0.5  # confidence from which a match is reported ("topic")
    states: float = 0.8  # confidence from which it "states" the claim
    adapter: np.ndarray | None = None  # (dim, dim): query vectors are mapped by it before the cosine
    card: dict = field(default_factory=dict)

    def adapt(self, vectors: np.ndarray) -> np.ndarray:
        """Query vectors as the ranker was fitted on them (through the adapter, when there is one)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.adapter is None or not len(vectors):
            return vectors
        return normalise(vectors @ self.adapter)

    @classmethod
    def read(cls, encoder: str = "minilm", path: Path | None = None) -> Fitted:
        """The fitted state for an encoder: ``model/matcher-<encoder>.json``; zero-shot weights when it has none
        (the adapter, calibration and thresholds of one encoder mean nothing for another's vectors)."""
        path = path or MODEL_DIR / f"matcher-{encoder}.json"
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        adapter = path.parent / data["adapter"] if data.get("adapter") else None
        return cls(
            adapter=np.load(adapter).astype(np.float32) if adapter else None,
            weights=tuple(data["weights"]),
            calibration=tuple(data["calibration"]),
            topic=data["thresholds"]["topic"],
            states=data["thresholds"]["states"],
            card=data,
        )


@dataclass(frozen=True)
class Entry:
    """One claim of a loaded catalogue."""

    catalogue: str
    claim: Claim


def bm25_tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-case words of two letters or more, English stop words out, Snowball-stemmed (what BM25 indexes)."""
    import bm25s

    stemmer = _stemmer()
    out = bm25s.tokenize(list(texts), stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
    return [list(t) for t in out]


def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def features(cos: np.ndarray, bm25: np.ndarray, query: set[str], claims: list[frozenset[str]], idf) -> np.ndarray:  # type: ignore[no-untyped-def]
    """(n, len(FEATURES)) features of one query's n candidates: their cosines, raw BM25 scores and word sets, the
    query's word set and the catalogue's idf (`Index.idf`). The gaps and ratios are to the best candidate, which
    is the catalogue's best: the candidates hold the top of both lists."""
    squashed = bm25 / (bm25 + BM25_SCALE)
    best_bm25 = max(float(bm25.max(initial=0.0)), 1e-9)
    rank_cos = np.argsort(np.argsort(-cos, kind="stable"), kind="stable")
    rank_bm = np.argsort(np.argsort(-bm25, kind="stable"), kind="stable")
    shared = [query & words for words in claims]
    n_shared = np.array([len(x) for x in shared], dtype=np.float32)
    n_claim = np.array([len(w) for w in claims], dtype=np.float32)
    w_query = max(idf.weight(query), 1e-9)
    w_shared = np.array([idf.weight(x) for x in shared], dtype=np.float32)
    w_claim = np.array([max(idf.weight(w), 1e-9) for w in claims], dtype=np.float32)
    rarest = np.array([max((idf(t) for t in x), default=0.0) for x in shared], dtype=np.float32)
    columns = [
        cos,
        cos - cos.max(initial=-1.0),
        squashed,
        squashed - squashed.max(initial=0.0),
        bm25 / best_bm25,
        1.0 / (1.0 + rank_cos),
        1.0 / (1.0 + rank_bm),
        n_shared / np.maximum(n_claim, 1.0),
        n_shared / max(len(query), 1),
        np.log1p(n_claim),
        w_shared / w_claim,
        w_shared / w_query,
        rarest / 10.0,
    ]
    return np.stack(columns, axis=1).astype(np.float32)


def confidence(rows: np.ndarray, calibration: Sequence[float]) -> np.ndarray:
    """sigmoid(calibration[:-1] . rows[:, CONFIDENCE] + calibration[-1])."""
    x = np.asarray(rows, dtype=np.float64)[:, [FEATURES.index(f) for f in CONFIDENCE]]
    return 1.0 / (1.0 + np.exp(-(x @ np.asarray(calibration[:-1]) + calibration[-1])))


class Idf:
    """Inverse document frequency of stemmed words over a catalogue's claims (BM25's formula)."""

    def __init__(self, documents: list[frozenset[str]]) -> None:
        from collections import Counter

        counts = Counter(t for words in documents for t in words)
        n = len(documents)
        self.unseen = float(np.log(1.0 + (n + 0.5) / 0.5))
        self.values = {t: float(np.log(1.0 + (n - c + 0.5) / (c + 0.5))) for t, c in counts.items()}

    def __call__(self, word: str) -> float:
        return self.values.get(word, self.unseen)

    def weight(self, words: set[str] | frozenset[str]) -> float:
        return sum(self(t) for t in words)


class Index:
    """Claims with their dense vectors and a BM25 index; `search` gives candidates and fused scores."""

    def __init__(self, entries: list[Entry], vectors: np.ndarray, owners: np.ndarray, encoder: SentenceEncoder):
        """``vectors[i]`` is the vector of one indexed text (`Claim.indexed_texts`) of claim ``owners[i]``; every
        claim has at least one. A claim's cosine is its best text's; BM25 reads all its texts as one document."""
        self.entries = entries
        self.vectors = normalise(vectors)
        self.owners = np.asarray(owners, dtype=np.int64)
        self.encoder = encoder

    @cached_property
    def bm25(self):  # type: ignore[no-untyped-def]
        import bm25s

        retriever = bm25s.BM25()
        retriever.index([list(w) for w in self.words_in_order] if self.entries else [[]], show_progress=False)
        return retriever

    @cached_property
    def words_in_order(self) -> list[list[str]]:
        """Each claim's texts together, as BM25 reads them (one document per claim)."""
        return bm25_tokenize([" ".join(e.claim.indexed_texts()) for e in self.entries])

    @cached_property
    def words(self) -> list[frozenset[str]]:
        return [frozenset(w) for w in self.words_in_order]

    @cached_property
    def idf(self) -> Idf:
        return Idf(self.words)

    @cached_property
    def _layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each claim's first text, and (claim, text) of the further ones: a claim's score is its best text's."""
        first = np.full(len(self.entries), -1, dtype=np.int64)
        extra_claim, extra_text = [], []
        for t, c in enumerate(self.owners):
            if first[c] < 0:
                first[c] = t
            else:
                extra_claim.append(c)
                extra_text.append(t)
        return first, np.asarray(extra_claim, np.int64), np.asarray(extra_text, np.int64)

    def _best_of_texts(self, per_text: np.ndarray) -> np.ndarray:
        first, extra_claim, extra_text = self._layout
        if not len(extra_claim) and per_text.shape[1] == len(first) and (first == np.arange(len(first))).all():
            return per_text  # one text per claim, in claim order (a stored catalogue): nothing to choose
        out = per_text[:, first]
        # a claim has at most two texts (`Claim.indexed_texts`), so each claim appears at most once here
        out[:, extra_claim] = np.maximum(out[:, extra_claim], per_text[:, extra_text])
        return out

    def cosines(self, queries: np.ndarray) -> np.ndarray:
        """(n_queries, n_claims): each claim's best cosine over its indexed texts."""
        if not self.entries:
            return np.zeros((len(queries), 0), np.float32)
        return self._best_of_texts(normalise(queries) @ self.vectors.T)

    def bm25_scores(self, queries: Sequence[Sequence[str]]) -> np.ndarray:
        """(n_queries, n_claims): BM25 of each claim's indexed texts together, as one document, for tokenized
        queries (`bm25_tokenize`)."""
        out = np.zeros((len(queries), len(self.entries)), dtype=np.float32)
        if not self.entries:
            return out
        for i, tokens in enumerate(queries):
            if tokens:
                out[i] = self.bm25.get_scores(list(tokens))
        return out

    @cached_property
    def _word_matrix(self) -> tuple[dict[str, int], object, np.ndarray]:
        """Word ids, the claims' word sets as a sparse (vocabulary x claims) 0/1 matrix, and each claim's word count."""
        from scipy.sparse import csr_matrix

        vocab: dict[str, int] = {}
        rows, cols = [], []
        for c, words in enumerate(self.words):
            for w in words:
                rows.append(vocab.setdefault(w, len(vocab)))
                cols.append(c)
        data = np.ones(len(rows), np.float32)
        matrix = csr_matrix((data, (rows, cols)), shape=(max(len(vocab), 1), len(self.entries)))
        return vocab, matrix, np.array([len(w) for w in self.words], np.float32)

    def unit_and_pair_cosines(
        self, units: list[tuple[int, int]], queries: list[tuple[int, int, int, int]], vectors: np.ndarray, fitted
    ) -> np.ndarray:  # type: ignore[no-untyped-def]
        """`cosines` of queries that are units or pairs of units (`_queries`; a pair's vector is the length-weighted
        sum of its units', `_query_vectors`), from one product of the units' vectors with the claims': a pair's dot
        product with a claim text is the weighted sum of its units' (the same numbers, half the work)."""
        if not self.entries:
            return np.zeros((len(queries), 0), np.float32)
        mapped = np.asarray(vectors, np.float32)
        mapped = mapped if fitted.adapter is None else mapped @ fitted.adapter  # `Fitted.adapt` before normalising
        import torch  # the gate's caller has it loaded: its threads are the detector's, not OpenBLAS's own

        dots = (torch.from_numpy(np.ascontiguousarray(mapped)) @ self._torch_vectors.T).numpy()
        lengths = np.array([b - a for a, b in units], np.float32)
        left = np.array([q[2] for q in queries], np.int64)
        right = np.array([q[3] for q in queries], np.int64)
        pair = right >= 0
        summed = mapped[left] * lengths[left, None]
        summed[pair] += mapped[right[pair]] * lengths[right[pair], None]
        norms = np.linalg.norm(summed, axis=1)
        norms = np.where(norms > 0, norms, 1.0)
        out = dots[left] * (lengths[left] / norms)[:, None]
        out[pair] += dots[right[pair]] * (lengths[right[pair]] / norms[pair])[:, None]
        return self._best_of_texts(out)

    @cached_property
    def _torch_vectors(self):  # type: ignore[no-untyped-def]
        import torch

        return torch.from_numpy(np.ascontiguousarray(self.vectors, dtype=np.float32))

    def best_confidence(self, texts: Sequence[str], cosines: np.ndarray, calibration: Sequence[float]) -> np.ndarray:
        """Per query: the highest calibrated confidence (`confidence`) over every claim of the catalogue, computed
        for all claims at once from the queries' `cosines` (n_queries, n_claims) and their shared words (a sparse
        product); what the gate compares."""
        if not self.entries or not len(texts):
            return np.zeros(len(texts))
        from scipy.sparse import csr_matrix

        vocab, matrix, n_claim = self._word_matrix
        tokens = [set(t) for t in bm25_tokenize(texts)]
        rows = [i for i, t in enumerate(tokens) for w in t if w in vocab]
        cols = [vocab[w] for t in tokens for w in t if w in vocab]
        query = csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(texts), matrix.shape[0]))
        w = dict(zip(CONFIDENCE, calibration[:-1], strict=True))
        # z = w_cos * cosine + w_claim * shared / n_claim + w_query * shared / n_query + b: the shared-word terms are
        # added only where a claim shares a word with the query (a sparse product), not over the whole matrix
        z = np.asarray(cosines, np.float32) * np.float32(w["cosine"])
        shared = (query @ matrix).tocoo()
        n_query = np.array([max(len(t), 1) for t in tokens], np.float32)
        z[shared.row, shared.col] += shared.data * (
            np.float32(w["claim_covered"]) / np.maximum(n_claim[shared.col], 1.0)
            + np.float32(w["query_covered"]) / n_query[shared.row]
        )
        return 1.0 / (1.0 + np.exp(-(z.max(axis=1).astype(np.float64) + calibration[-1])))

    def candidates(self, texts: Sequence[str], vectors: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query: the union of the k nearest claims by cosine and the k best by BM25, and their features."""
        if not self.entries or not len(texts):
            return [(np.zeros(0, np.int64), np.zeros((0, len(FEATURES)), np.float32)) for _ in texts]
        tokens = bm25_tokenize(texts)
        cos, bm = self.cosines(vectors), self.bm25_scores(tokens)
        k = min(k, len(self.entries))
        words, idf = self.words, self.idf
        out = []
        for i in range(len(texts)):
            cand = np.union1d(np.argpartition(-cos[i], k - 1)[:k], np.argpartition(-bm[i], k - 1)[:k])
            x = features(cos[i, cand], bm[i, cand], set(tokens[i]), [words[c] for c in cand], idf)
            out.append((cand, x))
        return out

    def search(
        self, texts: Sequence[str], vectors: np.ndarray, fitted: Fitted, k: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query: candidate claim indices, their fused scores and their feature rows, best fused score first."""
        w = np.asarray(fitted.weights, dtype=np.float32)
        results = []
        for cand, x in self.candidates(texts, fitted.adapt(vectors), k):
            fused = x @ w
            order = np.argsort(-fused, kind="stable")
            results.append((cand[order], fused[order], x[order]))
        return results


class Matcher:
    """``Matcher(index).match(document) -> list[NarrativeMatch]``; built once, used for many documents."""

    def __init__(
        self,
        index: Index,
        params: MatchParams | None = None,
        fitted: Fitted | None = None,
        gate: StateGate | None = None,
    ) -> None:
        """``gate``: what decides which sentences get an exact vector (`narratives.gate`); None: all of them."""
        self.index = index
        self.params = params or MatchParams()
        self.fitted = fitted or Fitted.read(index.encoder.name)
        self.gate = gate

    @classmethod
    def from_claims(
        cls,
        claims: Sequence[Claim | tuple[str, Claim]],
        encoder: SentenceEncoder | str = "minilm",
        params: MatchParams | None = None,
    ) -> Matcher:
        """A matcher over claims held in memory (``(catalogue, claim)`` pairs, or claims of a catalogue "custom")."""
        encoder = get_encoder(encoder) if isinstance(encoder, str) else encoder
        entries = [Entry(*c) if isinstance(c, tuple) else Entry("custom", c) for c in claims]
        texts, owners = [], []
        for i, e in enumerate(entries):
            for t in e.claim.indexed_texts():
                texts.append(t)
                owners.append(i)
        vectors = encoder.encode(texts) if texts else np.zeros((0, 384), np.float32)
        gate = StateGate.read() if encoder.name == MiniLM.name else None
        return cls(Index(entries, vectors, np.asarray(owners), encoder), params, gate=gate)

    @property
    def encoder(self) -> SentenceEncoder:
        return self.index.encoder

    def confidence(self, rows: np.ndarray) -> np.ndarray:
        """Calibrated probability that each candidate (a row of FEATURES) is a true match."""
        return confidence(rows, self.fitted.calibration)

    def units(self, document: Document | str) -> list[tuple[int, int]]:
        """The sentence units that are matched (the title is the first unit where the text starts with it)."""
        return self.units_of(document, self.params.min_chars)

    @staticmethod
    def units_of(document: Document | str, min_chars: int = MatchParams.min_chars) -> list[tuple[int, int]]:
        from spinlens.detect.units import sentence_units

        text = document.text if isinstance(document, Document) else document
        return [(a, b) for a, b in sentence_units(text) if _worth_matching(text[a:b], min_chars)]

    def can_reuse(self, encoder) -> bool:  # type: ignore[no-untyped-def]
        """Whether `vectors_from_states` may take this technique encoder's (`detect.encoder.Encoder`) states: the
        same all-MiniLM-L6-v2 weights, run by the same fp32 forward pass, with its last layer among those read. A
        technique encoder with a trained delta (the default tier since version 3: adapters trained for spans) has
        other weights, so its states are not MiniLM's sentence vectors: the matcher encodes the sentences itself."""
        return (
            self.encoder.name == "minilm"
            and getattr(encoder, "kind", None) == "minilm"
            and getattr(encoder, "runtime", None) == "torch"
            and getattr(encoder, "delta", None) is None
            and MiniLM.LAYER in getattr(encoder, "layers", ())
        )

    def vectors_from_states(self, document: Document | str, encoded, layers: tuple[int, ...]) -> np.ndarray:  # type: ignore[no-untyped-def]
        """One vector per unit of `units`, pooled from the technique model's wordpiece states (`detect.encoder.Encoded`
        of the same text, ``layers`` side by side): what `MiniLM.encode` gives for each unit, at no extra cost."""
        text = document.text if isinstance(document, Document) else document
        col = layers.index(MiniLM.LAYER)
        width = encoded.vectors.shape[1] // len(layers)
        block = encoded.vectors[:, col * width : (col + 1) * width]
        starts = encoded.offsets[encoded.units[:, 0], 0] if len(encoded.units) else np.zeros(0, np.int64)
        out = []
        for a, b in self.units(text):
            k = int(np.searchsorted(starts, a))
            inside = k < len(starts) and starts[k] < b
            out.append(MiniLM.pool(block, *encoded.units[k]) if inside else np.zeros(width, np.float32))
        return np.asarray(out, np.float32).reshape(len(out), width)

    def match(
        self,
        document: Document | str,
        unit_vectors: np.ndarray | None = None,
        states=None,  # type: ignore[no-untyped-def]
    ) -> list[NarrativeMatch]:
        """Known claims that the document's sentences (and pairs of sentences) repeat, in text order.

        ``unit_vectors``: one L2-normalised vector per unit of `units`, from the same encoder, when the caller
        has them already (a plain MiniLM technique encoder's states, pooled: `vectors_from_states`). ``states``:
        (`detect.encoder.Encoded`, layers) of the technique encoder, for the gate (`narratives.gate`).
        """
        found = self.match_many(
            [document],
            None if unit_vectors is None else [unit_vectors],
            None if states is None else [states],
        )
        return found[0]

    def match_many(
        self,
        documents: Sequence[Document | str],
        unit_vectors: Sequence[np.ndarray] | None = None,
        states: Sequence | None = None,  # type: ignore[type-arg]
    ) -> list[list[NarrativeMatch]]:
        """`match` for several documents, their sentences encoded in one batch.

        With a gate (and no exact ``unit_vectors``), a query (sentence or pair) is matched only when its approximate
        vector, from ``states`` (per document, or None) or the gate's own encoder, gives a confidence that reaches
        the gate's threshold; only the sentences of such queries are encoded exactly.
        """
        texts = [d.text if isinstance(d, Document) else d for d in documents]
        units = [self.units(d) for d in documents]
        queries = [_queries(us, self.params.windows) for us in units]
        wanted: list[set[int]] = [set(range(len(qs))) for qs in queries]
        if unit_vectors is None and self.gate is not None:
            approx = self.gate.unit_vectors(texts, units, list(states) if states is not None else None)
            for i, (text, us, qs) in enumerate(zip(texts, units, queries, strict=True)):
                wanted[i] = self._gated(text, us, qs, approx[i])
        if unit_vectors is None:
            need = [sorted({u for q in wanted[i] for u in queries[i][q][2:] if u >= 0}) for i in range(len(texts))]
            flat = [texts[i][units[i][u][0] : units[i][u][1]] for i in range(len(texts)) for u in need[i]]
            encoded = self.encoder.encode(flat) if flat else np.zeros((0, 1), np.float32)
            unit_vectors, k = [], 0
            for i, us in enumerate(units):
                vecs = np.zeros((len(us), encoded.shape[1] if len(flat) else 1), np.float32)
                for u in need[i]:
                    vecs[u] = encoded[k]
                    k += 1
                unit_vectors.append(vecs)
        out = []
        for text, us, qs, vecs, keep in zip(texts, units, queries, unit_vectors, wanted, strict=True):
            chosen = [q for i, q in enumerate(qs) if i in keep]
            if not chosen:  # nothing long enough to match ("Yes.", an empty text), or nothing worth it
                out.append([])
                continue
            out.append(self._decide(text, chosen, _query_vectors(us, chosen, vecs)))
        return out

    def _gated(
        self, text: str, units: list[tuple[int, int]], queries: list[tuple[int, int, int, int]], approx: np.ndarray
    ) -> set[int]:
        """The queries whose best approximate confidence (any claim) reaches the gate's threshold."""
        if not queries:
            return set()
        assert self.gate is not None
        cosines = self.index.unit_and_pair_cosines(units, queries, approx, self.fitted)
        best = self.index.best_confidence([text[a:b] for a, b, *_ in queries], cosines, self.fitted.calibration)
        # a pair is worth its two exact vectors only where it looks better than either sentence alone (as `_decide`
        # reports a pair only where it says more than its sentences): else a matching sentence's neighbours would
        # be encoded for nothing
        return {
            q
            for q, (p, (_, _, left, right)) in enumerate(zip(best, queries, strict=True))
            if p >= self.gate.threshold and (right < 0 or p > max(best[left], best[right]))
        }

    def _decide(self, text: str, queries: list[tuple[int, int, int, int]], vectors: np.ndarray) -> list[NarrativeMatch]:
        found = self.index.search([text[a:b] for a, b, *_ in queries], vectors, self.fitted, self.params.candidates)
        floor = self.fitted.topic if self.params.threshold is None else self.params.threshold
        best: dict[tuple[int, int], float] = {}  # (unit, claim) -> confidence, for sentences
        matches: list[NarrativeMatch] = []
        # sentences first: a pair is reported only where it says more than either of its sentences alone
        order = sorted(range(len(queries)), key=lambda q: queries[q][3] >= 0)
        for q in order:
            a, b, left, right = queries[q]
            cand, fused, rows = found[q]
            conf = self.confidence(rows[: self.params.per_unit])
            for c, s, p in zip(cand, fused, conf, strict=False):
                if p < floor:
                    continue
                if right >= 0:
                    if p <= max(best.get((left, int(c)), 0.0), best.get((right, int(c)), 0.0)) + 0.05:
                        continue
                else:
                    best[(left, int(c))] = float(p)
                matches.append(self._match(a, b, int(c), float(s), float(p)))
        matches.sort(key=lambda m: (m.start, -m.confidence, m.end))
        return matches

    def _match(self, start: int, end: int, c: int, score: float, confidence: float) -> NarrativeMatch:
        entry = self.index.entries[c]
        return NarrativeMatch(
            start=start,
            end=end,
            catalogue=entry.catalogue,
            claim_id=entry.claim.id,
            title=entry.claim.title or entry.claim.claim,
            url=entry.claim.url,
            date=entry.claim.date,
            verdict=entry.claim.verdict,
            score=round(score, 4),
            confidence=round(confidence, 4),
            relation="states" if confidence >= self.fitted.states else "topic",
        )


_WORD = re.compile(r"\w+")


def _queries(units: list[tuple[int, int]], windows: bool) -> list[tuple[int, int, int, int]]:
    """(start, end, left unit, right unit or -1): each unit, then each pair of neighbouring units."""
    out = [(a, b, u, -1) for u, (a, b) in enumerate(units)]
    if windows:
        out += [(units[u][0], units[u + 1][1], u, u + 1) for u in range(len(units) - 1)]
    return out


def _query_vectors(
    units: list[tuple[int, int]], queries: list[tuple[int, int, int, int]], vectors: np.ndarray
) -> np.ndarray:
    """A unit's vector, or for a pair the sum of its units' vectors weighted by their lengths (cosine ignores scale)."""
    out = []
    for _, _, left, right in queries:
        v = vectors[left] * (units[left][1] - units[left][0])
        if right >= 0:
            v = v + vectors[right] * (units[right][1] - units[right][0])
        out.append(v)
    return np.asarray(out, np.float32).reshape(len(queries), vectors.shape[1] if vectors.ndim == 2 else 1)


def _worth_matching(text: str, min_chars: int) -> bool:
    return len(text) >= min_chars and len(_WORD.findall(text)) >= 3


class Narratives:
    """Matchers over stored catalogues, loaded once per process and database state."""

    _cache: dict[tuple, Matcher] = {}

    @classmethod
    def load(cls, store, names: Sequence[str], encoder: str = "minilm", params: MatchParams | None = None) -> Matcher:  # type: ignore[no-untyped-def]
        """A matcher over the named catalogues of a `spinlens.store.Store` (or a database URL)."""
        from spinlens.narratives.store import CatalogueStore

        catalogues = CatalogueStore.of(store)
        stamp = catalogues.stamp(names)
        key = (catalogues.url, tuple(names), encoder, params, stamp)
        if key not in cls._cache:
            entries, vectors, owners = catalogues.load(names, get_encoder(encoder))
            gate = StateGate.read() if encoder == MiniLM.name else None
            cls._cache[key] = Matcher(Index(entries, vectors, owners, get_encoder(encoder)), params, gate=gate)
        return cls._cache[key]
