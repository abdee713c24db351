"""A demo facility served by the real `aicommons serve`, for tests that drive the CLI against it over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CLI = str(Path(sys.executable).with_name("aicommons"))


@dataclass
class Facility:
    env: dict[str, str]
    key: str
    url: str = ""


def demo_facility(data_dir: Path) -> Facility:
    """Migrate, seed the demo and integrate its ledger in ``data_dir``; returns the env and the ledger key."""
    env = {**os.environ, "AICOMMONS_DATA_DIR": str(data_dir), "AICOMMONS_LEDGER_CHECKPOINT_INTERVAL_SECONDS": "0"}
    env.pop("AICOMMONS_DATABASE_URL", None)
    for args in (["db", "upgrade"], ["demo", "seed", "--quiet"], ["ledger", "integrate"]):
        subprocess.run([CLI, *args], env=env, check=True, capture_output=True, timeout=120)
    key = subprocess.run([CLI, "ledger", "key"], env=env, check=True, capture_output=True, text=True).stdout.strip()
    return Facility(env, key)


@contextmanager
def serving(facility: Facility) -> Iterator[Facility]:
    """Run the server on a free port until the block ends; ``facility.url`` points at it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([CLI, "serve", "--port", str(port)], env=facility.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    facility.url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{facility.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield facility
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
