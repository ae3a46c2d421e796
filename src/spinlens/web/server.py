"""Running the app under uvicorn so that SIGTERM (or Ctrl-C) ends the server within seconds, analyses in flight
or not: the signal first stops the analyses (their requests are answered 503), then uvicorn shuts down as usual,
waiting at most `GRACE_S` for the requests still open."""

from __future__ import annotations

from types import FrameType

import uvicorn
from fastapi import FastAPI

from spinlens.web.app import stop_analyses

GRACE_S = 3


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.spinlens_app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        stop_analyses(self.spinlens_app)
        super().handle_exit(sig, frame)


def run(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve ``app`` until SIGTERM or SIGINT."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=GRACE_S)
    _Server(config, app).run()
