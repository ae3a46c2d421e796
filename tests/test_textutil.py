"""Text helpers: titles, names and which phrases are worth listing."""

from __future__ import annotations

import pytest

from spinlens.textutil import is_listable_phrase, names, title_of


def test_title_is_the_first_line() -> None:
    assert title_of("\ufeff\n\n  Headline here  \nBody text.") == "Headline here  "
    assert title_of("x" * 300) == "x" * 120 and title_of("x" * 300, max_len=200) == "x" * 200
    assert title_of("") == "" and title_of(" \n\t") == ""


@pytest.mark.parametrize("phrase", ["an", "a", "An", "of the", "it's", "--", "—", "x", ".", "", "and, or", "s"])
def test_function_words_and_single_characters_are_not_listed(phrase: str) -> None:
    assert not is_listable_phrase(phrase)


@pytest.mark.parametrize("phrase", ["an outrage", "vile", "puppets of Brussels", "neo-Nazi", "it’s a disgrace", "EU"])
def test_phrases_with_a_content_word_are_listed(phrase: str) -> None:
    assert is_listable_phrase(phrase)


def test_names_skip_a_sentence_s_first_word() -> None:
    text = "Critics say the Kiev regime lies. Brussels and the Bank of England agree."
    assert names(text) == [(16, 20, "Kiev"), (51, 66, "Bank of England")]  # "Critics", "Brussels": first words
