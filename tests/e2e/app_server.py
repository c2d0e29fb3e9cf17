"""A real `streamlit run app.py` on a free port, and Debian's headless Chromium.

Shared by the end-to-end tests (tests/e2e/conftest.py) and the dashboard
benchmark (bench/bench_app.py), so both start and drive the app alike.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# The machine has no GPU and no network for the browser's own services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_TIMEOUT_S = 180


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_chromium(playwright: Any) -> Any:
    """Launches Debian's headless Chromium through Playwright (no browser download).

    Args:
        playwright: the object `sync_playwright()` yields.

    Returns:
        The Playwright Browser; the caller closes it.
    """
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


class Server:
    """A dashboard process started with `streamlit run app.py`.

    Attributes:
        port: the port it listens on (127.0.0.1).
        url: its base URL.
        started: `time.perf_counter()` just before the process was started.
        load_log: the PROMPTKIT_LOAD_LOG file (one line per model load).
        log_path: the server's stdout and stderr.
    """

    def __init__(self, workdir: Path, env: Mapping[str, str] | None = None, *, port: int | None = None) -> None:
        """Starts the server; see `wait_healthy` to know when it answers.

        Args:
            workdir: an empty folder for the store, the load log and the server log.
            env: extra environment variables, e.g. PROMPTKIT_CACHE. The
                caller's PROMPTKIT_MODEL and PROMPTKIT_DB_URL are dropped so
                the app loads its default model and uses a store of its own.
            port: the port to listen on (a free one by default), for a caller
                that must know it before the server starts (sign-in's redirect URI).
        """
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.load_log = workdir / "loads.log"
        self.log_path = workdir / "server.log"
        self.env = {k: v for k, v in os.environ.items() if k not in ("PROMPTKIT_MODEL", "PROMPTKIT_DB_URL")}
        self.env.update(PROMPTKIT_DB=str(workdir / "store.db"), PROMPTKIT_LOAD_LOG=str(self.load_log), **(env or {}))
        self.started = time.perf_counter()
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", "app.py",
                "--server.headless", "true",
                "--server.address", "127.0.0.1",
                "--server.port", str(self.port),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, timeout: float = STARTUP_TIMEOUT_S) -> float:
        """Waits until `/_stcore/health` answers ok.

        Args:
            timeout: seconds to wait at most.

        Returns:
            Seconds from the start of the process to the first healthy answer.

        Raises:
            RuntimeError: if the process exits first (with its log's end).
            TimeoutError: if it does not answer within `timeout`.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        return time.perf_counter() - self.started
            except OSError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"no /_stcore/health answer within {timeout} s")

    def loads(self) -> list[str]:
        """The lines of the load log: one per model actually loaded."""
        return self.load_log.read_text().splitlines() if self.load_log.exists() else []

    def stop(self) -> None:
        """Stops the process (killing it if it does not stop within 20 s)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


@contextlib.contextmanager
def running_server(workdir: Path, env: Mapping[str, str] | None = None, *, port: int | None = None) -> Iterator[Server]:
    """Starts a dashboard, waits until it is healthy, and stops it afterwards.

    Args:
        workdir: an empty folder for the server's files (see `Server`).
        env: extra environment variables (see `Server`).
        port: the port to listen on (see `Server`).

    Yields:
        The healthy server.
    """
    server = Server(workdir, env, port=port)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()
