"""The web page and REST API (FastAPI): `spinlens serve`."""

from spinlens.web.app import create_app

__all__ = ["create_app"]
