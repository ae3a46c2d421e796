"""spinlens: find, label and explain propaganda and persuasion techniques in news.

>>> import spinlens
>>> nlp = spinlens.load()                      # doctest: +SKIP
>>> analysis = nlp("The Kiev regime ...")      # doctest: +SKIP
"""

from spinlens.document import Analysis, Document, Span, TechniqueVerdict
from spinlens.errors import InputError, SpinlensError

__version__ = "0.1.0"


def load(model: str | None = None, threads: int | None = None, catalogues=None, db: str | None = None):  # type: ignore[no-untyped-def]
    """``nlp = spinlens.load(); nlp(text) -> Analysis``: the text's language, technique spans (English only) and,
    with ``catalogues`` (names stored in the database ``db``, or catalogue files), the known claims it repeats.

    ``model``: a tier ("fast", "default", "accurate") or a model directory. See `spinlens.analyzer.Analyzer`.
    """
    from spinlens.analyzer import load as _load

    return _load(model, threads=threads, catalogues=catalogues, db=db)


__all__ = ["load", "Analysis", "Document", "InputError", "Span", "SpinlensError", "TechniqueVerdict", "__version__"]
