"""Readers and writers: plain text, PTC articles and labels, SemEval-2021 Task 6 JSON; JSONL corpora are written
here and read by `spinlens.sources` (`jsonl_documents`)."""

from spinlens.formats.jsonl import write_jsonl
from spinlens.formats.ptc import Label, read_articles, read_labels, write_labels
from spinlens.formats.semeval2021 import read_semeval2021, write_semeval2021
from spinlens.formats.text import read_text, write_text

__all__ = [
    "Label",
    "read_articles",
    "read_labels",
    "read_semeval2021",
    "read_text",
    "write_jsonl",
    "write_labels",
    "write_semeval2021",
    "write_text",
]
