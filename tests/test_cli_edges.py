"""Rough edges of the CLI and the history search (issue 20, item 6), each as a user met it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from spinlens.cli import app
from spinlens.document import Analysis, Document
from spinlens.store import Store

TEXT = "They lie about the Kiev regime, as always."
HTML = "<html><head><title>Flee</title></head><body><p>Patriots stand firm while the cowards flee.</p></body></html>"


def _cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def test_two_inputs_with_the_same_stem_are_both_analysed_under_distinct_names(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "a.html").write_text(HTML, encoding="utf-8")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "a.txt").write_text("Another text altogether.", encoding="utf-8")
    out = tmp_path / "out.json"
    code, output = _cli(
        "analyze", str(tmp_path / "a.txt"), str(tmp_path / "a.html"), str(tmp_path / "b"), "-o", str(out)
    )
    assert code == 0, output
    assert [r["id"] for r in json.loads(out.read_text())] == ["a", "a-html", "a-2"]
    code, output = _cli(
        "analyze", str(tmp_path / "a.txt"), str(tmp_path / "a.html"), "-f", "html", "-o", str(tmp_path / "pages")
    )
    assert code == 0, output
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == ["a-html.html", "a.html"]


def test_an_output_folder_stays_a_folder_with_one_article(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    for fmt, given, written in [
        ("html", "pages/", "pages/a.html"),  # a trailing slash: a folder, even for one article
        ("json", "records/", "records/a.json"),
        ("jsonl", "lines/", "lines/analyses.jsonl"),
        ("ptc", "labels/", "labels/analyses.labels"),
        ("html", "page.html", "page.html"),  # no slash: a file
    ]:
        code, output = _cli("analyze", str(tmp_path / "a.txt"), "-f", fmt, "-o", str(tmp_path) + "/" + given)
        assert code == 0, output
        assert (tmp_path / written).is_file(), (fmt, given, output)
    (tmp_path / "existing").mkdir()
    code, output = _cli("analyze", str(tmp_path / "a.txt"), "-f", "html", "-o", str(tmp_path / "existing"))
    assert code == 0 and (tmp_path / "existing" / "a.html").is_file(), output  # a folder that exists is one


def test_models_says_no_for_a_tier_whose_runtime_is_missing(monkeypatch, tmp_path: Path) -> None:
    from spinlens.detect.encoder import Encoder

    monkeypatch.setattr(Encoder, "weights", lambda self: tmp_path / "weights")  # every encoder's weights "there"
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    code, output = _cli("models")
    assert code == 0, output
    rows = {line.split("│")[1].strip(): line for line in output.splitlines() if line.count("│") > 3}
    assert rows["fast"].rstrip(" │").endswith("no") and rows["default"].rstrip(" │").endswith("yes"), output
    assert "fast: the fast tier needs ONNX Runtime: pip install 'spinlens[fast]'" in output
    monkeypatch.setitem(sys.modules, "transformers", None)  # the accurate tier runs MPNet in plain torch
    code, output = _cli("models")
    rows = {line.split("│")[1].strip(): line for line in output.splitlines() if line.count("│") > 3}
    assert rows["accurate"].rstrip(" │").endswith("yes") and "needs transformers" not in output, output


def test_history_search_for_nul_or_like_wildcards_finds_only_what_holds_them(db_url) -> None:
    """SQLite's LIKE stopped at a NUL and matched every analysis; PostgreSQL refused the query (a 500)."""
    store = Store(db_url)
    for i, text in enumerate(["Prices rose 50% in a year.", "A plain_name here.", "Nothing special."]):
        store.save(Analysis(document=Document(id=str(i), text=text), model="m", model_version="1"))
    assert store.search("\x00") == [] and store.search("a\x00b") == []
    assert [r["title"] for r in store.search("%")] == ["Prices rose 50% in a year."]
    assert [r["title"] for r in store.search("_")] == ["A plain_name here."]
    assert len(store.search(None)) == 3
