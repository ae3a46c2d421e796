"""Language detection (`spinlens.language`): English is never refused, other languages are named, mixed texts split.

The headlines below were written for these tests (translations of typical disinformation headlines); the English
ones are PTC-style titles. No model is loaded but py3langid's (a second to load).
"""

from __future__ import annotations

import pytest

from spinlens import language

ENGLISH_SHORT = [
    "Wait!",
    "Shock!",
    "The Cunning CIA",
    "Spygate Coverup?",
    "Et Tu, Benedict?",
    "US bloggers banned from entering UK",
    "Did Saint Francis Predict Pope Francis?",
    "No Justice for Kate Steinle",
    "La Stampa’s Robert Fastiggi Replies to Chris Ferrara",
    "Congo confirms 2 Ebola cases, declares outbreak",
    "Ramadan Jihad 2018 Death Toll So Far Is 218",
    "They lie, as always.",
]

FOREIGN = [
    ("ru", "Байден хочет встречи с Путиным ради сохранения киевского режима"),
    ("ru", "Запад скрывает правду"),  # py3langid alone: Belarusian
    ("ru", "Шок! Майданная Украина — марионетка Вашингтона"),
    ("uk", "Західні медіа приховують правду"),
    ("uk", "Санкції проти Росії провалилися"),
    ("bg", "Западните медии крият истината"),
    ("ar", "وسائل الإعلام الغربية تخفي الحقيقة"),
    ("fr", "L'OTAN prépare une guerre en Europe de l'Est"),
    ("de", "Die Regierung belügt die Bürger über Impfstoffe"),
    ("pl", "Zachodnie media ukrywają prawdę"),
    ("it", "I media occidentali nascondono la verità"),
    ("es", "El gobierno miente a los ciudadanos sobre las vacunas"),
]


@pytest.mark.parametrize("text", ENGLISH_SHORT)
def test_english_one_liners_are_never_refused(text: str) -> None:
    guess = language.detect(text)
    assert guess.english and guess.language == "en", guess
    assert not any("English-only" in n for n in guess.notes())


@pytest.mark.parametrize(("code", "text"), FOREIGN)
def test_other_languages_are_named_and_refused(code: str, text: str) -> None:
    guess = language.detect(text)
    assert not guess.english
    assert guess.language == code
    assert guess.notes() == [
        f"technique spans are English-only; this text is {language.name(code)}: no technique analysis was run"
    ]


def test_a_short_foreign_headline_let_through_says_it_may_not_be_english() -> None:
    guess = language.detect("Korruptionsskandal in Brüssel")
    assert guess.english and not guess.sure and guess.maybe == "de"
    assert guess.notes() == [
        "this text may be German (de) rather than English (too little text to tell); technique spans were looked "
        "for as in English text"
    ]


def test_a_foreign_paragraph_in_an_english_article_is_found_with_its_offsets() -> None:
    english = (
        "The Kremlin says the West is to blame for everything, and its state media repeat the line every day.\n"
        "Officials in Brussels dismissed the claims as propaganda aimed at audiences at home.\n"
    )
    russian = "Президент России заявил, что киевский режим продолжает обстреливать мирных жителей Донбасса.\n"
    text = english + russian + english
    guess = language.detect(text)
    assert guess.english and guess.language == "en"
    assert [(s.start, s.end, s.language) for s in guess.foreign] == [
        (len(english), len(english) + len(russian) - 1, "ru")
    ]
    assert "1 paragraph(s) of this text (92 characters) are Russian (ru)" in guess.notes()[0]


def test_no_letters_no_language() -> None:
    guess = language.detect("12345 — 67 %")
    assert guess.language is None and guess.english and guess.notes() == []


def test_narrative_note_names_languages_the_multilingual_encoder_lacks() -> None:
    assert (
        language.detect("Санкції проти Росії провалилися")
        .narrative_note()
        .startswith("narrative matches may be missed: Ukrainian (uk) is not among the 16 languages")
    )
    assert language.detect("Санкции против России провалились").narrative_note() is None
    assert "ru" in language.NARRATIVE_LANGUAGES and "uk" not in language.NARRATIVE_LANGUAGES
    assert "bg" not in language.NARRATIVE_LANGUAGES
