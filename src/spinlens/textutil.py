"""Small text helpers shared by statistics and reports: short titles, names, and which phrases are worth listing.

Pure functions on strings: no database, no model. The name heuristics look at capitals only (no parser), so they
suit English-like text and can be wrong in a sentence with several names.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"(?<![\w-])[A-Z][\w'’-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'’-]*)*")
_NOT_NAMES = {"The", "A", "An", "This", "That", "These", "Those", "It", "They", "We", "He", "She", "I", "You", "Our"}
_WORD = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?")  # a word begins and ends with a letter or digit

_FUNCTION_WORDS = """
    a about above after again against all am an and any are as at be because been before being below between both
    but by can could did do does doing down during each either else ever few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just let me might mine more most must
    my myself neither no nor not now of off on once only or other ought our ours ourselves out over own per same
    shall she should so some such than that the their theirs them themselves then there these they this those
    through thus to too under until up upon us very via was we were what when where whether which while who whom
    whose why will with within without would yet you your yours yourself yourselves
    s t d ll m re ve isn't aren't wasn't weren't don't doesn't didn't won't can't couldn't shouldn't wouldn't it's
    i'm you're he's she's we're they're i've you've we've they've i'd you'd he'd she'd we'd they'd i'll you'll
    he'll she'll we'll they'll that's there's what's let's
"""
STOPWORDS = frozenset(_FUNCTION_WORDS.split())
"""English function words (articles, pronouns, prepositions, conjunctions, auxiliaries): never a phrase alone."""


TITLE_CHARS = 80
# a sentence ends at . ! ? or … (closing quotes and brackets after it belong to it) before a space or the end; not
# the dot of an initial or a short abbreviation ("U.S.", "J. Smith", "Mr.", "Dr.")
_SENTENCE_END = re.compile(r"(?<!\b[A-Z])(?<!\b[A-Z][a-z])(?:[.!?…])[\"'”’»)\]]*(?=\s|$)")
_MIN_SENTENCE = 6  # a shorter "sentence" ("No.", "Ex.") is not a title


def short_title(text: str, max_len: int = TITLE_CHARS) -> str:
    """The title shown for a text (or a long title): its first non-blank line's first sentence when that fits in
    ``max_len`` characters, else the line cut at the last word boundary within them, with "…". Never cut inside a
    word: a first word longer than ``max_len`` is kept whole. The page's JavaScript follows the same rule
    (``shortTitle`` in ``spinlens/web/page.html``).

    >>> short_title("Biden wants meeting with Putin. The Kiev regime is worried.")
    'Biden wants meeting with Putin.'
    >>> short_title("The corrupt regime lies to its people every single day and its puppets cheer each lie loudly")
    'The corrupt regime lies to its people every single day and its puppets cheer…'
    """
    line = next((ln for ln in text.lstrip("\ufeff").splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    for m in _SENTENCE_END.finditer(line):
        if m.end() >= _MIN_SENTENCE:
            if m.end() <= max_len:
                line = line[: m.end()]
            break
    if len(line) <= max_len:
        return line
    cut = line.rfind(" ", 0, max_len)  # (the "…" is one more character: the 80 are the text's own)
    if cut <= 0:
        first = line.split(" ", 1)[0]
        return first if len(first) == len(line) else first + "…"
    return line[:cut].rstrip(" ,;:-–—") + "…"


def names(text: str, lo: int = 0, hi: int | None = None) -> list[tuple[int, int, str]]:
    """Capitalised word runs in ``text[lo:hi]`` as (start, end, name); a sentence's first word is dropped (its capital
    says nothing), and so are capitalised pronouns and articles."""
    found = []
    for m in _NAME.finditer(text, lo, len(text) if hi is None else hi):
        start, words = m.start(), m.group(0).split()
        before = text[max(0, start - 10) : start].rstrip()
        if not before or before[-1] in '.!?\n"“:' or start == 0:
            words = words[1:]
        name = " ".join(words)
        if name and name not in _NOT_NAMES:
            found.append((start, m.end(), name))
    return found


def likely_target(text: str, start: int, end: int, window: int = 80) -> str | None:
    """The name a phrase ``text[start:end]`` is aimed at: a capitalised name inside it, else the nearest one in its
    sentence (looking at most ``window`` characters either side).

    A heuristic (no parser): good for "the Kiev regime" -> Kiev, "puppets of Brussels" -> Brussels; it can pick
    the wrong name in a sentence that has several.
    """
    inside = names(text, start, end)
    if inside:
        return inside[0][2]
    lo, hi = max(0, start - window), min(len(text), end + window)
    cut = max(text.rfind(".", lo, start), text.rfind("\n", lo, start))
    sentence_lo = cut + 1 if cut != -1 else lo
    ends = [i for i in (text.find(".", end, hi), text.find("\n", end, hi)) if i != -1]
    sentence_hi = min(ends, default=hi)
    near = [(min(abs(a - end), abs(start - b)), name) for a, b, name in names(text, sentence_lo, sentence_hi)]
    return min(near)[1] if near else None


def is_listable_phrase(phrase: str) -> bool:
    """Whether a phrase says something on its own: it has a word of two or more characters that is not a function
    word ("an", "of the", "a" and "—" do not; "an outrage" does)."""
    return any(len(w) > 1 and w not in STOPWORDS for w in _WORD.findall(phrase.lower().replace("’", "'")))
