"""Plain-text articles: one file, one Document, text kept as decoded (UTF-8, or UTF-16/32 with a BOM)."""

from __future__ import annotations

import codecs
from pathlib import Path

from spinlens.document import Document
from spinlens.errors import InputError

MAX_BYTES = 50_000_000  # a news article is kilobytes; anything this big is a wrong file, not an article


_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def bom_encoding(head: bytes) -> str:
    """The encoding a UTF-16 or UTF-32 byte-order mark at the start of ``head`` announces; UTF-8 without one."""
    return next((encoding for bom, encoding in _BOMS if head.startswith(bom)), "utf-8")


def decode(data: bytes, path: str | Path) -> str:
    """Decode UTF-8, or UTF-16/32 with a BOM (a BOM is kept as character 0), refusing binary data with its position."""
    encoding = bom_encoding(data[:4])
    at = data.find(b"\x00") if encoding == "utf-8" else -1
    if at != -1:
        raise InputError(
            f"looks like a binary file (NUL byte at offset {at}), not text", path, data[:at].count(b"\n") + 1
        )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].decode(encoding, errors="replace").count("\n") + 1
        name = encoding.upper().removesuffix("-LE").removesuffix("-BE")
        raise InputError(
            f"not valid {name} (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save the file as UTF-8",
            path,
            line,
        ) from None
    if encoding != "utf-8" and (at := text.find("\x00")) != -1:
        raise InputError(
            f"looks like a binary file (NUL character at {at}), not text", path, text.count("\n", 0, at) + 1
        )
    return text


def read_text(path: str | Path, doc_id: str | None = None) -> Document:
    """Read one article. Empty, binary, mis-encoded or huge files raise InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InputError(f"file is {size:,} bytes, over the {MAX_BYTES:,}-byte limit for one article", path)
    text = decode(path.read_bytes(), path)
    if not text.strip():
        raise InputError("file is empty", path)
    return Document(id=doc_id or article_id(path), text=text, metadata={"path": str(path)})


def article_id(path: str | Path) -> str:
    """`article123.txt` -> `123` (PTC's convention); any other file -> its name without the extension."""
    stem = Path(path).stem
    if stem.startswith("article") and stem[7:].isdigit():
        return stem[7:]
    return stem


def write_text(document: Document, path: str | Path) -> None:
    # newline="" so that "\r\n" in the text is written back unchanged
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(document.text)
