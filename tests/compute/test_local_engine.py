"""The local engine with real processes: outcomes, time limits, cancel, GPU assignment, restarts, usage;
and the dispatcher that runs and settles portal jobs on it against a real database."""

from __future__ import annotations

import gc
import json
import math
import os
import random
import signal
import stat
import sys
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import select

from aicommons import clock
from aicommons.access import allocations
from aicommons.access.models import Allocation, Track
from aicommons.compute import service
from aicommons.compute.dispatcher import Dispatcher
from aicommons.compute.engines.base import Engine, JobSpec
from aicommons.compute.engines.local import LocalEngine, detect_gpus
from aicommons.compute.models import Job, JobState, UsageRecord
from aicommons.compute.service import JobRequest
from aicommons.database import unit_of_work
from aicommons.errors import Invalid, NotFound
from aicommons.ledger.models import LedgerEntry
from tests.access.world import World, p

SLOTS = 4
TRAP_TERM = ("import signal, sys, time\n"
             "signal.signal(signal.SIGTERM, lambda *_: print('got SIGTERM', flush=True))\n"
             "print('started', flush=True)\n"
             "for _ in range(600): time.sleep(0.05)\n")


def py(code: str, *args: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code, *args)


def spec(job_id, command=None, *, gpus=1, limit=30, script=None, **kw) -> JobSpec:
    return JobSpec(job_id=job_id, command=command, script=script, gpus_per_node=gpus, time_limit_seconds=limit, **kw)


@pytest.fixture
def make_engine():
    """Engines on virtual GPUs with a 1 s grace; whatever a failed test leaves running is stopped after it."""
    made = []

    def make(work_dir: Path, grace: float = 1.0) -> LocalEngine:
        made.append(LocalEngine(work_dir, gpu_indices=range(SLOTS), kill_grace_seconds=grace))
        return made[-1]

    yield make
    for work_dir in {engine.work_dir for engine in made}:
        last = LocalEngine(work_dir, gpu_indices=range(SLOTS), kill_grace_seconds=0)
        for status in last.poll():
            if not status.ended:
                last.cancel(status.engine_job_id, reason="the test ended")


@pytest.fixture
def local(tmp_path, make_engine) -> LocalEngine:
    return make_engine(tmp_path / "engine")


def wait_for(engine, job_id, states=None, timeout=15.0):
    """Poll until the job is in one of ``states`` (default: ended); returns its status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {s.engine_job_id: s for s in engine.poll()}
        status = found.get(str(job_id)) or engine.status(str(job_id))
        if (status.state in states) if states else status.ended:
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} is still {status.state} after {timeout} s")


def wait_for_output(status, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while text not in status.stdout_path.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in the job's output"
        time.sleep(0.02)


def test_a_job_runs_with_its_gpus_output_and_outputs_folder_and_succeeds(local):
    code = ("import os, time\n"
            "print('hello', os.environ['CUDA_VISIBLE_DEVICES'], flush=True)\n"
            "open(os.path.join(os.environ['AICOMMONS_OUTPUT_DIR'], 'model.txt'), 'w').write('weights')\n"
            "time.sleep(0.5)\n"
            "print('bye', sorted(os.environ), flush=True)\n")
    assert isinstance(local, Engine)
    queued = local.submit(spec(7, py(code), gpus=2, environment={"SEED": "1"}))
    assert queued.state is JobState.QUEUED and queued.stdout_path.exists()
    running = wait_for(local, 7, {JobState.RUNNING})
    assert running.gpus == (0, 1)
    time.sleep(0.2)
    assert running.stdout_path.read_text() == "hello 0,1\n", "the log is readable while the job runs"
    done = wait_for(local, 7)
    assert (done.state, done.exit_code, done.reason) == (JobState.SUCCEEDED, 0, None)
    env = done.stdout_path.read_text().splitlines()[1]
    assert "SEED" in env and "AICOMMONS_JOB_ID" in env and "AICOMMONS_OUTPUT_DIR" in env
    assert (done.output_dir / "model.txt").read_text() == "weights"
    assert local.submit(spec(7, py(code), gpus=2)).state is JobState.SUCCEEDED, "submitting twice is idempotent"
    assert done.stdout_path == local.work_dir / "jobs" / "7" / "stdout.log"


def test_a_command_is_never_given_to_a_shell_and_the_server_environment_does_not_leak(local, monkeypatch):
    monkeypatch.setenv("AICOMMONS_SECRET_KEY", "server-secret")
    hostile = "$(touch pwned); echo `id` > pwned2 && exit 9"
    local.submit(spec(1, py("import os, sys; print(sys.argv[1]); print(os.environ.get('AICOMMONS_SECRET_KEY'))",
                             hostile)))
    local.submit(spec(2, script="#!/bin/sh\necho \"script as $0 with CUDA=$CUDA_VISIBLE_DEVICES\"\nexit 4\n"))
    first, second = wait_for(local, 1), wait_for(local, 2)
    assert first.stdout_path.read_text() == f"{hostile}\nNone\n" and first.state is JobState.SUCCEEDED
    assert not list(local.work_dir.rglob("pwned*"))
    script = local.work_dir / "jobs" / "2" / "job-script"
    assert stat.S_IMODE(script.stat().st_mode) == 0o700
    assert second.stdout_path.read_text() == f"script as {script} with CUDA=1\n"
    assert (second.state, second.exit_code) == (JobState.FAILED, 4)
    assert stat.S_IMODE((local.work_dir / "state.json").stat().st_mode) == 0o600


def test_a_failing_job_keeps_its_exit_code_and_a_missing_program_is_127(local):
    local.submit(spec(1, py("import sys; print('oops', file=sys.stderr); sys.exit(3)")))
    local.submit(spec(2, ("/nonexistent/train",)))
    failed, missing = wait_for(local, 1), wait_for(local, 2)
    assert (failed.state, failed.exit_code, failed.reason) == (JobState.FAILED, 3, "it exited with code 3")
    assert failed.stderr_path.read_text() == "oops\n"
    assert (missing.state, missing.exit_code) == (JobState.FAILED, 127)
    assert "cannot execute /nonexistent/train" in missing.reason


def test_a_time_limit_sends_sigterm_then_sigkill_after_the_grace_period(local):
    local.submit(spec(1, py(TRAP_TERM), limit=1))
    started = time.monotonic()
    done = wait_for(local, 1)
    elapsed = time.monotonic() - started
    assert done.state is JobState.TIMED_OUT and "time limit of 1 s" in done.reason
    assert done.stdout_path.read_text() == "started\ngot SIGTERM\n", "SIGTERM first, and the job ignored it"
    assert 2.0 <= elapsed < 4.0, "limit 1 s + grace 1 s, then SIGKILL"
    assert done.gpus == (0,) and done.gpu_seconds == math.ceil((done.ended_at - done.started_at).total_seconds())


def test_cancel_stops_a_running_job_and_a_queued_one_never_starts(local):
    local.submit(spec(1, py(TRAP_TERM), gpus=SLOTS))
    local.submit(spec(2, py("print('never')"), gpus=1))
    wait_for_output(wait_for(local, 1, {JobState.RUNNING}), "started")  # its SIGTERM handler is in place
    assert local.status("2").state is JobState.QUEUED, "no GPU is free for it"
    queued = local.cancel("2", reason="changed my mind")
    assert (queued.state, queued.reason, queued.gpu_seconds, queued.started_at) == (
        JobState.CANCELLED, "changed my mind", 0, None)
    stopping = local.cancel("1")
    assert stopping.state is JobState.RUNNING and stopping.reason.startswith("stopping (cancelled)")
    done = wait_for(local, 1)
    assert done.state is JobState.CANCELLED and "got SIGTERM" in done.stdout_path.read_text()
    assert local.cancel("1").state is JobState.CANCELLED, "cancelling an ended job changes nothing"
    assert local.status("2").stdout_path.read_text() == ""


def test_gpu_assignment_never_overlaps_and_jobs_wait_for_busy_gpus(local):
    rng = random.Random(20260306)
    code = ("import json, os, sys, time\n"
            "start = time.time(); time.sleep(float(sys.argv[1])); end = time.time()\n"
            "json.dump([os.environ['CUDA_VISIBLE_DEVICES'], start, end], "
            "open(os.path.join(os.environ['AICOMMONS_OUTPUT_DIR'], 'seen.json'), 'w'))\n")
    wanted = {i: rng.randint(1, SLOTS) for i in range(1, 17)}
    for i, gpus in wanted.items():
        local.submit(spec(i, py(code, str(rng.uniform(0.1, 0.5))), gpus=gpus))
    waited = False
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        statuses = local.poll()
        running = [s for s in statuses if s.state in (JobState.STARTING, JobState.RUNNING)]
        assigned = [gpu for s in running for gpu in s.gpus]
        assert len(assigned) == len(set(assigned)) and set(assigned) <= set(range(SLOTS))
        assert all(len(s.gpus) == wanted[int(s.engine_job_id)] for s in running)
        free = SLOTS - len(assigned)
        waited |= any(s.state is JobState.QUEUED and wanted[int(s.engine_job_id)] > free for s in statuses)
        if all(s.ended for s in statuses):
            break
        time.sleep(0.02)
    assert all(s.state is JobState.SUCCEEDED for s in statuses), [s.reason for s in statuses]
    assert waited, "some job had to wait for GPUs"
    # What the jobs themselves saw: two jobs that ran at the same time never shared a GPU.
    seen = {s.engine_job_id: json.loads((s.output_dir / "seen.json").read_text()) for s in statuses}
    for a, (gpus_a, start_a, end_a) in seen.items():
        assert len(gpus_a.split(",")) == wanted[int(a)]
        for b, (gpus_b, start_b, end_b) in seen.items():
            if a < b and start_a < end_b and start_b < end_a:
                assert not set(gpus_a.split(",")) & set(gpus_b.split(",")), (a, b)


def test_the_queue_starts_jobs_in_the_order_given_then_oldest_first_without_backfill(tmp_path):
    engine = LocalEngine(tmp_path / "engine", gpu_indices=(0, 1))
    engine.submit(spec(1, py("import time; time.sleep(0.3)"), gpus=2))
    started = wait_for(engine, 1, {JobState.RUNNING})
    assert started.gpus == (0, 1)
    for job_id, gpus in ((2, 1), (3, 2), (4, 1)):
        engine.submit(spec(job_id, py("import time; time.sleep(0.3)"), gpus=gpus))
    first = {}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(first) < 4:
        for s in engine.poll(order=["3", "4"]):
            if s.started_at is not None:
                first.setdefault(s.engine_job_id, s.started_at)
        time.sleep(0.02)
    assert sorted(first, key=first.get) == ["1", "3", "4", "2"]


def test_the_gpu_inventory_comes_from_nvidia_smi_or_else_virtual_slots(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nvidia-smi"
    fake.write_text('#!/bin/sh\n[ "$1 $2" = "--query-gpu=index --format=csv,noheader" ] && printf "1\\n0\\n"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert detect_gpus(4) == (0, 1)
    engine = LocalEngine(tmp_path / "engine", virtual_gpus=4)
    assert (engine.gpu_indices, engine.gpus_per_node) == ((0, 1), 2)
    fake.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2; exit 9\n")
    assert detect_gpus(3) == (0, 1, 2), "a broken driver: virtual slots"
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert detect_gpus(4) == (0, 1, 2, 3)


def test_bad_jobs_are_refused_naming_the_field(local):
    for bad, field in ((spec(1, py("1"), gpus=SLOTS + 1), "gpus_per_node"), (spec(1, py("1"), nodes=2), "nodes"),
                       (spec(1, script="echo no interpreter"), "script"), (spec(1), "command"),
                       (spec(1, py("1"), limit=0), "time_limit_seconds")):
        with pytest.raises(Invalid) as caught:
            local.submit(bad)
        assert caught.value.errors[0].loc[-1] == field
    for unknown in ("99", "../state.json"):
        with pytest.raises(NotFound):
            local.status(unknown)


def test_a_new_engine_re_attaches_to_running_jobs_follows_them_and_enforces_their_limits(tmp_path, make_engine):
    first = make_engine(tmp_path / "engine")
    first.submit(spec(1, py("import time; print('a', flush=True); time.sleep(1.5); print('b')"), gpus=2))
    first.submit(spec(2, py(TRAP_TERM), limit=2))
    wait_for_output(wait_for(first, 1, {JobState.RUNNING}), "a")
    wait_for_output(wait_for(first, 2, {JobState.RUNNING}), "started")
    del first  # the server stops; its jobs go on

    second = make_engine(tmp_path / "engine")
    again = second.status("1")
    assert again.state is JobState.RUNNING and again.gpus == (0, 1)
    second.submit(spec(3, py("1"), gpus=2))
    second.poll()
    assert second.status("3").state is JobState.QUEUED, "the re-attached jobs still hold GPUs 0, 1 and 2"
    done = wait_for(second, 1)
    assert (done.state, done.exit_code) == (JobState.SUCCEEDED, 0)
    assert done.stdout_path.read_text() == "a\nb\n"
    limited = wait_for(second, 2)
    assert limited.state is JobState.TIMED_OUT, "the new engine signals a job it did not start"
    assert "got SIGTERM" in limited.stdout_path.read_text()
    second.acknowledge("1")
    assert "1" not in {s.engine_job_id for s in second.poll()}
    assert second.status("1").state is JobState.SUCCEEDED, "an acknowledged job is still answered"


def test_a_job_killed_while_no_engine_watched_is_lost_but_one_whose_exit_was_recorded_is_not(tmp_path, make_engine):
    first = make_engine(tmp_path / "engine")
    code = ("import os, time\n"
            "open(os.path.join(os.environ['AICOMMONS_OUTPUT_DIR'], 'pid'), 'w').write(str(os.getpid()))\n"
            "time.sleep(30)\n")
    first.submit(spec(1, py(code), gpus=2))
    first.submit(spec(2, py(code), gpus=1))
    one, two = wait_for(first, 1, {JobState.RUNNING}), wait_for(first, 2, {JobState.RUNNING})
    while not all((s.output_dir / "pid").exists() for s in (one, two)):
        time.sleep(0.02)
    supervisor = json.loads((tmp_path / "engine" / "jobs" / "1" / "supervisor.json").read_text())["pid"]
    os.killpg(supervisor, signal.SIGKILL)  # the whole group, behind the engine's back
    os.kill(int((two.output_dir / "pid").read_text()), signal.SIGKILL)  # only the job; its supervisor records it
    time.sleep(0.3)
    del first
    gc.collect()

    second = make_engine(tmp_path / "engine")
    lost, killed = second.status("1"), second.status("2")
    assert lost.state is JobState.LOST and "without an exit status" in lost.reason
    assert lost.gpu_seconds <= 2 * math.ceil((datetime.now(UTC) - lost.started_at).total_seconds())
    assert (killed.state, killed.exit_code) == (JobState.FAILED, 128 + signal.SIGKILL)
    assert {s.engine_job_id for s in second.poll()} == {"1", "2"}, "both are reported until acknowledged"
    assert second.submit(spec(3, py("1"), gpus=SLOTS)).state is JobState.QUEUED
    assert wait_for(second, 3).state is JobState.SUCCEEDED, "the lost job's GPUs are free again"


def test_usage_is_gpus_times_elapsed_seconds_within_a_second(local):
    before = datetime.now(UTC)
    local.submit(spec(1, py("import time; time.sleep(1.2)"), gpus=3))
    done = wait_for(local, 1)
    after = datetime.now(UTC)
    elapsed = (done.ended_at - done.started_at).total_seconds()
    assert before <= done.started_at < done.ended_at <= after
    assert 1.2 <= elapsed < 2.2
    assert done.gpu_seconds == 3 * math.ceil(elapsed)
    assert abs(done.gpu_seconds / 3 - elapsed) < 1
    [report] = local.usage()
    assert (report.engine_job_id, report.gpus, report.gpu_seconds) == ("1", 3, done.gpu_seconds)
    assert local.usage(since=after + timedelta(seconds=1)) == []


# --- the dispatcher, on a real database -------------------------------------------------------------------

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
        start = max(decided, datetime.combine(allocation.starts_on, datetime.min.time(), UTC)) + timedelta(hours=1)
        return world, allocation.id, start


@pytest.fixture
def two_states(factory, people):
    """Fast-lane allocations of 100 GPU-hours for the DE and the FR researcher, granted in one slate."""
    world = World(factory, people).build(reviewers=0)
    call_id = world.draft_call(pools={Track.FAST_LANE: 1_000})
    world.approve_call(call_id)
    proposals = [world.propose(call_id, code, track=Track.FAST_LANE, hours=100) for code in ("DE", "FR")]
    closed = world.close(call_id)
    world.pass_checks(*proposals, at=closed)
    world.rank(call_id, at=closed)
    _, motion_id = world.propose_slate(call_id, at=closed)
    decided = world.decide(motion_id, at=closed)
    with factory() as s:
        granted = {a.member_state_code: a.id for a in s.scalars(select(Allocation))}
        starts = s.get(Allocation, granted["DE"]).starts_on
    return world, granted, max(decided, datetime.combine(starts, datetime.min.time(), UTC)) + timedelta(hours=1)


def submit(factory, world, allocation_id, at, command, gpus=1, who="DE"):
    request = JobRequest(allocation_id=allocation_id, command=list(command), script=None, nodes=1,
                         gpus_per_node=gpus, cpus_per_node=1, memory_mb=1024, time_limit_seconds=60, environment={})
    with clock.frozen_at(at), unit_of_work(factory) as s:
        return service.submit_job(s, actor=p(world.researchers[who]), request=request).id


def run_until(dispatcher, at, done, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with clock.frozen_at(at):
            dispatcher.tick()
        if done():
            return
        time.sleep(0.05)
    raise AssertionError("the dispatcher did not get there in time")


def test_the_dispatcher_starts_finishes_and_settles_portal_jobs(granted, factory, tmp_path, make_engine):
    world, allocation_id, at = granted
    engine = make_engine(tmp_path / "engine")
    dispatcher = Dispatcher(factory, engine, shares=lambda session: {"DE": Fraction(1)})
    ok = submit(factory, world, allocation_id, at, py("import time; time.sleep(1.1); print('trained')"), gpus=2)
    bad = submit(factory, world, allocation_id, at, py("import sys; sys.exit(5)"))

    def ended():
        with factory() as s:
            return all(s.get(Job, j).state not in (JobState.QUEUED, JobState.RUNNING) for j in (ok, bad))

    run_until(dispatcher, at, ended)
    with factory() as s:
        good, failed = s.get(Job, ok), s.get(Job, bad)
        assert (good.state, good.exit_code, good.engine_job_id) == (JobState.SUCCEEDED, 0, str(ok))
        assert (failed.state, failed.exit_code) == (JobState.FAILED, 5)
        assert good.used_gpu_seconds == 2 * math.ceil((good.ended_at - good.started_at).total_seconds()) >= 4
        records = {r.job_id: r.gpu_seconds for r in s.scalars(select(UsageRecord))}
        assert records == {ok: good.used_gpu_seconds, bad: failed.used_gpu_seconds}
        entries = [json.loads(e.body)["data"] for e in s.scalars(
            select(LedgerEntry).where(LedgerEntry.kind == "compute.job.finished"))]
        assert sorted(e["outcome"] for e in entries) == ["failed", "succeeded"]
        use = service.usage(s, allocations.get_allocation(s, allocation_id))
        assert sum(e["gpu_seconds"] for e in entries) == use.used_gpu_seconds and use.reserved_gpu_seconds == 0
    assert engine.poll() == [], "settled jobs were acknowledged to the engine"
    assert (engine.work_dir / "jobs" / str(ok) / "stdout.log").read_text() == "trained\n"


def test_revoking_an_allocation_cancels_its_running_job_and_charges_what_ran(granted, factory, tmp_path, make_engine):
    world, allocation_id, at = granted
    dispatcher = Dispatcher(factory, make_engine(tmp_path / "engine"), shares=lambda session: {})
    job_id = submit(factory, world, allocation_id, at, py("import time; time.sleep(30)"))

    def state():
        with factory() as s:
            return s.get(Job, job_id).state

    run_until(dispatcher, at, lambda: state() is JobState.RUNNING)
    with clock.frozen_at(at), unit_of_work(factory) as s:
        allocations.revoke(s, actor=p(world.operator), allocation_id=allocation_id, reason="Terms breached.")
    run_until(dispatcher, at, lambda: state() is JobState.CANCELLED)
    with factory() as s:
        job = s.get(Job, job_id)
        assert "revoked: Terms breached." in job.reason and job.used_gpu_seconds >= 1
        assert s.scalar(select(UsageRecord.gpu_seconds).where(UsageRecord.job_id == job_id)) == job.used_gpu_seconds


def test_a_job_the_engine_has_no_record_of_ends_lost_instead_of_staying_open(granted, factory, tmp_path, make_engine):
    world, allocation_id, at = granted
    job_id = submit(factory, world, allocation_id, at, py("import time; time.sleep(30)"))

    def state():
        with factory() as s:
            return s.get(Job, job_id).state

    run_until(Dispatcher(factory, make_engine(tmp_path / "engine"), shares=lambda s: {}), at,
              lambda: state() is JobState.RUNNING)
    wiped = Dispatcher(factory, make_engine(tmp_path / "fresh"), shares=lambda s: {})
    run_until(wiped, at, lambda: state() is JobState.LOST)
    with factory() as s:
        assert s.get(Job, job_id).reason == "the local engine has no record of it"


def test_the_dispatcher_starts_queued_jobs_in_fair_share_order_then_oldest_first(two_states, factory, tmp_path):
    world, granted, at = two_states
    engine = LocalEngine(tmp_path / "engine", gpu_indices=(0,), kill_grace_seconds=1)
    dispatcher = Dispatcher(factory, engine, shares=lambda session: {"DE": Fraction(1), "FR": Fraction(3)})
    short = py("import time; time.sleep(0.1)")
    first_de = submit(factory, world, granted["DE"], at, short)
    second_de = submit(factory, world, granted["DE"], at + timedelta(minutes=1), short)
    fr = submit(factory, world, granted["FR"], at + timedelta(minutes=2), short, who="FR")

    def started():
        with factory() as s:
            return {j.id: j.started_at for j in s.scalars(select(Job)) if j.started_at}

    run_until(dispatcher, at + timedelta(minutes=3), lambda: len(started()) == 3 and engine.poll() == [])
    assert sorted(started(), key=started().get) == [fr, first_de, second_de], "FR's larger share goes first"
    # With usage on the books (DE two jobs, FR one) FR's level fairshare (3/4 / U_FR) still beats DE's
    # (1/4 / U_DE) by 3 x DE's usage / FR's usage, so FR's job goes first although DE's is older.
    later = at + timedelta(minutes=10)
    de_again = submit(factory, world, granted["DE"], later, short)
    fr_again = submit(factory, world, granted["FR"], later + timedelta(minutes=1), short, who="FR")
    with clock.frozen_at(later + timedelta(minutes=2)):
        assert dispatcher.tick().order == (fr_again, de_again)
    run_until(dispatcher, later + timedelta(minutes=2), lambda: len(started()) == 5 and engine.poll() == [])
