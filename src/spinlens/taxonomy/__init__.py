"""Technique schemes (PTC-14, SemEval-2021 Task 6, SemEval-2023) and the mappings between them.

>>> from spinlens import taxonomy
>>> taxonomy.get("Loaded_Language").category
'Manipulative Wording'
>>> taxonomy.map_label("Doubt", "ptc14", "semeval2023")
('Casting_Doubt',)
"""

from __future__ import annotations

from dataclasses import dataclass

from spinlens.taxonomy import schemes as _s

SCHEMES = ("ptc14", "semeval2021", "semeval2023")
PTC14: tuple[str, ...] = tuple(_s.PTC14)
SEMEVAL2021: tuple[str, ...] = tuple(_s.SEMEVAL2021)
SEMEVAL2023: tuple[str, ...] = tuple(_s.SEMEVAL2023)
CATEGORIES: dict[str, str] = dict(_s.CATEGORIES)


@dataclass(frozen=True)
class Technique:
    name: str
    scheme: str
    category: str  # the SemEval-2023 category ("" when the technique maps to none)
    definition: str
    example: str
    colour: str


def _category_of(sem2023_names: tuple[str, ...]) -> str:
    cats = sorted({_s.SEMEVAL2023[n][0] for n in sem2023_names})
    return " / ".join(cats)


def _build() -> dict[tuple[str, str], Technique]:
    table: dict[tuple[str, str], Technique] = {}
    for name, (cat, definition, example, colour) in _s.SEMEVAL2023.items():
        table["semeval2023", name] = Technique(name, "semeval2023", cat, definition, example, colour)
    for name, (definition, example, colour) in _s.PTC14.items():
        cat = _category_of(_s.PTC14_TO_SEMEVAL2023[name])
        table["ptc14", name] = Technique(name, "ptc14", cat, definition, example, colour)
    for name, (definition, example, colour) in _s.SEMEVAL2021.items():
        cat = _category_of(_s.SEMEVAL2021_TO_SEMEVAL2023[name])
        table["semeval2021", name] = Technique(name, "semeval2021", cat, definition, example, colour)
    return table


_TABLE = _build()
_MAPS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("ptc14", "semeval2023"): _s.PTC14_TO_SEMEVAL2023,
    ("semeval2023", "ptc14"): _s.SEMEVAL2023_TO_PTC14,
    ("semeval2021", "ptc14"): _s.SEMEVAL2021_TO_PTC14,
    ("semeval2021", "semeval2023"): _s.SEMEVAL2021_TO_SEMEVAL2023,
}


def techniques(scheme: str = "ptc14") -> list[Technique]:
    """All techniques of a scheme, in the scheme's canonical order."""
    _check_scheme(scheme)
    return [t for (s, _), t in _TABLE.items() if s == scheme]


def get(name: str, scheme: str = "ptc14") -> Technique:
    """Look a technique up by its exact name; raises KeyError naming the valid ones."""
    _check_scheme(scheme)
    try:
        return _TABLE[scheme, name]
    except KeyError:
        valid = ", ".join(t.name for t in techniques(scheme))
        raise KeyError(f"unknown {scheme} technique {name!r}; expected one of: {valid}") from None


def is_technique(name: str, scheme: str = "ptc14") -> bool:
    return (scheme, name) in _TABLE


def map_label(name: str, source: str, target: str) -> tuple[str, ...]:
    """Names in `target` that `name` from `source` may correspond to.

    One name: a one-to-one match. Several: the source merged techniques that the target keeps apart, so the
    label is *one of* them. Empty: the target has no counterpart.
    """
    get(name, source)
    if source == target:
        return (name,)
    if (source, target) not in _MAPS:
        raise ValueError(f"no mapping from {source} to {target}; available: {sorted(_MAPS)}")
    return _MAPS[source, target][name]


def display_name(technique: str) -> str:
    """A technique's name for people: "Whataboutism,Straw_Men,Red_Herring" -> "Whataboutism / Straw Men / Red Herring"."""
    return " / ".join(part.replace("_", " ") for part in technique.split(","))


def explain(technique: str, fragment: str, scheme: str = "ptc14") -> str:
    """A plain-language note for a span: the technique, its category and definition, and the words quoted."""
    t = get(technique, scheme)
    short = fragment if len(fragment) <= 80 else fragment[:77] + "..."
    return f"{technique.replace('_', ' ')} ({t.category}): {t.definition} Here: \u201c{short}\u201d"


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {SCHEMES}")
