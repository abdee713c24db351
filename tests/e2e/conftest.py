"""The end-to-end harness: the real `aicommons serve` process on a fresh database, and a headless Chromium.

The server runs on a fresh SQLite database migrated and populated with the command line, exactly as an
operator would set one up. Tests may add more data with the services through ``server.session_factory()``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import unavailable

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
OPERATOR_EMAIL = "olga@example.org"
OPERATOR_NAME = "Olga Operator"
OPERATOR_PASSWORD = "a long and correct operator passphrase"
AICOMMONS = Path(sys.executable).parent / "aicommons"


@dataclass
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]
    log: Path
    database_url: str

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(AICOMMONS), *args], input=stdin, env=self.env, capture_output=True,
                              text=True, timeout=60, check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the server did not become healthy within {timeout} s:\n{log.read_text()}")


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    """A migrated database with one operator, and the real server serving it on a free port."""
    if not AICOMMONS.exists():
        pytest.fail(f"the aicommons command is not installed next to {sys.executable}")
    data_dir = tmp_path / "data"
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    env = {**os.environ, "AICOMMONS_DATA_DIR": str(data_dir), "AICOMMONS_DATABASE_URL": database_url,
           "AICOMMONS_LOG_LEVEL": "warning"}
    port = _free_port()
    server = Server(url=f"http://127.0.0.1:{port}", data_dir=data_dir, env=env, log=tmp_path / "server.log",
                    database_url=database_url)

    upgraded = server.cli("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    created = server.cli("admin", "create-user", OPERATOR_EMAIL, "--name", OPERATOR_NAME,
                         "--role", "operator", "--password-stdin", stdin=OPERATOR_PASSWORD + "\n")
    assert created.returncode == 0, created.stderr

    with server.log.open("w") as log:
        process = subprocess.Popen([str(AICOMMONS), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(server.url, process, server.log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        unavailable(f"no Chromium at {CHROMIUM} (run scripts/install-system-deps.sh as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
