"""Ledger benchmark: our tile-backed RFC 9162 tree in SQLite against pymerkle 7's SqliteTree, same run, same machine.

Integration (entries/s; ours stores tiles and signs a checkpoint per batch, pymerkle bulk-appends), inclusion
proofs at the full size (median and p99 µs; cold = no in-memory cache on either side, warm = each side's own
cache shared across the proofs, starting empty), proof verification, and tree storage per entry. It is a
measurement, not a test: it exits 0 even when a target is missed, and says so.

    .venv/bin/python benchmarks/ledger.py [--entries 1000000] [--proofs 1000] [--cold-proofs 50] [--json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import insert

from aicommons.config import Settings
from aicommons.database import create_db_engine, make_session_factory
from aicommons.ledger import merkle, notes, reading, sequencer, store
from aicommons.ledger.models import LedgerEntry
from aicommons.migrate import upgrade

INTEGRATION_RATIO_TARGET = 1.0  # at least as fast as pymerkle's bulk append
PROOF_SPEEDUP_TARGET = 20.0
STORAGE_TARGET = 80.0  # bytes of tree storage per entry
PYMERKLE_BUDGET_S = 120.0  # per proof phase; fewer proofs are measured if pymerkle needs longer
TREE_NAMES = ("ledger_tiles", "sqlite_autoindex_ledger_tiles_1", "ledger_tree_state", "ledger_checkpoints",
              "ix_ledger_checkpoints_size")
ENTRY_INDEXES = ("ix_ledger_entries_leaf_hash", "sqlite_autoindex_ledger_entries_1")  # leaf_hash, tree_index


def load_pymerkle(console: Console):
    try:
        return importlib.import_module("pymerkle")
    except ImportError:
        console.print('pymerkle is not installed; installing "pymerkle>=7,<8" into this environment ...')
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "pymerkle>=7,<8"])
        if done.returncode != 0:
            sys.exit('could not install pymerkle; run: .venv/bin/pip install "pymerkle>=7,<8"')
        importlib.invalidate_caches()
        return importlib.import_module("pymerkle")


def make_bodies(n: int) -> list[bytes]:
    """Canonical JSON entries as ``service.record`` writes them (about 230 bytes)."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return [rfc8785.dumps({
        "kind": "identity.institution.registered", "at": (start + timedelta(seconds=i)).isoformat()[:19] + "Z",
        "subject": f"urn:aicommons:institution:{i}", "actor": f"urn:aicommons:person:{i % 977}",
        "data": {"name": f"Institute of Things {i}", "country": "DE", "kind": "university", "ror_id": None,
                 "email_domains": [f"inst{i}.example.org"]}}) for i in range(n)]


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def stats(times_ns: list[int]) -> dict:
    us = sorted(t / 1000 for t in times_ns)
    return {"count": len(us), "median_us": percentile(us, 0.5), "p99_us": percentile(us, 0.99)}


def progress_bar(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console, transient=True, disable=not console.is_terminal)


def run_ours(engine, bodies: list[bytes], args, console: Console) -> dict:
    n, table = len(bodies), LedgerEntry.__table__
    settings = Settings(ledger_batch=args.batch, ledger_checkpoint_interval_seconds=0.0)
    signer = notes.Signer(settings.effective_ledger_origin, Ed25519PrivateKey.generate())
    factory = make_session_factory(engine)
    with progress_bar(console) as bar:
        task = bar.add_task("ours: queue entries", total=n)
        t0 = time.perf_counter()
        for lo in range(0, n, args.batch):  # leaf hashes are computed when an entry is recorded
            rows = [{"kind": "identity.institution.registered", "subject": f"urn:aicommons:institution:{i}",
                     "body": bodies[i], "leaf_hash": merkle.hash_leaf(bodies[i]),
                     "recorded_at": datetime.now(UTC)} for i in range(lo, min(n, lo + args.batch))]
            with engine.begin() as conn:
                conn.execute(insert(table), rows)
            bar.advance(task, len(rows))
        queued = time.perf_counter() - t0
        task = bar.add_task("ours: integrate (tiles, checkpoints)", total=n)
        t0, done, result = time.perf_counter(), 0, None
        while done < n:
            result = sequencer.integrate_pending(factory, settings, signer, until_empty=False)
            if not result.integrated:
                break
            done += result.integrated
            bar.advance(task, result.integrated)
        integrated = time.perf_counter() - t0
    assert result is not None and result.size == n, f"integrated {done} of {n}"
    return {"queue_s": queued, "integrate_s": integrated, "root": result.root, "factory": factory}


def prove_ours(factory, indices: list[int], n: int, cache: store.FullTileCache | None, label: str,
               console: Console) -> tuple[list[int], list[list[bytes]]]:
    times, proofs = [], []
    with factory() as session, progress_bar(console) as bar:
        task = bar.add_task(label, total=len(indices))
        for i in indices:
            t0 = time.perf_counter_ns()
            proof = reading.inclusion_proof(session, index=i, size=n, cache=cache)
            times.append(time.perf_counter_ns() - t0)
            proofs.append(proof)
            bar.advance(task)
    return times, proofs


def run_pymerkle(pymerkle, path: Path, bodies: list[bytes], indices: list[int], args, console: Console) -> dict:
    n = len(bodies)
    tree = pymerkle.SqliteTree(str(path))  # sha256 with 0x00/0x01 prefixes: RFC 9162 hashing
    with progress_bar(console) as bar:
        task = bar.add_task("pymerkle: append_entries (bulk)", total=None)
        t0 = time.perf_counter()
        tree.append_entries(bodies, chunksize=100_000)
        append_s = time.perf_counter() - t0
        bar.update(task, total=1, completed=1)
    root = tree.get_root(n)
    phases = {}
    for phase, count in (("warm", args.proofs), ("cold", args.cold_proofs)):
        tree.cache_clear()
        times, proofs, deadline = [], [], time.perf_counter() + PYMERKLE_BUDGET_S
        with progress_bar(console) as bar:
            task = bar.add_task(f"pymerkle: proofs, {phase}", total=count)
            for i in indices[:count]:
                if phase == "cold":
                    tree.cache_clear()
                t0 = time.perf_counter_ns()
                proofs.append(tree.prove_inclusion(i + 1, n))  # 1-based leaf index
                times.append(time.perf_counter_ns() - t0)
                bar.advance(task)
                if time.perf_counter() > deadline:
                    break
        phases[phase] = (times, proofs)
    tree.close()
    return {"append_s": append_s, "root": root, "phases": phases}


def time_verify(calls) -> list[int]:
    times = []
    for call in calls:
        t0 = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - t0)
    return times


def storage(db: Path, n: int, pm_file: Path, entry_bytes: int) -> dict:
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    q = lambda sql: con.execute(sql).fetchone()[0] or 0  # noqa: E731
    logical = (q("SELECT SUM(length(hashes)) + COUNT(*) * 10 FROM ledger_tiles")  # 10: level, idx, header
               + q("SELECT SUM(length(root)) + 16 + 8 FROM ledger_tree_state")
               + q("SELECT SUM(length(root) + length(note) + length(signed_at) + 8) FROM ledger_checkpoints"))
    try:
        pages = dict(con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
    except sqlite3.OperationalError:  # SQLite built without the dbstat virtual table
        pages = {}
    # leaf_hash blob and tree_index integer (3 bytes below 2**23, 4 below 2**31), 1 header byte each
    columns = q("SELECT SUM(length(leaf_hash) + 2 + CASE WHEN tree_index < 8388608 THEN 3 ELSE 4 END)"
                " FROM ledger_entries")
    out = {"tree_logical_per_entry": logical / n,
           "tree_on_disk_per_entry": sum(pages.get(k, 0) for k in TREE_NAMES) / n if pages else None,
           "tiles_pages_bytes": pages.get("ledger_tiles"),
           "entries_columns_per_entry": columns / n,
           "entries_indexes_per_entry": sum(pages.get(k, 0) for k in ENTRY_INDEXES) / n if pages else None,
           "freelist_bytes": q("PRAGMA freelist_count") * q("PRAGMA page_size"),
           "pages_by_name": pages}
    con.close()
    pm = sqlite3.connect(pm_file)
    pm_size = pm.execute("PRAGMA page_count").fetchone()[0] * pm.execute("PRAGMA page_size").fetchone()[0]
    pm.close()
    out["pymerkle_file_bytes"] = pm_size
    out["pymerkle_per_entry"] = (pm_size - entry_bytes) / n
    return out


def report(r: dict, args, console: Console) -> dict:
    n, s = r["entries"], r["storage"]
    ours_rate, pm_rate = n / r["ours"]["integrate_s"], n / r["pymerkle"]["append_s"]
    total_rate = n / (r["ours"]["queue_s"] + r["ours"]["integrate_s"])
    proofs = r["proofs"]
    speed = {k: proofs[f"pymerkle_{k}"]["median_us"] / proofs[f"ours_{k}"]["median_us"] for k in ("cold", "warm")}
    ours_total = s["tree_logical_per_entry"] + s["entries_columns_per_entry"] + (s["entries_indexes_per_entry"] or 0)
    targets = {
        "integration_ratio": ours_rate / pm_rate, "integration_met": ours_rate / pm_rate >= INTEGRATION_RATIO_TARGET,
        "proof_speedup_cold": speed["cold"], "proof_cold_met": speed["cold"] >= PROOF_SPEEDUP_TARGET,
        "proof_speedup_warm": speed["warm"], "proof_warm_met": speed["warm"] >= PROOF_SPEEDUP_TARGET,
        "storage_per_entry": s["tree_logical_per_entry"], "storage_met": s["tree_logical_per_entry"] < STORAGE_TARGET,
    }
    summary = {"setup": {"entries": n, "batch": args.batch, "cpus": os.cpu_count(), "sqlite": sqlite3.sqlite_version,
                         "pymerkle": r["pymerkle_version"], "roots_match": r["roots_match"],
                         "paths_match": r["paths_match"], "avg_entry_bytes": r["entry_bytes"] / n},
               "integration": {"ours_entries_per_s": ours_rate, "ours_with_queueing_per_s": total_rate,
                               "queueing_per_s": n / r["ours"]["queue_s"], "pymerkle_entries_per_s": pm_rate,
                               "seconds": {"ours_queue": r["ours"]["queue_s"],
                                           "ours_integrate": r["ours"]["integrate_s"],
                                           "pymerkle_append": r["pymerkle"]["append_s"]}},
               "proofs": proofs, "verification": r["verification"], "storage": s, "targets": targets}
    if args.json:
        print(json.dumps(summary, indent=2))
        return summary
    table = Table(title=f"Ledger vs pymerkle {r['pymerkle_version']} SqliteTree: {n:,} entries "
                        f"(avg {r['entry_bytes'] / n:.0f} B), SQLite {sqlite3.sqlite_version}")
    for column in ("measure", "ours", "pymerkle", "ours vs pymerkle"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row("integrate entries/s (tiles + checkpoints)", f"{ours_rate:,.0f}", f"{pm_rate:,.0f}",
                  f"{ours_rate / pm_rate:.2f}x")
    table.add_row("  queue + integrate entries/s", f"{total_rate:,.0f}", f"{pm_rate:,.0f}",
                  f"{total_rate / pm_rate:.2f}x")
    table.add_row("  queueing alone entries/s", f"{n / r['ours']['queue_s']:,.0f}", "-", "")
    for k in ("cold", "warm"):
        o, p = proofs[f"ours_{k}"], proofs[f"pymerkle_{k}"]
        for q in ("median_us", "p99_us"):
            table.add_row(f"proof {k} {q.split('_')[0]} µs (n={o['count']} / {p['count']})", f"{o[q]:,.1f}",
                          f"{p[q]:,.1f}", f"{p[q] / o[q]:,.1f}x faster")
    v = r["verification"]
    table.add_row("verify median µs", f"{v['ours']['median_us']:.1f}", f"{v['pymerkle']['median_us']:.1f}",
                  f"{v['pymerkle']['median_us'] / v['ours']['median_us']:.1f}x faster")
    disk = s["tree_on_disk_per_entry"]
    table.add_row("tree bytes/entry (tiles, state, checkpoints)", f"{s['tree_logical_per_entry']:.1f}",
                  f"{s['pymerkle_per_entry']:.1f}", "")
    table.add_row("  same, SQLite pages on disk", "n/a" if disk is None else f"{disk:.1f}", "", "")
    table.add_row("  entries table: leaf_hash, tree_index columns", f"{s['entries_columns_per_entry']:.1f}", "", "")
    table.add_row("  entries table: their two indexes (pages)", f"{s['entries_indexes_per_entry'] or 0:.1f}", "", "")
    table.add_row("  total beyond the entry", f"{ours_total:.1f}", f"{s['pymerkle_per_entry']:.1f}",
                  f"{ours_total / s['pymerkle_per_entry']:.2f}x")
    console.print(table)
    console.print(f"pymerkle: sha256 with 0x00/0x01 prefixes (RFC 9162 hashing); roots at {n:,} "
                  f"{'match' if r['roots_match'] else '[red]DIFFER[/red]'}, audit paths "
                  f"{'match' if r['paths_match'] else '[red]DIFFER[/red]'}. Its bytes/entry is the file minus "
                  "the entries (rowid, leaf hash, record headers, free space). Ours: one checkpoint per batch of "
                  f"{args.batch:,}; kind/subject/recorded_at columns and indexes are not counted.")
    console.print("Proofs: cold = no in-memory cache on either side (pymerkle's subroot cache cleared before each "
                  "proof); warm = each side's own cache, empty at the start and shared by the proofs in turn.")
    if proofs["pymerkle_warm"]["count"] < args.proofs or proofs["pymerkle_cold"]["count"] < args.cold_proofs:
        console.print(f"[yellow]pymerkle proofs stopped after {PYMERKLE_BUDGET_S:.0f} s per phase.[/yellow]")
    verdict = {True: "[green]MET[/green]", False: "[bold red]MISSED[/bold red]"}
    console.print(f"integration at least as fast as pymerkle's bulk append: {ours_rate / pm_rate:.2f}x "
                  f"{verdict[targets['integration_met']]}")
    for k in ("cold", "warm"):
        console.print(f"proofs ({k}, median) >= {PROOF_SPEEDUP_TARGET:.0f}x faster than pymerkle SqliteTree: "
                      f"{speed[k]:,.1f}x {verdict[targets[f'proof_{k}_met']]}")
    console.print(f"tree storage < {STORAGE_TARGET:.0f} bytes/entry: {s['tree_logical_per_entry']:.1f} "
                  f"{verdict[targets['storage_met']]}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries in both trees")
    parser.add_argument("--proofs", type=int, default=1000, help="random inclusion proofs per phase")
    parser.add_argument("--cold-proofs", type=int, default=50,
                        help="pymerkle proofs with its cache cleared before each (each reads every leaf hash)")
    parser.add_argument("--batch", type=int, default=10_000, help="entries per integration transaction")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary only")
    args = parser.parse_args()
    stream = sys.stderr if args.json else sys.stdout
    console = Console(file=stream, width=None if stream.isatty() else 130)
    pymerkle = load_pymerkle(console)
    n = args.entries
    indices = random.Random(args.seed).sample(range(n), min(n, args.proofs))
    console.print(f"Making {n:,} entries ...")
    bodies = make_bodies(n)
    with tempfile.TemporaryDirectory(prefix="aicommons-ledger-bench-") as tmp:
        db, pm_file = Path(tmp, "ledger.db"), Path(tmp, "pymerkle.db")
        engine = create_db_engine(f"sqlite:///{db}")
        upgrade(engine)
        ours = run_ours(engine, bodies, args, console)
        cold_t, cold_p = prove_ours(ours["factory"], indices, n, None, "ours: proofs, cold", console)
        warm_t, _ = prove_ours(ours["factory"], indices, n, store.FullTileCache(), "ours: proofs, warm", console)
        pm = run_pymerkle(pymerkle, pm_file, bodies, indices, args, console)
        pm_proofs = pm["phases"]["warm"][1]
        leaves = [merkle.hash_leaf(bodies[i]) for i in indices]
        ours_v = time_verify(lambda p=p, i=i, leaf=leaf: merkle.verify_inclusion(leaf, i, n, p, ours["root"])
                             for p, i, leaf in zip(cold_p, indices, leaves, strict=True))
        pm_v = time_verify(lambda p=p, i=i, leaf=leaf: pymerkle.verify_inclusion(leaf, pm["root"], p, i + 1, n)
                           for p, i, leaf in zip(pm_proofs, indices, leaves, strict=False))
        engine.dispose()
        results = {
            "entries": n, "entry_bytes": sum(map(len, bodies)), "pymerkle_version": pymerkle.__version__,
            "ours": ours, "pymerkle": pm, "roots_match": pm["root"] == ours["root"],
            "paths_match": all(p.path[1:] == o for p, o in zip(pm_proofs, cold_p, strict=False)),
            "proofs": {"ours_cold": stats(cold_t), "ours_warm": stats(warm_t),
                       **{f"pymerkle_{k}": stats(t) for k, (t, _) in pm["phases"].items()}},
            "verification": {"ours": stats(ours_v), "pymerkle": stats(pm_v)},
        }
        results["storage"] = storage(db, n, pm_file, results["entry_bytes"])
    report(results, args, console)


if __name__ == "__main__":
    main()
