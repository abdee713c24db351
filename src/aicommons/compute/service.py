"""Jobs against allocations: a reservation of GPUs x time limit on submission, refused when it does not fit;
the real usage settled when the job ends, the rest released. Nobody overspends.

Concurrency: every reservation and settlement takes the allocation's row lock first, so on PostgreSQL fifty
simultaneous submissions against a budget that fits ten admit exactly ten (SQLite serialises all writers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.access import allocations
from aicommons.access.models import Allocation, AllocationStatus
from aicommons.compute.models import ACTIVE_STATES, Job, JobState, UsageRecord
from aicommons.errors import Conflict, Forbidden, NotFound, invalid_field
from aicommons.identity.policy import Principal
from aicommons.ledger import service as ledger

MAX_NODES = 64
MAX_TIME_LIMIT_SECONDS = 7 * 24 * 3600  # the facility's policy for one job
MIN_TIME_LIMIT_SECONDS = 60
MAX_ENVIRONMENT = 100
MAX_COMMAND_ARGS = 1000
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
RESERVED_ENV = frozenset({"CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "SLURM_JOB_ID", "AICOMMONS_JOB_ID",
                          "AICOMMONS_OUTPUT_DIR"})
FINISHED = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT, JobState.LOST)


@dataclass(frozen=True)
class JobRequest:
    allocation_id: int
    command: list[str] | None
    script: str | None
    nodes: int
    gpus_per_node: int
    cpus_per_node: int
    memory_mb: int
    time_limit_seconds: int
    environment: dict[str, str]


@dataclass(frozen=True)
class Usage:
    budget_gpu_seconds: int
    used_gpu_seconds: int
    reserved_gpu_seconds: int

    @property
    def remaining_gpu_seconds(self) -> int:
        return self.budget_gpu_seconds - self.used_gpu_seconds - self.reserved_gpu_seconds


def usage(session: Session, allocation: Allocation) -> Usage:
    used = session.scalar(select(func.coalesce(func.sum(UsageRecord.gpu_seconds), 0))
                          .where(UsageRecord.allocation_id == allocation.id))
    reserved = session.scalar(select(func.coalesce(func.sum(Job.reserved_gpu_seconds), 0))
                              .where(Job.allocation_id == allocation.id, Job.state.in_(ACTIVE_STATES)))
    return Usage(allocation.budget_gpu_seconds, int(used or 0), int(reserved or 0))


def _check_request(request: JobRequest, *, max_gpus_per_node: int) -> None:
    loc = ("body",)
    if (request.command is None) == (request.script is None):
        raise invalid_field((*loc, "command"), "give either a command (an argument list) or a script")
    if request.command is not None and not (0 < len(request.command) <= MAX_COMMAND_ARGS
                                            and all(isinstance(a, str) and "\x00" not in a for a in request.command)):
        raise invalid_field((*loc, "command"), f"a command is 1 to {MAX_COMMAND_ARGS} arguments, each a string")
    if request.script is not None and not request.script.startswith("#!"):
        raise invalid_field((*loc, "script"), "a script starts with its interpreter line, e.g. #!/bin/bash")
    if not 1 <= request.nodes <= MAX_NODES:
        raise invalid_field((*loc, "nodes"), f"from 1 to {MAX_NODES} nodes")
    if not 1 <= request.gpus_per_node <= max_gpus_per_node:
        raise invalid_field((*loc, "gpus_per_node"), f"from 1 to {max_gpus_per_node} GPUs, what a node has")
    if not 1 <= request.cpus_per_node <= 1024:
        raise invalid_field((*loc, "cpus_per_node"), "from 1 to 1024 CPUs")
    if not 1 <= request.memory_mb <= 16 * 1024 * 1024:
        raise invalid_field((*loc, "memory_mb"), "from 1 MB to 16 TB")
    if not MIN_TIME_LIMIT_SECONDS <= request.time_limit_seconds <= MAX_TIME_LIMIT_SECONDS:
        raise invalid_field((*loc, "time_limit_seconds"), f"the facility's policy allows {MIN_TIME_LIMIT_SECONDS} s "
                            f"to {MAX_TIME_LIMIT_SECONDS // 3600} hours per job")
    if len(request.environment) > MAX_ENVIRONMENT:
        raise invalid_field((*loc, "environment"), f"at most {MAX_ENVIRONMENT} variables")
    for name, value in request.environment.items():
        if not _ENV_NAME.fullmatch(name) or name in RESERVED_ENV:
            raise invalid_field((*loc, "environment", name), "not a variable name a job may set")
        if not isinstance(value, str) or "\x00" in value or len(value) > 10_000:
            raise invalid_field((*loc, "environment", name), "a value is a string of at most 10,000 characters")


def _spendable(session: Session, actor: Principal, allocation_id: int, moment: datetime) -> Allocation:
    allocation = session.get(Allocation, allocation_id)
    if allocation is None:
        raise NotFound(f"no allocation {allocation_id}")
    if not allocations.is_member(allocation, actor.person_id):
        raise Forbidden(f"you are not a member of allocation {allocation_id}")
    allocation = allocations.lock_for_spending(session, allocation_id)
    if allocation.status is not AllocationStatus.ACTIVE:
        raise Conflict(f"allocation {allocation_id} is {allocation.status.value}"
                       + (f": {allocation.status_reason}" if allocation.status_reason else ""))
    if moment.date() < allocation.starts_on:
        raise Conflict(f"allocation {allocation_id} starts on {allocation.starts_on}")
    if moment.date() > allocation.ends_on:
        raise Conflict(f"allocation {allocation_id} is expired: it ended on {allocation.ends_on}")
    return allocation


def submit_job(session: Session, *, actor: Principal, request: JobRequest, engine: str = "local",
               max_gpus_per_node: int = 8) -> Job:
    """Reserve GPUs x time limit against the allocation, or refuse (409) saying what remains."""
    _check_request(request, max_gpus_per_node=max_gpus_per_node)
    moment = clock.now()
    allocation = _spendable(session, actor, request.allocation_id, moment)
    reserve = request.nodes * request.gpus_per_node * request.time_limit_seconds
    remaining = usage(session, allocation).remaining_gpu_seconds
    if reserve > remaining:
        raise Conflict(f"the job reserves {reserve:,} GPU-seconds (GPUs x time limit); allocation "
                       f"{allocation.id} has {max(remaining, 0):,} remaining")
    job = Job(allocation_id=allocation.id, submitted_by_id=actor.person_id, engine=engine, state=JobState.QUEUED,
              command=request.command, script=request.script, nodes=request.nodes,
              gpus_per_node=request.gpus_per_node, cpus_per_node=request.cpus_per_node, memory_mb=request.memory_mb,
              time_limit_seconds=request.time_limit_seconds, environment=dict(request.environment),
              reserved_gpu_seconds=reserve, submitted_at=moment)
    session.add(job)
    session.flush()
    return job


def settle(session: Session, *, job_id: int, state: JobState, gpu_seconds: int, started_at: datetime | None,
           ended_at: datetime, exit_code: int | None = None, reason: str | None = None) -> Job:
    """The job ended: its real usage is charged, its reservation released, and the fact published."""
    if state not in FINISHED:
        raise ValueError(f"{state} is not an end state")
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    allocation = allocations.lock_for_spending(session, job.allocation_id)
    session.refresh(job, with_for_update=True)
    if job.state not in ACTIVE_STATES:
        return job  # settled already (an engine may report an end twice)
    job.state, job.used_gpu_seconds, job.exit_code, job.reason = state, max(gpu_seconds, 0), exit_code, reason
    job.started_at, job.ended_at = started_at or job.started_at, ended_at
    session.add(UsageRecord(allocation_id=allocation.id, member_state_code=allocation.member_state_code,
                            job_id=job.id, engine=job.engine, engine_job_id=job.engine_job_id or f"portal-{job.id}",
                            gpu_seconds=job.used_gpu_seconds, started_at=job.started_at, ended_at=ended_at))
    session.flush()
    ledger.record(session, kind="compute.job.finished", subject=ledger.urn("job", job.id), actor=None,
                  data={"allocation": ledger.urn("allocation", allocation.id), "gpu_seconds": job.used_gpu_seconds,
                        "outcome": state.value})
    if usage(session, allocation).remaining_gpu_seconds <= 0:
        allocations.mark_exhausted(session, allocation)
    return job

