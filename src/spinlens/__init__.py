"""spinlens: find, label and explain propaganda and persuasion techniques in news.

>>> import spinlens
>>> nlp = spinlens.load()                      # doctest: +SKIP
>>> analysis = nlp("The Kiev regime ...")      # doctest: +SKIP
"""

from spinlens.document import Analysis, Document, Span, TechniqueVerdict
from spinlens.errors import InputError, SpinlensError

__version__ = "0.1.0"


def load(model: str | None = None, threads: int | None = None):  # type: ignore[no-untyped-def]
    """The propaganda detector shipped with spinlens: ``nlp = spinlens.load(); nlp(text) -> Analysis``."""
    from spinlens.detect.pipeline import load as _load

    return _load(model, threads=threads)


__all__ = ["load", "Analysis", "Document", "InputError", "Span", "SpinlensError", "TechniqueVerdict", "__version__"]
