"""What the routes depend on (FastAPI `Depends`): the settings, the store, the detector, the lanes, and auth.

The app holds one `Runtime` (``app.state.runtime``); the store and the detector are set at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request

from spinlens.store import Store
from spinlens.web.lanes import Detector, Lanes
from spinlens.web.security import token_holder


@dataclass(frozen=True)
class Settings:
    tokens: Mapping[str, str] = field(default_factory=dict)  # holder name -> token; none: no sign-in
    max_batch: int = 20  # documents per batch request
    max_chars: int = 200_000  # characters per document
    max_batch_chars: int = 1_000_000  # characters per batch request


@dataclass
class Runtime:
    settings: Settings
    lanes: Lanes
    store: Store | None = None  # set at start-up
    detector: Detector | None = None  # set at start-up


def runtime_of(app: FastAPI) -> Runtime:
    runtime = app.state.runtime
    assert isinstance(runtime, Runtime)
    return runtime


def get_runtime(request: Request) -> Runtime:
    return runtime_of(request.app)


def get_settings(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Settings:
    return runtime.settings


def get_store(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Store:
    assert runtime.store is not None, "the app has not started"
    return runtime.store


def get_detector(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Detector:
    assert runtime.detector is not None, "the app has not started"
    return runtime.detector


def get_lanes(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Lanes:
    return runtime.lanes


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
DetectorDep = Annotated[Detector, Depends(get_detector)]
LanesDep = Annotated[Lanes, Depends(get_lanes)]


LOCAL_AUTHOR = "local"  # who corrects when the server has no token


def signed_in_as(request: Request, settings: SettingsDep) -> str | None:
    """Who the request is from: "local" without tokens, else the name of the token it carries (header or sign-in
    cookie); None without a right one."""
    if not settings.tokens:
        return LOCAL_AUTHOR
    return token_holder(request, settings.tokens)


def is_signed_in(holder: Annotated[str | None, Depends(signed_in_as)]) -> bool:
    """No token set, or the request carries one."""
    return holder is not None


SignedIn = Annotated[bool, Depends(is_signed_in)]


NO_TOKEN = "missing or wrong token: send 'Authorization: Bearer <token>' (or sign in on the page)"


def require_token(signed_in: SignedIn) -> None:
    """For the API: 401 without the token."""
    if not signed_in:
        raise HTTPException(401, NO_TOKEN)


def author(holder: Annotated[str | None, Depends(signed_in_as)]) -> str:
    """The name stored with what a request changes: its token's name, or "local" (401 without a right token)."""
    if holder is None:
        raise HTTPException(401, NO_TOKEN)
    return holder


Author = Annotated[str, Depends(author)]
