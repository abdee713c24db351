"""Quotas without overspending, on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from contextlib import nullcontext
from datetime import timedelta

import pytest
from sqlalchemy import select

from aicommons import clock
from aicommons.access import allocations
from aicommons.access.models import Allocation, AllocationStatus, Track
from aicommons.compute import service
from aicommons.compute.models import Job, JobState
from aicommons.compute.service import JobRequest
from aicommons.database import unit_of_work
from aicommons.errors import Conflict, Forbidden, Invalid, NotFound
from aicommons.ledger.models import LedgerEntry
from tests.access.world import World, p


@pytest.fixture
def database_url(any_db_url):
    return any_db_url


@pytest.fixture
def granted(factory, people):
    """A fast-lane allocation of 100 GPU-hours for the DE researcher, granted through the council."""
    world = World(factory, people).build(reviewers=0)
    call_id = world.draft_call(pools={Track.FAST_LANE: 1_000})
    world.approve_call(call_id)
    pid = world.propose(call_id, "DE", track=Track.FAST_LANE, hours=100)
    closed = world.close(call_id)
    world.pass_checks(pid, at=closed)
    world.rank(call_id, at=closed)
    _, motion_id = world.propose_slate(call_id, at=closed)
    decided = world.decide(motion_id, at=closed)
    with factory() as s:
        allocation = s.scalar(select(Allocation))
        start = max(decided, clock.now().replace(year=allocation.starts_on.year, month=allocation.starts_on.month,
                                                 day=allocation.starts_on.day)) + timedelta(hours=1)
        return world, allocation.id, start


def request(allocation_id, gpus=1, hours=1, **changes):
    fields = {"allocation_id": allocation_id, "command": ["python", "train.py"], "script": None, "nodes": 1,
              "gpus_per_node": gpus, "cpus_per_node": 8, "memory_mb": 64_000,
              "time_limit_seconds": hours * 3600, "environment": {}}
    return JobRequest(**{**fields, **changes})


def submit(factory, world, allocation_id, at, who="DE", **kw):
    """Submit with the clock frozen at ``at``; ``at=None`` leaves the clock alone (the caller froze it once:
    ``frozen_at`` swaps a process-wide function, so threads must not each enter and leave it)."""
    with clock.frozen_at(at) if at else nullcontext(), unit_of_work(factory) as s:
        return service.submit_job(s, actor=p(world.researchers[who]), request=request(allocation_id, **kw)).id


def test_a_reservation_is_refused_when_it_does_not_fit_and_settling_releases_the_rest(granted, factory):
    world, allocation_id, at = granted
    first = submit(factory, world, allocation_id, at, gpus=8, hours=10)  # 80 of 100 GPU-hours reserved
    with pytest.raises(Conflict, match=r"has 72,000 remaining"):
        submit(factory, world, allocation_id, at, gpus=4, hours=6)
    with clock.frozen_at(at), unit_of_work(factory) as s:
        service.settle(s, job_id=first, state=JobState.SUCCEEDED, gpu_seconds=8 * 3600, started_at=at,
                       ended_at=at + timedelta(hours=1), exit_code=0)
    with factory() as s:
        use = service.usage(s, allocations.get_allocation(s, allocation_id))
        assert (use.used_gpu_seconds, use.reserved_gpu_seconds, use.remaining_gpu_seconds) == (28_800, 0, 331_200)
        entry = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "compute.job.finished")).one()
        assert json.loads(entry.body)["data"] == {"allocation": f"urn:aicommons:allocation:{allocation_id}",
                                       "gpu_seconds": 28_800, "outcome": "succeeded"}
    submit(factory, world, allocation_id, at, gpus=4, hours=6)


def test_fifty_simultaneous_submissions_against_room_for_ten_admit_exactly_ten(granted, factory):
    world, allocation_id, at = granted
    outcomes: list[str] = []
    barrier = threading.Barrier(50)

    def one():
        barrier.wait()
        try:
            submit(factory, world, allocation_id, None, gpus=1, hours=10)  # 10 GPU-hours: ten fit in 100
            outcomes.append("admitted")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=one) for _ in range(50)]
    with clock.frozen_at(at):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert outcomes.count("admitted") == 10 and outcomes.count("refused") == 40
    with factory() as s:
        assert len(list(s.scalars(select(Job)))) == 10
        assert service.usage(s, allocations.get_allocation(s, allocation_id)).remaining_gpu_seconds == 0


@pytest.mark.parametrize(("changes", "field"), [
    ({"gpus": 0}, "gpus_per_node"), ({"gpus": 9}, "gpus_per_node"),
    ({"time_limit_seconds": 8 * 24 * 3600}, "time_limit_seconds"),
    ({"command": None}, "command"), ({"command": []}, "command"),
    ({"environment": {"CUDA_VISIBLE_DEVICES": "0"}}, "CUDA_VISIBLE_DEVICES"),
])
def test_bad_job_requests_are_422_naming_the_field(granted, factory, changes, field):
    world, allocation_id, at = granted
    with pytest.raises(Invalid) as caught:
        submit(factory, world, allocation_id, at, **changes)
    assert caught.value.errors[0].loc[-1] == field


def test_who_may_spend_and_on_what(granted, factory):
    world, allocation_id, at = granted
    with pytest.raises(NotFound):
        submit(factory, world, allocation_id + 99, at)
    with pytest.raises(Forbidden, match="not a member"):
        submit(factory, world, allocation_id, at, who="FR")
    with clock.frozen_at(at), unit_of_work(factory) as s:
        allocations.revoke(s, actor=p(world.operator), allocation_id=allocation_id, reason="Terms breached.")
    with pytest.raises(Conflict, match="revoked: Terms breached"):
        submit(factory, world, allocation_id, at)


def test_spending_the_whole_budget_exhausts_the_allocation(granted, factory):
    world, allocation_id, at = granted
    job = submit(factory, world, allocation_id, at, gpus=8, hours=12)
    with clock.frozen_at(at), unit_of_work(factory) as s:
        service.settle(s, job_id=job, state=JobState.TIMED_OUT, gpu_seconds=100 * 3600, started_at=at,
                       ended_at=at + timedelta(hours=12, minutes=30))
        service.settle(s, job_id=job, state=JobState.SUCCEEDED, gpu_seconds=1, started_at=at, ended_at=at)
    with factory() as s:
        assert allocations.get_allocation(s, allocation_id).status is AllocationStatus.EXHAUSTED
        assert s.get(Job, job).state is JobState.TIMED_OUT, "an end reported twice is settled once"
    with pytest.raises(Conflict, match="exhausted"):
        submit(factory, world, allocation_id, at)
