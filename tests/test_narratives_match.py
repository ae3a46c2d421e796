"""Matching sentences against a small catalogue with the real MiniLM encoder, BM25 and the shipped fitted matcher:
a paraphrase finds its claim, a neutral sentence finds nothing, the answer does not depend on what surrounds the
sentence, and vectors pooled from the technique model's states are the ones the matcher would encode."""

from __future__ import annotations

import numpy as np
import pytest

from spinlens.document import Document, NarrativeMatch
from spinlens.narratives import Claim, Matcher, Narratives
from spinlens.narratives.catalogue import ReadResult

CLAIMS = [
    Claim(
        id="biolabs",
        claim="The United States runs secret biological weapons laboratories in Ukraine",
        url="https://example.org/biolabs",
        date="2022-03-10",
        verdict="False",
    ),
    Claim(id="chips", claim="COVID-19 vaccines contain microchips to track people", url="https://example.org/chips"),
    Claim(id="maidan", claim="The Maidan protests in Kyiv were a coup organised by Western intelligence services"),
    Claim(id="nato", claim="NATO promised Russia never to expand eastwards"),
    Claim(id="sanctions", claim="Sanctions against Russia hurt Europe more than they hurt Russia"),
    Claim(id="hoax", claim="Climate change is a hoax invented by scientists to get grants"),
]
PARAPHRASE = "Washington has been secretly running labs in Ukraine that develop biological weapons."
NEUTRAL = "The city council approved a new budget for public libraries on Tuesday evening."


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.from_claims(CLAIMS)


def test_a_paraphrase_finds_its_claim_and_a_neutral_sentence_nothing(matcher: Matcher) -> None:
    (top, *_) = matcher.match(PARAPHRASE)
    assert isinstance(top, NarrativeMatch)
    assert (top.claim_id, top.start, top.end) == ("biolabs", 0, len(PARAPHRASE))
    assert top.url == "https://example.org/biolabs" and top.verdict == "False" and top.date == "2022-03-10"
    assert top.catalogue == "custom" and top.relation in ("states", "topic")
    assert top.confidence >= matcher.fitted.topic
    assert matcher.match(NEUTRAL) == []
    assert matcher.match("Yes.") == [] and matcher.match("") == [], "nothing long enough to match"


def test_the_answer_does_not_depend_on_what_surrounds_the_sentence(matcher: Matcher) -> None:
    alone = matcher.match(PARAPHRASE)
    text = NEUTRAL + "\n" + PARAPHRASE + " " + NEUTRAL.replace("Tuesday", "Monday") + "\n"
    inside = matcher.match(Document(id="page", text=text))
    shift = text.index(PARAPHRASE)
    sentence = [m for m in inside if (m.start, m.end) == (shift, shift + len(PARAPHRASE))]
    assert [(m.claim_id, m.confidence) for m in sentence] == [(m.claim_id, m.confidence) for m in alone]
    assert all(m.start >= shift for m in inside), "the neutral sentence before it matches nothing"


def test_matching_through_the_store(tmp_path) -> None:
    from spinlens.narratives.encoders import get_encoder
    from spinlens.narratives.store import CatalogueStore
    from spinlens.store import Store

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    CatalogueStore(Store(url)).add("mine", ReadResult(claims=CLAIMS), [get_encoder("minilm")])
    matcher = Narratives.load(url, ["mine"])
    assert Narratives.load(url, ["mine"]) is matcher, "loaded once"
    (top, *_) = matcher.match(PARAPHRASE)
    assert (top.catalogue, top.claim_id) == ("mine", "biolabs")


def test_vectors_pooled_from_the_technique_model_are_the_matchers_own(matcher: Matcher) -> None:
    import spinlens
    from spinlens.detect.encoder import Encoder

    # the default tier's encoder carries trained adapters (version 3): its states are not MiniLM's sentence vectors
    assert spinlens.load().encoder.delta is not None and not matcher.can_reuse(spinlens.load().encoder)
    plain = Encoder((3, 6))  # MiniLM as shipped, as a frozen-encoder model runs it
    assert matcher.can_reuse(plain)
    text = "Title line about sanctions\n" + NEUTRAL + " " + PARAPHRASE + "\nOk.\n"
    encoded = plain.encode(text)
    pooled = matcher.vectors_from_states(text, encoded, plain.layers)
    own = matcher.encoder.encode([text[a:b] for a, b in matcher.units(text)])
    assert pooled.shape == own.shape == (3, 384)
    assert np.allclose(pooled, own, atol=1e-4)
    reused, encoded_again = matcher.match(text, pooled), matcher.match(text)
    assert [(m.start, m.end, m.claim_id) for m in reused] == [(m.start, m.end, m.claim_id) for m in encoded_again]
    assert np.allclose([m.confidence for m in reused], [m.confidence for m in encoded_again], atol=1e-3)


def test_the_gate_reads_the_default_tiers_states_and_encodes_only_what_could_match(matcher: Matcher) -> None:
    """The default tier's states (adapters trained for spans) decide which sentences get MiniLM's exact vector: the
    paraphrase does, the neutral sentences do not, and what is reported is what the matcher without a gate reports."""
    import spinlens

    assert matcher.gate is not None, "a gate is shipped for the default tier (narratives/model/gate-minilm.json)"
    tier = spinlens.load().encoder
    assert matcher.gate.accepts(tier)
    text = NEUTRAL + "\n" + PARAPHRASE + "\n" + NEUTRAL.replace("Tuesday", "Monday") + "\n"
    encoded_texts: list[str] = []
    own = matcher.encoder.encode

    def counting(texts):  # type: ignore[no-untyped-def]
        encoded_texts.extend(texts)
        return own(texts)

    ungated = Matcher(matcher.index, matcher.params, matcher.fitted, gate=None)
    everything = ungated.match(text)
    matcher.encoder.encode = counting  # type: ignore[method-assign]
    try:
        gated = matcher.match(text, states=(tier.encode(text), tier.layers))
        by_itself = matcher.match(text)  # no states: the gate runs the tier's encoder itself
    finally:
        del matcher.encoder.encode
    assert PARAPHRASE in encoded_texts and NEUTRAL not in encoded_texts, "only the sentence that could match"
    assert [(m.start, m.end, m.claim_id, m.confidence) for m in gated] == [
        (m.start, m.end, m.claim_id, m.confidence) for m in everything
    ]
    assert [(m.start, m.end, m.claim_id, m.confidence) for m in by_itself] == [
        (m.start, m.end, m.claim_id, m.confidence) for m in gated
    ]


def test_a_tiny_gate_training_learns_resumes_and_gives_what_inference_computes(tmp_path) -> None:
    """`narratives.train_gate` end to end on a few texts: the head moves toward MiniLM's vectors, a rerun resumes
    from the saved epoch instead of training again, and the inference path (`StateGate.unit_vectors`, the tier's
    states of a whole text) gives the vectors training computed for the same sentences."""
    from spinlens.narratives import train_gate
    from spinlens.narratives.encoders import get_encoder
    from spinlens.narratives.gate import StateGate

    texts = [PARAPHRASE, NEUTRAL, *(c.claim for c in CLAIMS)]
    tier = train_gate.TierTokens()
    tokens = tier.encode(texts, log=lambda _: None)
    targets = get_encoder("minilm").encode(texts)
    saved = (train_gate.HeadConfig.epochs, train_gate.HeadConfig.batch, train_gate.HeadConfig.warmup)
    train_gate.HeadConfig.epochs, train_gate.HeadConfig.batch, train_gate.HeadConfig.warmup = 3, 4, 1
    log: list[str] = []
    try:
        head = train_gate.train_head(tokens, texts, targets, tmp_path, log=log.append)
        first = [float(line.split("loss ")[1].split(",")[0]) for line in log if "batch 0/" in line]
        assert first[-1] < first[0], log  # it learns
        log.clear()
        again = train_gate.train_head(tokens, texts, targets, tmp_path, log=log.append)
        assert log == ["resumed after epoch 3"], log  # nothing trained again
    finally:
        train_gate.HeadConfig.epochs, train_gate.HeadConfig.batch, train_gate.HeadConfig.warmup = saved
    trained = train_gate.head_vectors(again, tokens, texts)
    assert np.allclose(trained, train_gate.head_vectors(head, tokens, texts), atol=1e-6)
    gate = StateGate(head=again, threshold=0.5, layers=(3, 6), delta_sha256=tier.digest, model=train_gate.MODEL)
    page = "\n".join(texts) + "\n"
    units, start = [], 0
    for t in texts:
        units.append((start, start + len(t)))
        start += len(t) + 1
    (inferred,) = gate.unit_vectors([page], [units], None)
    assert np.allclose(inferred, trained, atol=1e-4)


def test_pair_cosines_from_unit_products_are_the_cosines_of_the_summed_vectors(matcher: Matcher) -> None:
    """The gate scores each pair of sentences from its two sentences' products with the claims (half the work):
    the numbers must be those of the pair's own (length-weighted) vector, claims with two texts included."""
    from spinlens.narratives.matcher import _queries, _query_vectors

    text = "\n".join([PARAPHRASE, NEUTRAL, CLAIMS[3].claim + ".", "Short one here today."]) + "\n"
    units = matcher.units(text)
    queries = _queries(units, True)
    vectors = matcher.encoder.encode([text[a:b] for a, b in units])
    direct = matcher.index.cosines(matcher.fitted.adapt(_query_vectors(units, queries, vectors)))
    derived = matcher.index.unit_and_pair_cosines(units, queries, vectors, matcher.fitted)
    assert len(queries) == 7 and derived.shape == direct.shape
    assert np.allclose(derived, direct, atol=1e-5)
