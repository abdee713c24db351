"""Slurm's own accounting, read: ``sacct`` output lines to usage records, GPU-seconds per account. Pure.

The engine runs (``SACCT_ARGUMENTS`` plus its time window)::

    sacct --parsable2 --noheader --allocations --format=JobID,Account,State,Start,End,ElapsedRaw,AllocTRES

and hands the lines here. One line per job allocation, fields separated by ``|``, no trailing ``|``::

    4|de_p42|COMPLETED|2025-06-01T12:00:00|2025-06-01T12:00:02|2|billing=1,cpu=1,gres/gpu=2,node=1

Fields, as read:

- ``JobID``: kept as text (``123``, array ``123_4`` / ``123_[1-9%2]``, heterogeneous ``123+0``). A step
  (``123.batch``, ``123.0``) is refused: steps repeat their allocation's GPUs, and counting them would
  charge the account twice; ``--allocations`` leaves them out.
- ``Account``: the Slurm account, which the Slurm engine names after the allocation. Must not be empty.
- ``State``: the base state (``CANCELLED by 1000`` reads ``CANCELLED``); any upper-case word is accepted,
  so states added by newer Slurm versions still parse.
- ``Start``, ``End``: Slurm prints local time without a zone (``SLURM_TIME_FORMAT`` standard); ``tz`` says
  which zone that is (default UTC: run sacct with ``TZ=UTC``). A local time the daylight-saving change
  repeats is read as its first occurrence (``fold=0``). Read as aware UTC datetimes; ``Unknown`` and
  ``None`` (not started, not ended) read as ``None``. A time carrying an offset keeps it.
- ``ElapsedRaw``: whole seconds (for a running job, so far).
- ``AllocTRES``: the GPUs are the ``gres/gpu=N`` item. Slurm adds ``gres/gpu:TYPE=N`` items for typed GPUs
  alongside it; they are a breakdown of the same GPUs, so they are summed only when the untyped item is
  absent. No GPU item (CPU-only or never-allocated job, or an empty field): 0 GPUs.

``gpu_seconds = ElapsedRaw x GPUs``, an integer, as the notes on running Slurm check it against ``sacct``.

Malformed lines. ``parse_lines`` raises ``SacctLineError`` (a ``ValueError``) naming the 1-based line
number and the field, at the first bad line: usage is money, and a silently skipped line would be usage
never charged. A caller that must keep going (a nightly import that reports problems) passes a list as
``errors``; bad lines are then appended to it and skipped, and the caller decides what to do with them.
Blank lines are skipped. Parsing streams: one line in memory at a time, whatever the input's length.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

FIELDS = ("JobID", "Account", "State", "Start", "End", "ElapsedRaw", "AllocTRES")
SACCT_ARGUMENTS = ("sacct", "--parsable2", "--noheader", "--allocations", "--format=" + ",".join(FIELDS))
NO_TIME = ("Unknown", "None")

# [0-9], not \d: \d would also take other scripts' digits, which sacct never prints.
_JOB_ID = re.compile(r"[0-9]+(?:_[0-9]+|_\[[0-9,%\-]+\])?(?:\+[0-9]+)?")
_STATE = re.compile(r"([A-Z][A-Z_]*)(?: by [0-9]+)?")
_TIME_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")
_GPU_TYPED = "gres/gpu:"


class SacctLineError(ValueError):
    """A line ``sacct`` could not have printed, or that we must not count; says where and what."""

    def __init__(self, line_number: int, field_name: str, message: str) -> None:
        super().__init__(f"sacct line {line_number}, {field_name}: {message}")
        self.line_number = line_number
        self.field = field_name


@dataclass(frozen=True, slots=True)
class UsageRecord:
    job_id: str
    account: str
    state: str
    start: datetime | None  # aware, UTC
    end: datetime | None  # aware, UTC
    elapsed_seconds: int
    gpus: int
    gpu_seconds: int  # elapsed_seconds x gpus


def _instant(text: str, zone: tzinfo, line_number: int, field_name: str) -> datetime | None:
    if text in NO_TIME:
        return None
    # fromisoformat alone would also take a bare date or a week date; sacct prints neither.
    if not _TIME_TEXT.match(text):
        raise SacctLineError(line_number, field_name, f"{text!r} is not a time like 2025-06-01T12:00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SacctLineError(line_number, field_name, f"{text!r} is not a valid time") from exc
    if moment.tzinfo is None:
        if zone is UTC:  # the common case (sacct run with TZ=UTC): no conversion needed
            return moment.replace(tzinfo=UTC)
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _count(text: str, line_number: int) -> int:
    if not text.isdigit() or not text.isascii():
        raise SacctLineError(line_number, "AllocTRES", f"GPU count {text!r} is not a whole number")
    return int(text)


def gpus_in_tres(tres: str, line_number: int = 0) -> int:
    """The GPUs an ``AllocTRES`` value lists: ``gres/gpu=N``, else the sum of ``gres/gpu:TYPE=N``, else 0."""
    if not tres:
        return 0
    typed, untyped = 0, None
    for item in tres.split(","):
        name, sign, value = item.partition("=")
        if not sign or not name:
            raise SacctLineError(line_number, "AllocTRES", f"{item!r} is not a name=value item")
        if name == "gres/gpu":
            untyped = _count(value, line_number)
        elif name.startswith(_GPU_TYPED):
            typed += _count(value, line_number)
    return typed if untyped is None else untyped


def parse_line(line: str, *, line_number: int = 1, tz: tzinfo = UTC) -> UsageRecord:
    """One ``sacct --parsable2`` line (without or with its line ending) as a usage record."""
    fields = line.rstrip("\r\n").split("|")
    if len(fields) != len(FIELDS):
        raise SacctLineError(line_number, "line", f"{len(fields)} fields, expected {len(FIELDS)} "
                             f"({','.join(FIELDS)})")
    job_id, account, state_text, start, end, elapsed_text, tres = fields
    if not _JOB_ID.fullmatch(job_id):
        step = "a job step (run sacct with --allocations); " if "." in job_id else ""
        raise SacctLineError(line_number, "JobID", f"{step}{job_id!r} is not a job allocation id")
    if not account:
        raise SacctLineError(line_number, "Account", "empty: usage must be charged to an account")
    state = _STATE.fullmatch(state_text)
    if state is None:
        raise SacctLineError(line_number, "State", f"{state_text!r} is not a Slurm job state")
    if not elapsed_text.isdigit() or not elapsed_text.isascii():
        raise SacctLineError(line_number, "ElapsedRaw", f"{elapsed_text!r} is not a whole number of seconds")
    elapsed, gpus = int(elapsed_text), gpus_in_tres(tres, line_number)
    return UsageRecord(job_id, account, state.group(1), _instant(start, tz, line_number, "Start"),
                       _instant(end, tz, line_number, "End"), elapsed, gpus, elapsed * gpus)


def parse_lines(lines: Iterable[str], *, tz: tzinfo = UTC,
                errors: list[SacctLineError] | None = None) -> Iterator[UsageRecord]:
    """Usage records, lazily, one per non-blank line; see the module docstring for malformed lines."""
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield parse_line(line, line_number=line_number, tz=tz)
        except SacctLineError as error:
            if errors is None:
                raise
            errors.append(error)


def aggregate(records: Iterable[UsageRecord]) -> dict[str, int]:
    """GPU-seconds per account (every account seen, 0 included), consuming the records as they come."""
    totals: dict[str, int] = defaultdict(int)
    for record in records:
        totals[record.account] += record.gpu_seconds
    return dict(totals)


def _time_text(moment: datetime | None, zone: tzinfo) -> str:
    if moment is None:
        return NO_TIME[0]
    if moment.tzinfo is None or moment.microsecond:
        raise ValueError("sacct times are aware and whole seconds")
    return moment.astimezone(zone).replace(tzinfo=None).isoformat()


def format_line(record: UsageRecord, *, tz: tzinfo = UTC, other_tres: str = "billing=1,cpu=1") -> str:
    """The line ``sacct`` prints for ``record`` (for fakes, benchmarks and round-trip tests)."""
    gpu = f",gres/gpu={record.gpus}" if record.gpus else ""
    tres = f"{other_tres}{gpu},node=1" if other_tres else gpu.lstrip(",")
    return "|".join((record.job_id, record.account, record.state, _time_text(record.start, tz),
                     _time_text(record.end, tz), str(record.elapsed_seconds), tres))
