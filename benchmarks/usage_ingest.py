"""Usage ingestion benchmark: synthetic ``sacct`` lines through compute/sacct.py against a plain csv.DictReader.

Issue 6's claim: usage ingestion of 1,000,000 synthetic ``sacct`` records at 50,000 records/s or more, memory
flat. The lines (``--parsable2 --noheader --allocations``, the fields the Slurm engine asks for) are written to
a temporary file as they are generated, never held in a list; each side then reads that same file line by line,
as the engine reads sacct's output, and ends with GPU-seconds per account.

- ours: ``aggregate(parse_lines(file))``: every field checked, times read as aware UTC datetimes, GPUs
  from ``AllocTRES`` including the typed forms, a record object per line;
- peer: the naive approach, ``csv.DictReader(file, delimiter="|")``, a dict per line, AllocTRES split into a
  dict, ``datetime.fromisoformat`` for the times, no checks at all.

Both sides must arrive at the same totals. Memory: the resident set size is sampled every 50,000 lines
(``/proc/self/statm``; ``getrusage`` elsewhere), and each side is run again under tracemalloc for the peak of
Python allocations. Flat = the RSS grows by at most 8 MiB between 10% of the lines and the end (a list of
1,000,000 records would take hundreds). It is a measurement, not a test: it exits 0 even when the target is
missed, and says so.

    .venv/bin/python benchmarks/usage_ingest.py [--records 1000000] [--seed 1] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from aicommons.compute.sacct import FIELDS, NO_TIME, aggregate, parse_lines

RATE_TARGET = 50_000  # records/s
FLAT_LIMIT_MIB = 8.0  # RSS growth allowed between 10% of the lines and the end
SAMPLE_EVERY = 50_000
STATES = ("COMPLETED",) * 14 + ("FAILED", "TIMEOUT", "CANCELLED by 1000", "OUT_OF_MEMORY", "NODE_FAIL")
GPU_COUNTS = (0, 1, 1, 2, 2, 4, 4, 8)
GPU_TYPES = ("a100", "h100", "l40s")


def synthetic_lines(n: int, seed: int) -> Iterator[str]:
    """``n`` sacct lines, one at a time: mostly finished jobs, some running, pending, arrays, typed GPUs."""
    rng, base = random.Random(seed), datetime(2025, 1, 1)
    accounts = [f"{country}_p{k:03d}" for country in ("at", "be", "de", "es", "fr", "it", "nl", "pl")
                for k in range(25)]
    for i in range(n):
        job_id = f"{100_000 + i}" if i % 10 else f"{100_000 + i}_{i % 97}"
        account, kind = rng.choice(accounts), rng.random()
        if kind < 0.02:  # pending: never started, nothing allocated
            yield f"{job_id}|{account}|PENDING|Unknown|Unknown|0|\n"
            continue
        start = base + timedelta(seconds=i * 31 + rng.randrange(3600))
        elapsed, gpus = rng.randrange(1, 172_800), rng.choice(GPU_COUNTS)
        gres = f",gres/gpu:{rng.choice(GPU_TYPES)}={gpus},gres/gpu={gpus}" if gpus else ""
        tres = f"billing={gpus * 8 or 1},cpu={gpus * 8 or 1}{gres},mem={gpus * 64 or 4}G,node=1"
        if kind < 0.07:  # running: no end yet
            yield f"{job_id}|{account}|RUNNING|{start.isoformat()}|Unknown|{elapsed}|{tres}\n"
            continue
        end = start + timedelta(seconds=elapsed)
        yield (f"{job_id}|{account}|{rng.choice(STATES)}|{start.isoformat()}|{end.isoformat()}|{elapsed}|"
               f"{tres}\n")


def peer_ingest(lines: Iterable[str]) -> dict[str, int]:
    """The naive approach: a csv.DictReader row per line, no validation."""
    totals: dict[str, int] = {}
    for row in csv.DictReader(lines, fieldnames=FIELDS, delimiter="|"):
        tres = dict(item.split("=", 1) for item in row["AllocTRES"].split(",") if item)
        row["gpus"] = int(tres.get("gres/gpu", 0))
        row["start"] = None if row["Start"] in NO_TIME else datetime.fromisoformat(row["Start"]).replace(tzinfo=UTC)
        row["end"] = None if row["End"] in NO_TIME else datetime.fromisoformat(row["End"]).replace(tzinfo=UTC)
        row["gpu_seconds"] = int(row["ElapsedRaw"]) * row["gpus"]
        totals[row["Account"]] = totals.get(row["Account"], 0) + row["gpu_seconds"]
    return totals


def ours_ingest(lines: Iterable[str]) -> dict[str, int]:
    return aggregate(parse_lines(lines))


def rss_bytes() -> int:
    """The resident set size now (Linux); elsewhere the peak so far, which is the best getrusage offers."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def sampled(lines: Iterable[str], samples: list[tuple[int, int]]) -> Iterator[str]:
    """Pass the lines through, noting (lines so far, RSS) every SAMPLE_EVERY lines and at the end."""
    count = 0
    for count, line in enumerate(lines, start=1):
        if count % SAMPLE_EVERY == 0:
            samples.append((count, rss_bytes()))
        yield line
    samples.append((count, rss_bytes()))


def measure(ingest: Callable[[Iterable[str]], dict[str, int]], path: Path, n: int) -> dict:
    samples: list[tuple[int, int]] = [(0, rss_bytes())]
    with path.open(encoding="ascii", newline="") as lines:
        t0 = time.perf_counter()
        totals = ingest(sampled(lines, samples))
        seconds = time.perf_counter() - t0
    tenth = next((rss for count, rss in samples if count >= n // 10), samples[-1][1])
    with path.open(encoding="ascii", newline="") as lines:
        tracemalloc.start()
        ingest(lines)
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"seconds": seconds, "records_per_s": n / seconds, "totals": totals,
            "rss_start_mib": samples[0][1] / 2**20, "rss_end_mib": samples[-1][1] / 2**20,
            "rss_growth_mib": (max(r for _, r in samples) - samples[0][1]) / 2**20,
            "rss_growth_after_tenth_mib": (max(r for c, r in samples if c >= n // 10) - tenth) / 2**20,
            "tracemalloc_peak_kib": traced_peak / 1024,
            "rss_samples": [[c, round(r / 2**20, 2)] for c, r in samples]}


def report(n: int, file_bytes: int, ours: dict, peer: dict, json_only: bool, console: Console) -> dict:
    agree = ours["totals"] == peer["totals"]
    flat = ours["rss_growth_after_tenth_mib"] <= FLAT_LIMIT_MIB
    met = ours["records_per_s"] >= RATE_TARGET and flat and agree
    summary = {
        "setup": {"records": n, "file_bytes": file_bytes, "python": platform.python_version(),
                  "cpus": os.cpu_count(), "accounts": len(ours["totals"]), "totals_agree": agree},
        **{side: {k: v for k, v in r.items() if k != "totals"} for side, r in (("ours", ours), ("peer", peer))},
        "gpu_seconds_total": sum(ours["totals"].values()),
        "process_peak_rss_mib": rss_bytes() / 2**20 if sys.platform == "darwin" else
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "targets": {"records_per_s": RATE_TARGET, "rate_met": ours["records_per_s"] >= RATE_TARGET,
                    "flat_limit_mib": FLAT_LIMIT_MIB, "flat_met": flat, "met": met,
                    "ours_vs_peer_rate": ours["records_per_s"] / peer["records_per_s"]},
    }
    if json_only:
        print(json.dumps(summary, indent=2))
        return summary
    table = Table(title=f"Usage ingestion: {n:,} sacct lines ({file_bytes / 2**20:,.0f} MiB), "
                        f"Python {platform.python_version()}")
    for column in ("measure", "ours (compute/sacct.py)", "peer (csv.DictReader)", "ours vs peer"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row("records/s", f"{ours['records_per_s']:,.0f}", f"{peer['records_per_s']:,.0f}",
                  f"{ours['records_per_s'] / peer['records_per_s']:.2f}x")
    table.add_row("seconds", f"{ours['seconds']:.2f}", f"{peer['seconds']:.2f}", "")
    table.add_row("RSS growth over the run, MiB", f"{ours['rss_growth_mib']:.1f}", f"{peer['rss_growth_mib']:.1f}",
                  "")
    table.add_row("RSS growth after the first 10%, MiB", f"{ours['rss_growth_after_tenth_mib']:.1f}",
                  f"{peer['rss_growth_after_tenth_mib']:.1f}", "")
    table.add_row("tracemalloc peak, KiB", f"{ours['tracemalloc_peak_kib']:,.0f}",
                  f"{peer['tracemalloc_peak_kib']:,.0f}", "")
    table.add_row("accounts / GPU-seconds total", f"{len(ours['totals'])} / {sum(ours['totals'].values()):,}",
                  f"{len(peer['totals'])} / {sum(peer['totals'].values()):,}", "agree" if agree else "DIFFER")
    console.print(table)
    console.print("Ours checks every field (line and field named on error), refuses job steps, reads typed-only "
                  "GPU items and builds a frozen record per line; the peer checks nothing. Both read the same "
                  "file; tracemalloc peaks come from a second, traced pass of each.")
    verdict = "[green]PASS[/green]" if met else "[bold red]MISS[/bold red]"
    console.print(f"target >= {RATE_TARGET:,} records/s, memory flat (<= {FLAT_LIMIT_MIB:.0f} MiB RSS growth after "
                  f"10%), totals agree: {ours['records_per_s']:,.0f} records/s, "
                  f"+{ours['rss_growth_after_tenth_mib']:.1f} MiB, {'agree' if agree else 'differ'}: {verdict}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="synthetic sacct lines")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary only")
    args = parser.parse_args()
    if args.records < 1:
        parser.error("--records must be at least 1")
    stream = sys.stderr if args.json else sys.stdout
    console = Console(file=stream, width=None if stream.isatty() else 130)
    with tempfile.TemporaryDirectory(prefix="aicommons-usage-bench-") as tmp:
        path = Path(tmp, "sacct.txt")
        console.print(f"Writing {args.records:,} synthetic sacct lines ...")
        with path.open("w", encoding="ascii", newline="") as out:
            out.writelines(synthetic_lines(args.records, args.seed))
        console.print("Ingesting: ours ...")
        ours = measure(ours_ingest, path, args.records)
        console.print("Ingesting: peer ...")
        peer = measure(peer_ingest, path, args.records)
        report(args.records, path.stat().st_size, ours, peer, args.json, console)


if __name__ == "__main__":
    main()
