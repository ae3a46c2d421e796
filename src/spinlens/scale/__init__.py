"""Corpus runs: register inputs in the store, then analyse every pending document on one or many cores, or Ray."""

from spinlens.scale.batch import Summary, run_batch
from spinlens.scale.executors import EXECUTORS

__all__ = ["EXECUTORS", "Summary", "run_batch"]
