"""API benchmark: the real app under uvicorn on PostgreSQL against a bare FastAPI endpoint (the ceiling).

Both servers are uvicorn subprocesses started with the same flags and worker count; 32 keep-alive httpx
clients (threads in this process) drive each phase for a fixed time after a warm-up. It is a
measurement, not a test: it exits 0 even when a target is missed, and says so.

    .venv/bin/python benchmarks/api.py [--duration 8] [--clients 32] [--workers 1] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from aicommons.devtools.pgcluster import free_port, start_cluster

BIN = Path(sys.executable).parent
READ_RATIO_TARGET = 0.50
P99_TARGET_MS = 100.0

# The ceiling: a sync `def` endpoint (run in the threadpool, like ours) returning a list about the size
# of an institutions page, so the difference to the real app is the database, our middleware and
# dependencies, and (for writes, since institutions are public to read) the token check.
BARE_APP = '''
from fastapi import FastAPI

app = FastAPI()
ITEMS = [{"id": i, "name": f"Institute of Things {i}", "country": "DE", "kind": "university",
          "ror_id": None, "email_domains": [f"inst{i}.example.org"],
          "created_at": "2025-01-01T00:00:00Z"} for i in range(20)]


@app.get("/items")
def items():
    return {"items": ITEMS, "next_cursor": None}
'''

# Identical for both servers; the access log is off because writing it costs the same on both and
# would otherwise measure the terminal.
SERVER_FLAGS = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log", "--no-server-header"]


@dataclass
class Result:
    phase: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    client_cpu: float  # share of one core the load generator used; near 1.0 means it, not the server, limits
    server_cpu: float  # share of one core the server process (and its workers) used
    db_cpu: float  # share of one core all of PostgreSQL's processes used
    ratio: float = 0.0


def cpu_seconds(pid: int) -> float:
    """CPU of a process, its live children (uvicorn workers, PostgreSQL backends) and reaped ones."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        pids += [int(p) for p in task.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / tick  # utime, stime, cutime, cstime
    return total


def cli(env: dict[str, str], *args: str) -> str:
    """Run the `aicommons` command line, as an operator would; fail loudly with its output."""
    result = subprocess.run([str(BIN / "aicommons"), *args], env=env, capture_output=True, text=True,
                            timeout=300)
    if result.returncode != 0:
        sys.exit(f"aicommons {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def serve(target: list[str], port: int, workers: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "uvicorn", *target, "--port", str(port), "--workers", str(workers),
            *SERVER_FLAGS]
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server for {url} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"{url} not ready after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run_phase(name: str, base: str, make_request, *, pids: tuple[int, int], clients: int, warmup: float,
              duration: float, headers: dict[str, str] | None = None) -> Result:
    """`clients` threads send back-to-back requests; only those started in the measured window count.

    Threads with a client each, not one AsyncClient shared by 32 tasks: httpx's shared async pool
    degrades badly at that concurrency (encode/httpx#3215) and then measures itself, not the server.
    """
    start = time.perf_counter()
    window, end = start + warmup, start + warmup + duration
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def worker(n: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while (sent := time.perf_counter()) < end:
                try:
                    ok = make_request(client).is_success
                except httpx.HTTPError:
                    ok = False
                if sent >= window:
                    latencies[n].append(time.perf_counter() - sent)
                    errors[n] += not ok

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, window - time.perf_counter()))
    cpu0 = [time.process_time(), *map(cpu_seconds, pids)]
    time.sleep(max(0.0, end - time.perf_counter()))
    cpu = [(now - before) / duration for now, before in zip([time.process_time(), *map(cpu_seconds, pids)],
                                                            cpu0, strict=True)]
    for thread in threads:
        thread.join()
    merged = sorted(itertools.chain.from_iterable(latencies))
    return Result(name, len(merged), sum(errors), len(merged) / duration, percentile(merged, 0.50) * 1000,
                  percentile(merged, 0.99) * 1000, *cpu)


def run_all(args, bare: str, real: str, pids: tuple[int, int, int], token: str,
            ids: list[int]) -> list[Result]:
    auth = {"Authorization": f"Bearer {token}"}
    ids_cycle = itertools.cycle(ids)  # next() on itertools objects is atomic under the GIL
    run_id = uuid.uuid4().hex[:8]
    serial = itertools.count()
    common = {"clients": args.clients, "warmup": args.warmup, "duration": args.duration}

    def write(client: httpx.Client) -> httpx.Response:
        body = {"name": f"Bench Institute {run_id}-{next(serial)}", "country": "DE", "kind": "university"}
        return client.post("/api/v1/institutions", json=body)

    bare_pids, real_pids = (pids[0], pids[2]), (pids[1], pids[2])
    phases = [
        ("ceiling: bare GET", bare, lambda c: c.get("/items"), bare_pids, None),
        ("read: list ?limit=20", real, lambda c: c.get("/api/v1/institutions?limit=20"), real_pids, auth),
        ("read: GET one by id", real, lambda c: c.get(f"/api/v1/institutions/{next(ids_cycle)}"),
         real_pids, auth),
        ("write: POST", real, write, real_pids, auth),
    ]
    results = [run_phase(name, base, request, pids=server_pids, headers=headers, **common)
               for name, base, request, server_pids, headers in phases]
    ceiling = results[0].rps or float("nan")
    for r in results:
        r.ratio = r.rps / ceiling
    return results


def report(results: list[Result], args, console: Console) -> dict:
    reads = [r for r in results if r.phase.startswith("read")]
    worst_ratio = min(r.ratio for r in reads)
    worst_p99 = max(r.p99_ms for r in reads)
    summary = {
        "setup": {"clients": args.clients, "workers": args.workers, "duration_s": args.duration,
                  "warmup_s": args.warmup, "cpus": os.cpu_count(), "database": "postgresql",
                  "note": "load generator, servers and PostgreSQL share this machine's CPUs"},
        "phases": [asdict(r) for r in results],
        "targets": {"read_ratio": worst_ratio, "read_ratio_target": READ_RATIO_TARGET,
                    "read_ratio_met": worst_ratio >= READ_RATIO_TARGET,
                    "read_p99_ms": worst_p99, "read_p99_target_ms": P99_TARGET_MS,
                    "read_p99_met": worst_p99 < P99_TARGET_MS},
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return summary
    table = Table(title=f"AI Commons API on PostgreSQL: {args.clients} clients, {args.workers} uvicorn "
                        f"worker(s), {args.duration:g} s per phase")
    for column in ("phase", "req/s", "p50 ms", "p99 ms", "errors", "vs ceiling", "client CPU", "server CPU",
                   "db CPU"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for r in results:
        table.add_row(r.phase, f"{r.rps:,.0f}", f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}",
                      f"[red]{r.errors}[/red]" if r.errors else "0", f"{r.ratio:.0%}",
                      f"{r.client_cpu:.0%}", f"{r.server_cpu:.0%}", f"{r.db_cpu:.0%}")
    console.print(table)
    console.print(f"The load generator ({args.clients} httpx threads in one process), the servers and "
                  f"PostgreSQL share this machine's {os.cpu_count()} CPUs; CPU is in shares of one core.")
    if results[0].client_cpu > 0.9:
        console.print("[yellow]The load generator was near a full core during the ceiling phase, so the "
                      "ceiling is a lower bound and the ratios flatter the app.[/yellow]")
    verdict = {True: "[green]met[/green]", False: "[bold red]MISSED[/bold red]"}
    console.print(f"reads: {worst_ratio:.0%} of ceiling (target >= {READ_RATIO_TARGET:.0%}) "
                  f"{verdict[worst_ratio >= READ_RATIO_TARGET]}")
    console.print(f"p99 reads: {worst_p99:.1f} ms (target < {P99_TARGET_MS:.0f} ms) "
                  f"{verdict[worst_p99 < P99_TARGET_MS]}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each phase")
    parser.add_argument("--clients", type=int, default=32, help="concurrent keep-alive clients")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (both servers)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary only")
    args = parser.parse_args()
    # With --json, progress goes to stderr so stdout stays parseable; piped output gets room for the table.
    stream = sys.stderr if args.json else sys.stdout
    console = Console(file=stream, width=None if stream.isatty() else 120)
    # SIGTERM would otherwise kill us without running the finally blocks that stop servers and PostgreSQL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    procs: list[subprocess.Popen] = []
    cluster, interrupted = None, False
    with tempfile.TemporaryDirectory(prefix="aicommons-bench-") as tmp:
        try:
            console.print("Starting PostgreSQL (durable: fsync on) ...")
            cluster = start_cluster(durable=True)
            env = {**os.environ, "AICOMMONS_DATABASE_URL": cluster.create_database("bench"),
                   "AICOMMONS_DATA_DIR": str(Path(tmp) / "data")}
            console.print("Migrating, seeding the demo facility, creating an operator token ...")
            cli(env, "db", "upgrade")
            cli(env, "demo", "seed", "--quiet")
            email = "bench-operator@example.org"
            cli(env, "admin", "create-user", email, "--name", "Bench Operator", "--role", "operator",
                "--no-password")
            token = json.loads(cli(env, "token", "create", "--email", email, "--name", "bench",
                                   "--scope", "read", "--scope", "write", "--json"))["token"]

            Path(tmp, "bare_app.py").write_text(BARE_APP)
            bare_port, real_port = free_port(), free_port()
            bare_log, real_log = Path(tmp, "bare.log"), Path(tmp, "real.log")
            procs.append(serve(["--app-dir", tmp, "bare_app:app"], bare_port, args.workers, env, bare_log))
            procs.append(serve(["--factory", "aicommons.app:create_app"], real_port, args.workers, env,
                               real_log))
            bare, real = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{real_port}"
            wait_ready(f"{bare}/items", procs[0], bare_log)
            wait_ready(f"{real}/healthz", procs[1], real_log)
            page = httpx.get(f"{real}/api/v1/institutions?limit=100", timeout=10).json()
            ids = [item["id"] for item in page["items"]]
            console.print(f"Serving; {len(ids)} institutions seeded. Measuring {args.warmup:g} s warm-up + "
                          f"{args.duration:g} s per phase ...")
            postmaster = int((cluster.root / "data" / "postmaster.pid").read_text().split()[0])
            results = run_all(args, bare, real, (procs[0].pid, procs[1].pid, postmaster), token, ids)
            report(results, args, console)
        except KeyboardInterrupt:
            console.print("interrupted")
            interrupted = True
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if cluster is not None:
                cluster.stop()
    if interrupted:
        sys.exit(130)


if __name__ == "__main__":
    main()
