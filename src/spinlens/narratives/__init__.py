"""Narratives: which known, debunked claims does a text repeat, and where were they debunked?

Data flows one way: a catalogue file (`catalogue`: CSV, EUvsDisinfo, ClaimReview JSON-LD, JSONL) -> `Claim`s ->
the database with one vector per claim and encoder (`store`) -> a `Matcher` built once from chosen catalogues ->
``matcher.match(document) -> list[NarrativeMatch]`` for every sentence, the title and pairs of sentences.

    from spinlens.narratives import Narratives
    matcher = Narratives.load(store, ["euvsdisinfo"])      # loaded once; cached per process
    matches = matcher.match(document)                       # spinlens.document.NarrativeMatch objects
"""

from spinlens.narratives.catalogue import Claim, read_catalogue
from spinlens.narratives.encoders import ENCODERS, SentenceEncoder, get_encoder
from spinlens.narratives.matcher import Matcher, MatchParams, Narratives

__all__ = [
    "ENCODERS",
    "Claim",
    "MatchParams",
    "Matcher",
    "Narratives",
    "SentenceEncoder",
    "get_encoder",
    "read_catalogue",
]
