"""What the portal asks of an engine (local processes or Slurm), and what an engine answers.

An engine keeps its own queue: ``submit`` always accepts a job it can ever run (as ``sbatch`` does) and
``poll`` advances it. The portal keeps the money: reservations and settlement stay in ``compute.service``;
an engine only reports what ran, for how long, on how many GPUs.

Lifecycle of one job, as an engine reports it::

    queued ─▶ starting ─▶ running ─▶ succeeded | failed | cancelled | timed_out | lost (reason says why)

An ended job stays in ``poll``'s answer until the portal ``acknowledge``s it (after it settled the job in
its own transaction), so an end is never dropped between the engine noticing it and the database
recording it; ``status`` answers for acknowledged jobs too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from aicommons.compute.models import JobState

ENDED = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT, JobState.LOST})


@dataclass(frozen=True)
class JobSpec:
    """One job as the portal hands it to an engine. ``job_id`` is the portal's id: submitting the same id
    twice answers the job already there, so a crash between ``submit`` and the commit loses nothing."""

    job_id: int
    command: tuple[str, ...] | None  # an argument list, executed directly; never through a shell
    script: str | None  # or a script's text, starting with "#!"; written to a file and executed directly
    gpus_per_node: int
    time_limit_seconds: int
    nodes: int = 1
    cpus_per_node: int = 1
    memory_mb: int = 1024
    environment: Mapping[str, str] = field(default_factory=dict)
    account: str | None = None  # the allocation's engine account (Slurm); informational on the local engine

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node


@dataclass(frozen=True)
class JobStatus:
    """What an engine knows of one job now. ``gpu_seconds`` is GPUs x elapsed wall seconds, rounded up."""

    engine_job_id: str
    state: JobState
    reason: str | None = None
    exit_code: int | None = None  # 128 + N when killed by signal N, as shells report it
    gpus: tuple[int, ...] = ()  # the GPU indices assigned (CUDA_VISIBLE_DEVICES), while and after running
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    gpu_seconds: int = 0  # so far, while running
    stdout_path: Path | None = None
    stderr_path: Path | None = None
    output_dir: Path | None = None

    @property
    def ended(self) -> bool:
        return self.state in ENDED


@dataclass(frozen=True)
class UsageReport:
    """GPU-seconds one engine job used (so far, when ``ended_at`` is None), as ``sacct`` reports them."""

    engine_job_id: str
    account: str | None
    state: JobState
    gpus: int
    gpu_seconds: int
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class AccountSpec:
    """One node of the account tree the portal owns: root -> member state -> allocation -> users."""

    name: str
    parent: str | None
    fairshare: int
    gpu_seconds_limit: int | None = None  # a hard GPU budget (Slurm: GrpTRESMins=gres/gpu on its QOS)
    users: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountChange:
    """One step of reconciling an engine's accounts with the portal: what ``--dry-run`` prints."""

    action: str  # "create", "modify" or "remove"
    account: str
    details: Mapping[str, object] = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    """An engine the portal runs jobs on."""

    name: str  # stored in Job.engine and UsageRecord.engine
    gpus_per_node: int  # the most GPUs one node has; submit_job refuses more (422)

    def submit(self, spec: JobSpec) -> JobStatus:
        """Queue the job (idempotent on ``spec.job_id``); raises ``Invalid`` for a job it can never run."""

    def poll(self, *, order: Sequence[str] = ()) -> list[JobStatus]:
        """Advance: notice ends, enforce time limits, start queued jobs (``order`` first, where the engine
        schedules itself), and answer every job not yet acknowledged."""

    def status(self, engine_job_id: str) -> JobStatus:
        """One job's status; raises ``NotFound`` for a job the engine never had."""

    def cancel(self, engine_job_id: str, *, reason: str | None = None) -> JobStatus:
        """Stop a queued or running job; its end comes through ``poll`` as cancelled."""

    def acknowledge(self, engine_job_id: str) -> None:
        """The portal has recorded this ended job: ``poll`` stops answering it."""

    def usage(self, *, since: datetime | None = None) -> list[UsageReport]:
        """GPU-seconds per job that ran since ``since`` (all jobs when None), running ones so far."""

    def sync_accounts(self, accounts: Sequence[AccountSpec], *, dry_run: bool = False) -> list[AccountChange]:
        """Make the engine's account tree match ``accounts``; answer the changes (made, or only planned)."""
