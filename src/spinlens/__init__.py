"""spinlens: find, label and explain propaganda and persuasion techniques in news.

>>> import spinlens
>>> nlp = spinlens.load()                      # doctest: +SKIP
>>> analysis = nlp("The Kiev regime ...")      # doctest: +SKIP
"""

from spinlens.document import Analysis, Document, Span, TechniqueVerdict
from spinlens.errors import InputError, SpinlensError

__version__ = "0.1.0"

__all__ = ["Analysis", "Document", "InputError", "Span", "SpinlensError", "TechniqueVerdict", "__version__"]
