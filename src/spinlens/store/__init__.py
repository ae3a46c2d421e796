"""Stored analyses (SQLAlchemy): SQLite in the user's data directory by default, any SQLAlchemy URL otherwise."""

from spinlens.store.db import Store, default_url

__all__ = ["Store", "default_url"]
