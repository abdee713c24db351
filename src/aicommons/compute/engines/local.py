"""The local engine, the embedded default: jobs as process groups on this machine.

Layout under ``work_dir`` (directories 0700, files 0600)::

    state.json            the engine's bookkeeping: every job not yet acknowledged (atomic rewrites)
    engine.lock           flock: one engine instance at a time changes state.json
    jobs/<id>/spec.json   the command (or script) and environment, kept until the job starts
    jobs/<id>/job-script  a script job's text, 0700, executed directly (it must start with "#!")
    jobs/<id>/stdout.log, stderr.log   the job's output, readable while it runs
    jobs/<id>/outputs/    AICOMMONS_OUTPUT_DIR: what the job leaves for the registry
    jobs/<id>/supervisor.json, exit.json, result.json   its pid, its exit status, its end as reported

A job runs under a supervisor (``SUPERVISOR``, a constant Python program run with ``-I``) that leads a new
session and process group, runs the argument list directly (no shell), writes the exit status to
``exit.json`` with the moment it ended, then kills whatever the job left in its group. The exit status
therefore survives a restart of the engine.

Restarts. A new instance on the same ``work_dir`` re-attaches to its running jobs: one is still running when
its supervisor's pid is alive, on the same boot, with the start time (``/proc/<pid>/stat`` field 22)
recorded at launch; a reused pid is never signalled. A supervisor that is gone ended the job: with an
``exit.json`` the job succeeded or failed as it says; without one it was killed from outside the engine (a
signal, the OOM killer, a reboot) and is reported **lost** with that reason, charged up to the last moment
an engine saw it alive (the charge the facility can prove, never more).

Scheduling. GPUs come from ``nvidia-smi`` when present, else ``virtual_gpus`` slots. A job gets the lowest
free indices as ``CUDA_VISIBLE_DEVICES``; no index is ever given to two running jobs, and a job's GPUs are
free again only once its process group is gone. Queued jobs start in the order ``poll`` is given (the
portal's fair-share order), then oldest first; the first job that does not fit holds those behind it (no
backfill), so a large job is never starved by small ones. Time limits: SIGTERM to the group, SIGKILL
``kill_grace_seconds`` later, outcome timed_out; cancel sends the same signals, outcome cancelled.
Usage is GPUs x elapsed wall seconds, rounded up to whole seconds.

The engine measures real processes, so it keeps real UTC time (not ``aicommons.clock``, which tests freeze).
Not enforced here: CPU and memory requests (the Slurm engine enforces them), and a process that leaves
its process group (``setsid``) escapes the final kill.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aicommons.compute.engines.base import ENDED, AccountChange, AccountSpec, JobSpec, JobStatus, UsageReport
from aicommons.compute.models import JobState
from aicommons.errors import NotFound, invalid_field

SUPERVISOR = r"""
import json, os, signal, subprocess, sys, time
job_dir, argv = sys.argv[1], sys.argv[3:]
def write(name, data):
    fd = os.open(os.path.join(job_dir, name + ".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(os.path.join(job_dir, name + ".tmp"), os.path.join(job_dir, name))
with open("/proc/self/stat") if os.path.exists("/proc/self/stat") else open(os.devnull) as f:
    stat = f.read()
write("supervisor.json", {"pid": os.getpid(), "start": stat.rpartition(")")[2].split()[19] if stat else ""})
signal.signal(signal.SIGTERM, lambda *_: None)  # the job decides what SIGTERM means; SIGKILL follows
error = None
try:
    code = subprocess.call(argv)
except OSError as exc:
    code, error = 126 if isinstance(exc, PermissionError) else 127, f"cannot execute {argv[0]}: {exc.strerror}"
write("exit.json", {"exit_code": 128 - code if code < 0 else code, "error": error, "ended_at": time.time()})
os.killpg(0, signal.SIGKILL)
"""
ENVIRONMENT_PASSED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")  # nothing else of the server's leaks
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
SEEN_EVERY = timedelta(seconds=5)  # how often a running job's "last seen alive" is written down
RUNNING = (JobState.STARTING.value, JobState.RUNNING.value)


def detect_gpus(virtual_gpus: int) -> tuple[int, ...]:
    """This machine's GPU indices from ``nvidia-smi``, or ``virtual_gpus`` slots where there is none."""
    executable = shutil.which("nvidia-smi")
    if executable:
        with contextlib.suppress(OSError, subprocess.SubprocessError, ValueError):
            out = subprocess.run([executable, "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=30, check=True).stdout
            indices = tuple(sorted(int(line) for line in out.split()))
            if indices:
                return indices
    return tuple(range(virtual_gpus))


def _now() -> datetime:
    return datetime.now(UTC)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _process(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks) of a process, or None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
        try:  # no /proc on this system: existence is all that can be checked
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "S", ""
    fields = stat.rpartition(")")[2].split()  # the command name in parentheses may hold anything
    return fields[0], fields[19]


def _write_private(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _text(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def gpu_seconds(gpus: int, started: datetime | None, ended: datetime) -> int:
    """GPUs x elapsed wall seconds, the seconds rounded up: a started second is a used second."""
    if started is None:
        return 0
    return gpus * max(0, math.ceil((ended - started) / timedelta(microseconds=1) / 1_000_000))


class LocalEngine:
    """Jobs as process groups on this machine; see the module docstring."""

    name = "local"

    def __init__(self, work_dir: Path | str, *, virtual_gpus: int = 4, gpu_indices: Sequence[int] | None = None,
                 kill_grace_seconds: float = 30.0) -> None:
        self.work_dir = Path(work_dir)
        (self.work_dir / "jobs").mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.work_dir, 0o700)
        self.gpu_indices = tuple(gpu_indices) if gpu_indices is not None else detect_gpus(virtual_gpus)
        if len(set(self.gpu_indices)) != len(self.gpu_indices):
            raise ValueError(f"GPU indices repeat: {self.gpu_indices}")
        self.gpus_per_node = len(self.gpu_indices)
        self.kill_grace = timedelta(seconds=kill_grace_seconds)
        self._children: dict[str, subprocess.Popen] = {}
        self._mutex = threading.Lock()
        self._boot = _boot_id()
        with self._state() as jobs:
            self._observe(jobs)  # re-attach, or report lost, what a previous instance left running

    # --- the interface ------------------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> JobStatus:
        """Queue a job, or answer the one already submitted under this id."""
        self._check(spec)
        key = str(spec.job_id)
        with self._state() as jobs:
            if key in jobs:
                return self._status(key, jobs[key])
            if (self.work_dir / "jobs" / key / "result.json").exists():
                return self._ended_status(key)
            job_dir = self._job_dir(key)
            job_dir.mkdir(mode=0o700, exist_ok=True)
            (job_dir / "outputs").mkdir(mode=0o700, exist_ok=True)
            for log in ("stdout.log", "stderr.log"):
                os.close(os.open(job_dir / log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
            _write_private(job_dir / "spec.json", {"command": list(spec.command) if spec.command else None,
                                                   "script": spec.script, "environment": dict(spec.environment)})
            jobs[key] = {"state": JobState.QUEUED.value, "gpus": spec.gpus, "account": spec.account,
                         "time_limit": spec.time_limit_seconds, "submitted_at": _text(_now()), "assigned": []}
            return self._status(key, jobs[key])

    def poll(self, *, order: Sequence[str] = ()) -> list[JobStatus]:
        """Notice ends, enforce time limits, start what fits in ``order`` then oldest first; answer all jobs."""
        with self._state() as jobs:
            self._observe(jobs)
            self._start_queued(jobs, order)
            return [self._status(key, record) for key, record in jobs.items()]

    def status(self, engine_job_id: str) -> JobStatus:
        with self._state() as jobs:
            self._observe(jobs)
            if engine_job_id in jobs:
                return self._status(engine_job_id, jobs[engine_job_id])
        return self._ended_status(engine_job_id)

    def cancel(self, engine_job_id: str, *, reason: str | None = None) -> JobStatus:
        with self._state() as jobs:
            self._observe(jobs)
            record = jobs.get(engine_job_id)
            if record is None:
                return self._ended_status(engine_job_id)
            reason = reason or "cancelled"
            if record["state"] == JobState.QUEUED.value:
                self._end(engine_job_id, record, JobState.CANCELLED, reason=reason, ended_at=_now())
            elif record["state"] in RUNNING and not record.get("stop"):
                record["stop"] = {"outcome": JobState.CANCELLED.value, "reason": reason, "term_at": _text(_now())}
                self._signal(engine_job_id, record, signal.SIGTERM)
                self._observe(jobs)  # a grace of 0 kills at once
            return self._status(engine_job_id, record)

    def acknowledge(self, engine_job_id: str) -> None:
        with self._state() as jobs:
            record = jobs.get(engine_job_id)
            if record is not None and JobState(record["state"]) in ENDED:
                del jobs[engine_job_id]

    def usage(self, *, since: datetime | None = None) -> list[UsageReport]:
        with self._state() as jobs:
            self._observe(jobs)
            live = {key: self._status(key, record) for key, record in jobs.items()}
        reports = []
        for job_dir in sorted((self.work_dir / "jobs").iterdir(), key=lambda d: (len(d.name), d.name)):
            status = live.get(job_dir.name) or (self._ended_status(job_dir.name)
                                                 if (job_dir / "result.json").exists() else None)
            if status is None or status.started_at is None:
                continue
            if since is not None and status.ended_at is not None and status.ended_at < since:
                continue
            account = (jobs.get(job_dir.name) or _read(job_dir / "result.json") or {}).get("account")
            reports.append(UsageReport(status.engine_job_id, account, status.state, len(status.gpus),
                                       status.gpu_seconds, status.started_at, status.ended_at))
        return reports

    def sync_accounts(self, accounts: Sequence[AccountSpec], *, dry_run: bool = False) -> list[AccountChange]:
        """Nothing to change: the local engine has no account tree; the portal's reservations are its limit."""
        return []

    # --- state ---------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, dict]]:
        """The jobs in state.json, locked against other threads and other instances; written back if changed."""
        with self._mutex:
            fd = os.open(self.work_dir / "engine.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                before = _read(self.work_dir / "state.json") or {"version": 1, "jobs": {}}
                jobs = json.loads(json.dumps(before["jobs"]))
                yield jobs
                if jobs != before["jobs"]:
                    self._save(jobs)
            finally:
                os.close(fd)  # releases the flock

    def _save(self, jobs: dict[str, dict]) -> None:
        _write_private(self.work_dir / "state.json", {"version": 1, "jobs": jobs})

    def _job_dir(self, key: str) -> Path:
        return self.work_dir / "jobs" / key

    def _check(self, spec: JobSpec) -> None:
        loc = ("body",)
        if isinstance(spec.job_id, bool) or not isinstance(spec.job_id, int) or spec.job_id < 0:
            raise invalid_field((*loc, "job_id"), "a job id is a non-negative integer")
        if spec.nodes != 1:
            raise invalid_field((*loc, "nodes"), "the local engine has one node")
        if not 0 <= spec.gpus_per_node <= self.gpus_per_node:
            raise invalid_field((*loc, "gpus_per_node"), f"from 0 to {self.gpus_per_node} GPUs, what this node has")
        if spec.time_limit_seconds < 1:
            raise invalid_field((*loc, "time_limit_seconds"), "a time limit is at least one second")
        if (spec.command is None) == (spec.script is None):
            raise invalid_field((*loc, "command"), "give either a command (an argument list) or a script")
        if spec.command is not None and not (spec.command and all(isinstance(a, str) for a in spec.command)):
            raise invalid_field((*loc, "command"), "a command is a non-empty list of strings")
        if spec.script is not None and not spec.script.startswith("#!"):
            raise invalid_field((*loc, "script"), 'a script starts with "#!" and its interpreter, as sbatch asks')

    # --- watching running jobs ------------------------------------------------------------------------

    def _observe(self, jobs: dict[str, dict]) -> None:
        """Notice every running job's end, and enforce time limits and cancellations on the living."""
        now = _now()
        for key, record in jobs.items():
            if record["state"] not in RUNNING:
                continue
            if record.get("pid") is None and not self._adopt(key, record):
                self._end(key, record, JobState.LOST, reason="the engine stopped while starting it", ended_at=now)
                continue
            if self._alive(key, record):
                self._enforce(key, record, now)
            else:
                self._finish(key, record, now)

    def _adopt(self, key: str, record: dict) -> bool:
        """A job left 'starting' by a crash: its supervisor wrote down its pid, if it ever ran."""
        supervisor = _read(self._job_dir(key) / "supervisor.json")
        if supervisor is None:
            return False
        record.update(pid=supervisor["pid"], start=supervisor["start"], state=JobState.RUNNING.value)
        return True

    def _same_process(self, record: dict) -> tuple[str, str] | None:
        found = _process(record["pid"])
        if found is None or record.get("boot") != self._boot or found[1] != record["start"]:
            return None
        return found

    def _alive(self, key: str, record: dict) -> bool:
        child = self._children.get(key)
        if child is not None:
            with contextlib.suppress(ChildProcessError):  # peek without reaping, so the pid stays ours
                return os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        found = self._same_process(record)
        return found is not None and found[0] not in "ZX"

    def _signal(self, key: str, record: dict, signum: int) -> None:
        """Signal the job's process group, never a group that merely inherited its number."""
        child = self._children.get(key)
        ours = (child is not None and child.returncode is None) or self._same_process(record) is not None
        if not ours and _process(record["pid"]) is not None:
            return  # the pid now belongs to someone else
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(record["pid"], signum)

    def _enforce(self, key: str, record: dict, now: datetime) -> None:
        stop = record.get("stop")
        deadline = _time(record["started_at"]) + timedelta(seconds=record["time_limit"])
        if stop is None and now >= deadline:
            stop = record["stop"] = {"outcome": JobState.TIMED_OUT.value, "term_at": _text(now),
                                     "reason": f"its time limit of {record['time_limit']} s was reached"}
            self._signal(key, record, signal.SIGTERM)
        if stop is not None and "kill_at" not in stop and now >= _time(stop["term_at"]) + self.kill_grace:
            stop["kill_at"] = _text(now)
            self._signal(key, record, signal.SIGKILL)
            child = self._children.get(key)
            if child is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=2)
                self._finish(key, record, now)
                return
        if now - (_time(record.get("seen_at")) or datetime.min.replace(tzinfo=UTC)) >= SEEN_EVERY:
            record["seen_at"] = _text(now)

    def _finish(self, key: str, record: dict, now: datetime) -> None:
        """The supervisor is gone: clear its group, reap it, and report how the job ended."""
        self._signal(key, record, signal.SIGKILL)  # whatever the job left behind in its group
        child = self._children.pop(key, None)
        returncode = child.wait() if child is not None else None
        exit_status, stop = _read(self._job_dir(key) / "exit.json"), record.get("stop")
        exit_code = exit_status["exit_code"] if exit_status else None
        ended_at = (datetime.fromtimestamp(exit_status["ended_at"], UTC) if exit_status
                    else _time(stop.get("kill_at")) if stop else None)
        if stop is not None:
            state, reason = JobState(stop["outcome"]), stop["reason"]
        elif exit_status is not None:
            state = JobState.SUCCEEDED if exit_code == 0 else JobState.FAILED
            reason = exit_status.get("error") or (None if exit_code == 0 else f"it exited with code {exit_code}")
        else:
            state, ended_at = JobState.LOST, _time(record.get("seen_at")) or _time(record["started_at"])
            if returncode is not None and returncode < 0:
                reason = f"its supervisor was killed by signal {-returncode} from outside the engine"
            elif record.get("boot") != self._boot:
                reason = "the machine restarted while it ran"
            else:
                reason = "its supervisor ended without an exit status: killed from outside the engine"
        self._end(key, record, state, reason=reason, ended_at=max(ended_at or now, _time(record["started_at"])),
                  exit_code=exit_code)

    def _end(self, key: str, record: dict, state: JobState, *, reason: str | None, ended_at: datetime,
             exit_code: int | None = None) -> None:
        started = _time(record.get("started_at"))
        record.update(state=state.value, reason=reason, exit_code=exit_code, ended_at=_text(ended_at),
                      gpu_seconds=gpu_seconds(record["gpus"], started, ended_at))
        record.pop("stop", None)
        _write_private(self._job_dir(key) / "result.json", record)
        (self._job_dir(key) / "spec.json").unlink(missing_ok=True)  # the environment may hold secrets

    # --- starting queued jobs -------------------------------------------------------------------------

    def _start_queued(self, jobs: dict[str, dict], order: Sequence[str]) -> None:
        queued = {key for key, record in jobs.items() if record["state"] == JobState.QUEUED.value}
        first = [key for key in dict.fromkeys(order) if key in queued]
        rest = sorted(queued - set(first), key=lambda k: (jobs[k]["submitted_at"], len(k), k))
        busy = {gpu for record in jobs.values() if record["state"] in RUNNING for gpu in record["assigned"]}
        free = [gpu for gpu in self.gpu_indices if gpu not in busy]
        for key in first + rest:
            need = jobs[key]["gpus"]
            if need > len(free):
                return  # strict order: the head waits for its GPUs, and so does everyone behind it
            jobs[key]["assigned"], free = free[:need], free[need:]
            self._launch(key, jobs[key], jobs)

    def _launch(self, key: str, record: dict, jobs: dict[str, dict]) -> None:
        job_dir = self._job_dir(key)
        spec = _read(job_dir / "spec.json") or {}
        argv = spec.get("command")
        if spec.get("script") is not None:
            script = job_dir / "job-script"
            fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
            with os.fdopen(fd, "w") as f:
                f.write(spec["script"])
            argv = [str(script)]
        env = {name: os.environ[name] for name in ENVIRONMENT_PASSED if name in os.environ}
        env.setdefault("PATH", DEFAULT_PATH)
        env.update(spec.get("environment") or {})
        # nvidia-smi numbers GPUs in PCI bus order; CUDA does too only when told so.
        env.update(CUDA_VISIBLE_DEVICES=",".join(str(g) for g in record["assigned"]), CUDA_DEVICE_ORDER="PCI_BUS_ID",
                   AICOMMONS_JOB_ID=key, AICOMMONS_OUTPUT_DIR=str(job_dir / "outputs"))
        started = _now()
        record.update(state=JobState.STARTING.value, started_at=_text(started), seen_at=_text(started),
                      boot=self._boot)
        self._save(jobs)  # a crash from here on finds the job 'starting' and adopts it through supervisor.json
        if not argv:
            self._end(key, record, JobState.FAILED, reason="its specification is missing", ended_at=started)
            return
        out = os.open(job_dir / "stdout.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        err = os.open(job_dir / "stderr.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            child = subprocess.Popen([sys.executable, "-I", "-c", SUPERVISOR, str(job_dir), "--", *argv],
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=job_dir, env=env,
                                     start_new_session=True, close_fds=True)
        except OSError as exc:
            self._end(key, record, JobState.FAILED, reason=f"the engine could not start it: {exc}", ended_at=started)
            return
        finally:
            os.close(out)
            os.close(err)
        found = _process(child.pid)
        self._children[key] = child
        record.update(state=JobState.RUNNING.value, pid=child.pid, start=found[1] if found else "")

    # --- answers --------------------------------------------------------------------------------------

    def _status(self, key: str, record: dict) -> JobStatus:
        job_dir, state = self._job_dir(key), JobState(record["state"])
        started, ended = _time(record.get("started_at")), _time(record.get("ended_at"))
        used = record.get("gpu_seconds") if state in ENDED else gpu_seconds(record["gpus"], started, _now())
        reason = record.get("reason")
        if state in RUNNING and record.get("stop"):
            reason = f"stopping ({record['stop']['outcome']}): {record['stop']['reason']}"
        return JobStatus(key, state, reason, record.get("exit_code"), tuple(record.get("assigned", ())),
                         _time(record.get("submitted_at")), started, ended, used or 0, job_dir / "stdout.log",
                         job_dir / "stderr.log", job_dir / "outputs")

    def _ended_status(self, key: str) -> JobStatus:
        record = _read(self._job_dir(key) / "result.json") if key.isdigit() else None
        if record is None:
            raise NotFound(f"the local engine has no job {key}")
        return self._status(key, record)

