"""The loop between the database and an engine: hand queued jobs over, order the queue by fair share,
follow jobs as they start, settle them as they end.

One ``tick``:

1. every active job of this engine not yet handed over is submitted (``submit`` is idempotent on the job
   id, so a crash between the engine accepting a job and the commit recording its engine id is harmless);
   a job the engine can never run ends failed, charged nothing;
2. a job whose allocation was revoked or has expired is cancelled on the engine;
3. the queue is ordered by ``fairshare.queue_order`` (contribution shares, usage decayed with
   ``half_life``, then age) and the engine polled with that order;
4. a job the engine started is marked running; a job that ended is settled through ``service.settle``
   (usage record, reservation released, ``compute.job.finished`` in the same transaction) and only then
   acknowledged to the engine, so an end is never lost: a crash before the acknowledgement settles it again,
   which ``settle`` answers as already done.

Each job's settlement is its own unit of work: one that fails is logged and retried on the next tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aicommons import clock
from aicommons.access.models import Allocation, AllocationStatus
from aicommons.compute import fairshare, service
from aicommons.compute.engines.base import Engine, JobSpec, JobStatus
from aicommons.compute.models import ACTIVE_STATES, Job, JobState, UsageRecord
from aicommons.database import unit_of_work
from aicommons.errors import DomainError, NotFound
from aicommons.governance import service as governance

log = logging.getLogger("aicommons.compute")

Shares = Callable[[Session], Mapping[str, Fraction]]


def shares_in_force(session: Session) -> dict[str, Fraction]:
    """Each member state's share under the contribution scale in force (none in force: every share 0, so
    states rank by their decayed usage alone)."""
    scale = governance.scale_in_force(session)
    return {row.member_state_code: Fraction(row.share) for row in scale.shares} if scale else {}


@dataclass(frozen=True)
class Tick:
    """What one tick did, by portal job id."""

    submitted: tuple[int, ...] = ()
    cancelled: tuple[int, ...] = ()
    started: tuple[int, ...] = ()
    settled: tuple[int, ...] = ()
    order: tuple[int, ...] = ()  # the queue as handed to the engine


def job_spec(job: Job) -> JobSpec:
    return JobSpec(job_id=job.id, command=tuple(job.command) if job.command is not None else None,
                   script=job.script, nodes=job.nodes, gpus_per_node=job.gpus_per_node,
                   cpus_per_node=job.cpus_per_node, memory_mb=job.memory_mb,
                   time_limit_seconds=job.time_limit_seconds, environment=dict(job.environment),
                   account=f"allocation-{job.allocation_id}")


def _stop_reason(allocation: Allocation, today: date) -> str | None:
    if allocation.status is AllocationStatus.REVOKED:
        return f"allocation {allocation.id} was revoked" + (f": {allocation.status_reason}"
                                                            if allocation.status_reason else "")
    if allocation.status is AllocationStatus.EXPIRED or allocation.ends_on < today:
        return f"allocation {allocation.id} expired: it ended on {allocation.ends_on}"
    return None


class Dispatcher:
    """Runs one engine's jobs from the database; see the module docstring."""

    def __init__(self, factory: sessionmaker[Session], engine: Engine, *, shares: Shares = shares_in_force,
                 half_life: timedelta = fairshare.DEFAULT_HALF_LIFE) -> None:
        self.factory, self.engine, self.shares, self.half_life = factory, engine, shares, half_life

    def tick(self) -> Tick:
        submitted, cancelled, order, handed = self._hand_over()
        started, settled = [], []
        statuses = self.engine.poll(order=[str(job_id) for job_id in order])
        for status in statuses + self._missing(handed, {s.engine_job_id for s in statuses}):
            try:
                outcome, job_id = self._follow(status)
            except Exception:  # one job's trouble must not stop the others; it is retried next tick
                log.exception("could not record engine job %s", status.engine_job_id)
                continue
            (started if outcome == "started" else settled if outcome == "settled" else []).append(job_id)
        return Tick(tuple(submitted), tuple(cancelled), tuple(started), tuple(settled), tuple(order))

    def run(self, stop: threading.Event, *, interval_seconds: float = 1.0) -> None:
        """Tick until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("dispatcher tick failed; trying again")
            stop.wait(interval_seconds)

    # --- steps ---------------------------------------------------------------------------------------

    def _hand_over(self) -> tuple[list[int], list[int], tuple[int, ...], list[str]]:
        submitted, cancelled, never_ran = [], [], []
        with unit_of_work(self.factory) as session:
            today = clock.now().date()
            jobs = list(session.scalars(select(Job).where(Job.engine == self.engine.name,
                                                          Job.state.in_(ACTIVE_STATES)).order_by(Job.id)))
            for job in jobs:
                reason = _stop_reason(session.get(Allocation, job.allocation_id), today)
                if reason is not None:
                    cancelled.append(job.id)
                    if job.engine_job_id is None:
                        never_ran.append((job.id, JobState.CANCELLED, reason))
                    else:
                        self.engine.cancel(job.engine_job_id, reason=reason)  # its end comes through poll
                elif job.engine_job_id is None:
                    try:
                        job.engine_job_id = self.engine.submit(job_spec(job)).engine_job_id
                        submitted.append(job.id)
                    except DomainError as refused:
                        never_ran.append((job.id, JobState.FAILED, f"the {self.engine.name} engine refused it: "
                                          f"{refused}"))
            order = self._queue_order(session, [j for j in jobs if j.engine_job_id is not None
                                                and j.state is JobState.QUEUED and j.id not in cancelled])
            handed = [j.engine_job_id for j in jobs if j.engine_job_id is not None]
        for job_id, state, reason in never_ran:
            with unit_of_work(self.factory) as session:
                service.settle(session, job_id=job_id, state=state, gpu_seconds=0, started_at=None,
                               ended_at=clock.now(), reason=reason)
        return submitted, cancelled, order, handed

    def _missing(self, handed: list[str], answered: set[str]) -> list[JobStatus]:
        """Jobs the database holds active that ``poll`` did not answer: ended (answered by ``status``) or
        unknown to the engine (its records are gone), which ends them lost rather than leaving them open."""
        found = []
        for engine_job_id in handed:
            if engine_job_id in answered:
                continue
            try:
                found.append(self.engine.status(engine_job_id))
            except NotFound:
                found.append(JobStatus(engine_job_id, JobState.LOST, f"the {self.engine.name} engine has no "
                                       "record of it", ended_at=clock.now()))
        return found

    def _queue_order(self, session: Session, queued: list[Job]) -> tuple[int, ...]:
        if not queued:
            return ()
        now = clock.now()
        horizon = now - self.half_life * fairshare.FORGET_AFTER_HALF_LIVES
        usage = [fairshare.Usage(r.allocation_id, r.gpu_seconds, r.ended_at) for r in session.scalars(
            select(UsageRecord).where(UsageRecord.ended_at >= horizon))]
        wanted = {job.allocation_id for job in queued} | {u.allocation for u in usage}
        allocations = list(session.scalars(select(Allocation).where(Allocation.id.in_(wanted))))
        shares = dict(self.shares(session))
        for allocation in allocations:
            shares.setdefault(allocation.member_state_code, Fraction(0))
        return fairshare.queue_order(
            states=[fairshare.MemberState(code, share) for code, share in shares.items()],
            allocations=[fairshare.Allocation(a.id, a.member_state_code, a.budget_gpu_seconds) for a in allocations],
            usage=usage, jobs=[fairshare.QueuedJob(j.id, j.allocation_id, j.submitted_at) for j in queued],
            now=now, half_life=self.half_life).job_ids

    def _follow(self, status: JobStatus) -> tuple[str | None, int | None]:
        """Record what the engine says of one job: ('started' | 'settled' | None for nothing new, its id)."""
        with unit_of_work(self.factory) as session:
            job = session.scalar(select(Job).where(Job.engine == self.engine.name,
                                                   Job.engine_job_id == status.engine_job_id))
            if job is None:
                return None, None  # not the portal's (Slurm: submitted on the cluster; usage() counts it)
            job_id = job.id
            if status.ended:
                service.settle(session, job_id=job.id, state=status.state, gpu_seconds=status.gpu_seconds,
                               started_at=status.started_at, ended_at=status.ended_at or clock.now(),
                               exit_code=status.exit_code, reason=status.reason)
                outcome = "settled"
            elif status.state in (JobState.STARTING, JobState.RUNNING) and job.state is not status.state:
                job.state, job.started_at = status.state, status.started_at
                outcome = "started"
            else:
                return None, job_id
        if outcome == "settled":
            self.engine.acknowledge(status.engine_job_id)  # only after the settlement committed
        return outcome, job_id
