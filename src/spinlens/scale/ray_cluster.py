"""The Ray side of a spinlens run that is not about documents: authentication, a local cluster that cannot outlive
the run, and Ray's own output kept out of the user's.

- Authentication (Ray 2.5x+ tokens) is read by Ray when it is imported, so `import_ray` sets it up first: a
  cluster given by address gets token mode when a token is at hand ($RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH or
  ~/.ray/auth_token, the file `ray start` uses); a cluster this run starts gets a fresh token of its own, passed in
  the environment, so that nothing is written to ~/.ray and nobody else can join it. $RAY_AUTH_MODE, when set, wins.
- A local cluster is `ray start --head --block` under a supervisor (`python -m spinlens.scale.ray_cluster`) in its
  own session (`spinlens.scale.ray_supervisor`): Ctrl-C in the terminal does not reach Ray's processes (the run
  handles it and commits), and whatever the run's end (SIGKILL too) no Ray process outlives it.
- Ray writes to file descriptor 2 from C++ (warnings, crash dumps, signal dumps): `RayLog` points that descriptor
  at a log file while Python's `sys.stderr` keeps the user's terminal, so spinlens's lines and progress bar stay.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from types import ModuleType
from typing import TextIO

from spinlens.errors import SpinlensError
from spinlens.scale.ray_supervisor import START_SECONDS

READY = "ready"
SUPERVISOR = str(Path(__file__).with_name("ray_supervisor.py"))


def token_available() -> bool:
    """Whether a Ray authentication token is at hand for a driver, where Ray looks for one."""
    return bool(
        os.environ.get("RAY_AUTH_TOKEN")
        or os.environ.get("RAY_AUTH_TOKEN_PATH")
        or (Path.home() / ".ray" / "auth_token").is_file()
    )


def configure_auth(address: str | None) -> None:
    """Set Ray's authentication environment for a cluster at ``address`` (None: one this run starts)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves the machine
    # no Ray call may start a cluster of its own (Ray Data does, in a thread still running after `ray.shutdown`:
    # that cluster, in the run's session, outlived it)
    os.environ["RAY_ENABLE_AUTO_CONNECT"] = "0"
    if "RAY_AUTH_MODE" in os.environ:
        pass  # the user's choice (``disabled`` too)
    elif address is None:
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    elif token_available():
        # `ray start` turns token authentication on when it finds a token; a driver must then send it
        os.environ["RAY_AUTH_MODE"] = "token"
    if "ray" in sys.modules:  # imported already (a test, a notebook): make Ray read its configuration again
        with contextlib.suppress(Exception):
            from ray._raylet import Config

            Config.initialize("")


def import_ray(address: str | None) -> ModuleType:
    """Ray, imported after its authentication is configured for ``address``."""
    configure_auth(address)
    try:
        import ray
        import ray.data  # noqa: F401 - fails here, not mid-run, when the [data] extra is missing
    except ImportError:
        raise SpinlensError("--ray needs Ray: pip install 'spinlens[ray]'") from None
    return ray


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_command() -> list[str]:
    """The `ray` command of this interpreter's Ray."""
    found = shutil.which("ray", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "ray.scripts.scripts"]


class RayNode:
    """A Ray node (`ray start --block ARGS` on 127.0.0.1) under a supervisor: stopped with `stop`, or with the
    process that started it, however that ends (SIGKILL too). ``env`` is the nodes' environment (the token)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        # short: Ray's socket paths must fit in 107 characters
        self.folder = tempfile.mkdtemp(prefix="spinlens-ray-", dir="/tmp" if Path("/tmp").is_dir() else None)
        self.args = [arg.replace("{folder}", self.folder) for arg in args]
        start = [*ray_command(), "start", "--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
        # by path, in isolated mode: the supervisor needs nothing but the standard library (and stays small)
        self.process = subprocess.Popen(
            [sys.executable, "-I", SUPERVISOR, self.folder, *start, *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C and SIGTERM for the run do not reach the cluster
            env=env,
            text=True,
        )
        assert self.process.stdout is not None
        line = _read_line(self.process.stdout, START_SECONDS).strip()
        if line != READY:
            self.stop()
            why = line.removeprefix("failed: ") or f"no answer in {START_SECONDS:.0f} s"
            raise SpinlensError(f"a Ray node did not start: {why}")

    def stop(self) -> None:
        """Stop the node and wait until its processes are gone (bounded)."""
        with contextlib.suppress(OSError):
            if self.process.stdin:
                self.process.stdin.close()  # the supervisor's signal to stop
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the node, all at once, as when its machine is lost (its processes share the supervisor's group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def head_node(cpus: int | None, env: dict[str, str] | None = None) -> tuple[RayNode, str]:
    """A head node on 127.0.0.1 (``cpus`` None: one per core) and its address."""
    port = free_port()
    args = ["--head", f"--port={port}", f"--num-cpus={cpus if cpus is not None else os.cpu_count() or 1}"]
    node = RayNode([*args, "--include-dashboard=false", "--temp-dir={folder}"], env)
    return node, f"127.0.0.1:{port}"


def _read_line(stream: TextIO, seconds: float) -> str:
    ready, _, _ = select.select([stream], [], [], seconds)
    return stream.readline() if ready else ""


def _is_rays(thread: threading.Thread | None) -> bool:
    """Ray's threads (and spinlens's threads that call Ray) are named ``ray_*`` or ``ray-*``."""
    return thread is not None and thread.name.startswith(("ray_", "ray-"))


class _Routed(io.TextIOBase):
    """A text stream whose writes from Ray's own threads (``ray_*``: errors pushed by the cluster, worker logs)
    go to Ray's log, and from every other thread to the user's stream."""

    def __init__(self, user: TextIO, log: TextIO) -> None:
        self.user = user
        self.log = log

    def _target(self) -> TextIO:
        return self.log if _is_rays(threading.current_thread()) else self.user

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        for stream in (self.user, self.log):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()

    def isatty(self) -> bool:
        return self.user.isatty()

    def fileno(self) -> int:
        return self.user.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.user.encoding


class RayLog:
    """Ray's output into a log file, the user's terminal left to spinlens: file descriptor 2 (what Ray's C++ and
    its logging handlers write) goes to the log, ``sys.stderr`` to a copy of the old descriptor 2, and what Ray's
    threads print on ``sys.stdout`` or ``sys.stderr`` to the log."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix=f"spinlens-ray-{os.getpid()}-", suffix=".log")
        self.path = Path(name)
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved = os.dup(2)
        self.streams = sys.stdout, sys.stderr
        os.dup2(fd, 2)
        os.close(fd)
        self.log = open(self.path, "a", encoding="utf-8", errors="backslashreplace", buffering=1)  # noqa: SIM115
        encoding = sys.stderr.encoding or "utf-8"
        user_stderr = open(self.saved, "w", encoding=encoding, errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115
        sys.stdout = _Routed(sys.stdout, self.log)  # type: ignore[assignment]
        sys.stderr = _Routed(user_stderr, self.log)  # type: ignore[assignment]
        self._hook_thread_errors()

    def _hook_thread_errors(self) -> None:
        """A Ray thread that dies with an exception (seen: Ray Data's metadata prefetcher, after `ray.shutdown`
        on Ctrl-C) writes its traceback to this log while the log exists, never to the user; for the rest of the
        process, since Ray's threads can outlive the run."""
        previous = threading.excepthook
        path = self.path

        def hook(args: threading.ExceptHookArgs) -> None:
            if not _is_rays(args.thread):
                previous(args)
                return
            with contextlib.suppress(OSError), open(path, "r+", encoding="utf-8") as log:  # r+: never re-created
                log.seek(0, io.SEEK_END)
                log.write("".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))

        threading.excepthook = hook

    def restore(self, keep: bool) -> None:
        """The user's streams back, on descriptor 2 too; the log removed unless ``keep``."""
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = self.streams
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.log.close()
        if not keep:
            self.path.unlink(missing_ok=True)
