"""Readers and writers: plain text, JSONL corpora, PTC articles and labels, SemEval-2021 Task 6 JSON."""

from spinlens.formats.jsonl import iter_jsonl, read_jsonl, write_jsonl
from spinlens.formats.ptc import Label, read_articles, read_labels, write_labels
from spinlens.formats.semeval2021 import read_semeval2021, write_semeval2021
from spinlens.formats.text import read_text, write_text

__all__ = [
    "Label",
    "iter_jsonl",
    "read_articles",
    "read_jsonl",
    "read_labels",
    "read_semeval2021",
    "read_text",
    "write_jsonl",
    "write_labels",
    "write_semeval2021",
    "write_text",
]
