"""Text helpers: titles, names and which phrases are worth listing."""

from __future__ import annotations

import pytest

from spinlens.textutil import is_listable_phrase, names, short_title


@pytest.mark.parametrize("phrase", ["an", "a", "An", "of the", "it's", "--", "—", "x", ".", "", "and, or", "s"])
def test_function_words_and_single_characters_are_not_listed(phrase: str) -> None:
    assert not is_listable_phrase(phrase)


@pytest.mark.parametrize("phrase", ["an outrage", "vile", "puppets of Brussels", "neo-Nazi", "it’s a disgrace", "EU"])
def test_phrases_with_a_content_word_are_listed(phrase: str) -> None:
    assert is_listable_phrase(phrase)


def test_names_skip_a_sentence_s_first_word() -> None:
    text = "Critics say the Kiev regime lies. Brussels and the Bank of England agree."
    assert names(text) == [(16, 20, "Kiev"), (51, 66, "Bank of England")]  # "Critics", "Brussels": first words


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Biden wants meeting with Putin. The Kiev regime is worried.", "Biden wants meeting with Putin."),
        ("\ufeff\n\n  Headline  here \nBody text.", "Headline here"),
        ("Mr. Smith told the U.S. Senate nothing. Then he left.", "Mr. Smith told the U.S. Senate nothing."),
        ("“They lie,” he said. Then he left.", "“They lie,” he said."),
        (
            "The corrupt regime lies to its people every single day and its puppets cheer each lie loudly",
            "The corrupt regime lies to its people every single day and its puppets cheer…",
        ),
        ("A, b, c, " * 20, "A, b, c, A, b, c, A, b, c, A, b, c, A, b, c, A, b, c, A, b, c, A, b, c, A, b…"),
        ("x" * 100, "x" * 100),  # one word is never cut
        ("x" * 100 + " y", "x" * 100 + "…"),
        ("", ""),
        (" \n\t", ""),
    ],
)
def test_a_short_title_is_the_first_sentence_or_80_characters_at_a_word_boundary(text: str, title: str) -> None:
    assert short_title(text) == title
    line = " ".join(text.lstrip("\ufeff").strip().split("\n", 1)[0].split())
    kept = title.removesuffix("…")
    assert line.startswith(kept) and not line[len(kept) : len(kept) + 1].isalnum(), "a prefix, no word cut"
