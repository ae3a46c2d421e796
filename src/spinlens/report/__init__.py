"""Reports people look at: a standalone HTML page per analysed article."""

from spinlens.report.html import render_analysis

__all__ = ["render_analysis"]
