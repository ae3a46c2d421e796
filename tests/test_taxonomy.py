import pytest

from spinlens import taxonomy

from .conftest import PTC


def test_scheme_sizes_and_categories():
    assert len(taxonomy.PTC14) == 14
    assert len(taxonomy.SEMEVAL2021) == 20
    assert len(taxonomy.SEMEVAL2023) == 23
    assert len(taxonomy.CATEGORIES) == 6
    counts = {}
    for t in taxonomy.techniques("semeval2023"):
        assert t.category in taxonomy.CATEGORIES
        counts[t.category] = counts.get(t.category, 0) + 1
    assert counts == {
        "Attack on Reputation": 5,
        "Justification": 5,
        "Simplification": 3,
        "Distraction": 3,
        "Call": 3,
        "Manipulative Wording": 4,
    }


@pytest.mark.parametrize("scheme", taxonomy.SCHEMES)
def test_every_technique_has_definition_example_and_colour(scheme):
    for t in taxonomy.techniques(scheme):
        assert len(t.definition) > 20 and t.example and t.colour.startswith("#") and len(t.colour) == 7


def test_ptc_names_match_the_official_file():
    names_file = PTC.parent / "tools" / "data" / "propaganda-techniques-names-semeval2020task11.txt"
    if not names_file.exists():
        pytest.skip(f"{names_file} not found")
    assert names_file.read_text().split() == list(taxonomy.PTC14)


def test_mappings_are_total_and_point_at_real_names():
    for source, target in [
        ("ptc14", "semeval2023"),
        ("semeval2023", "ptc14"),
        ("semeval2021", "ptc14"),
        ("semeval2021", "semeval2023"),
    ]:
        for t in taxonomy.techniques(source):
            for name in taxonomy.map_label(t.name, source, target):
                assert taxonomy.is_technique(name, target), (source, t.name, name)


def test_one_to_many_and_missing_cases_are_explicit():
    assert taxonomy.map_label("Whataboutism,Straw_Men,Red_Herring", "ptc14", "semeval2023") == (
        "Whataboutism",
        "Straw_Man",
        "Red_Herring",
    )
    assert taxonomy.map_label("Bandwagon,Reductio_ad_hitlerum", "ptc14", "semeval2023") == (
        "Appeal_to_Popularity",
        "Guilt_by_Association",
    )
    assert taxonomy.map_label("Appeal_to_Time", "semeval2023", "ptc14") == ()
    assert taxonomy.map_label("Smears", "semeval2021", "semeval2023") == ("Questioning_the_Reputation",)
    # round trip PTC -> 2023 -> PTC comes back to the same class
    for name in taxonomy.PTC14:
        for mapped in taxonomy.map_label(name, "ptc14", "semeval2023"):
            assert taxonomy.map_label(mapped, "semeval2023", "ptc14") == (name,)


def test_unknown_names_are_refused_with_the_valid_ones():
    with pytest.raises(KeyError, match="expected one of: Appeal_to_Authority"):
        taxonomy.get("Loaded Language", "ptc14")
    with pytest.raises(ValueError, match="unknown scheme"):
        taxonomy.techniques("semeval2099")


def test_display_names_separate_the_parts_of_a_merged_technique():
    from spinlens.taxonomy import display_name

    assert display_name("Whataboutism,Straw_Men,Red_Herring") == "Whataboutism / Straw Men / Red Herring"
    assert display_name("Loaded_Language") == "Loaded Language"
    assert display_name("Appeal_to_fear-prejudice") == "Appeal to fear-prejudice"
