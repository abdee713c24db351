"""A throwaway PostgreSQL cluster: initdb into a temporary folder, pg_ctl start on a free port, remove after.

Uses Debian's postgresql binaries. As root it runs them as the ``postgres`` system user, because
PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class ClusterUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed, or cannot run here."""


def find_bin(name: str) -> str | None:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    return shutil.which(name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    port: int
    run_as: str | None
    pg_ctl: str

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def stop(self) -> None:
        _run(self.run_as, [self.pg_ctl, "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"],
             check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _run(user: str | None, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise ClusterUnavailable(f"{' '.join(argv)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def start_cluster(*, max_connections: int = 200, durable: bool = False) -> Cluster:
    """Start a cluster; ``durable=False`` (tests) turns off fsync, ``durable=True`` (benchmarks) keeps it."""
    initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise ClusterUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed; "
                                 "install Debian's postgresql package")
    run_as = None
    root = Path(tempfile.mkdtemp(prefix="aicommons-pg-"))
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ClusterUnavailable("running as root needs the 'postgres' system user") from exc
        os.chown(root, entry.pw_uid, entry.pw_gid)
        run_as = "postgres"
    data = root / "data"
    _run(run_as, [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync"])
    port = free_port()
    options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
               f"-c max_connections={max_connections}")
    if not durable:
        options += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    _run(run_as, [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "-t", "60", "start"])
    cluster = Cluster(root, port, run_as, pg_ctl)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return cluster
        except OSError:
            time.sleep(0.1)
    cluster.stop()
    raise ClusterUnavailable("PostgreSQL did not start listening within 30 s")
