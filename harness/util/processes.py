"""Records of the processes the harness started, so it stops exactly those and their children.

A record is the file `<state>/processes/<name>.<pid>.json` holding
`{"name", "pid", "create_time", ...what the starter wants to remember}`, written
atomically. The create time is what makes a PID ours: a PID that the OS has since
given to another program is never signalled.

The PID is in the file name, so a record whose content is damaged (a crash or a full
disk while an older harness wrote it in place) still names its process. Such a record is
returned with `"corrupt": <reason>` and can be stopped like any other; its process is
taken as ours only if it started before the record was written, which a process that
reused the PID cannot have.

psutil does the process work, so this runs on Linux and macOS alike. The LocalStack
executor plugin writes the records of the Lambda processes in this same format from
LocalStack's own venv (`harness_lambda_executor/records.py`): keep the two in step.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

from harness.util.errors import HarnessError
from harness.util.files import atomic_write_text, private_dir

# Create times of one process read twice can differ by the rounding of the boot time;
# a PID reused within a second of the first process's start would need the whole PID
# space to cycle in that second. The boot time itself (/proc/stat's btime: wall clock
# minus time since boot) moves whenever the clock is slewed or stepped, by seconds over
# an hour on a VM: so records also keep the boot time they were written with, and a
# create time is compared in the frame of the boot time read now (`_expected_start`).
# Without that, a stack up for an hour lost every record while its processes ran on.
SAME_START_SECONDS = 1.0
KILL_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.05
NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
RECORD_RE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)\.(?P<pid>\d+)\.json$")
MIB = 1024 * 1024
# prctl(PR_SET_PDEATHSIG): Linux only. The function is resolved here, not in the forked
# child, which must take no lock before its exec (ctypes.CDLL(None): the C library this
# interpreter already has, with no `ldconfig` run to find it).
PR_SET_PDEATHSIG = 1
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def stop_with_parent() -> Callable[[], None]:
    """A `preexec_fn` for `Popen`: the child gets SIGTERM when the thread that started
    it ends (Linux; elsewhere nothing). For a child that outlives no one by design, such
    as a test run in the background, whose parent a SIGKILL can end without a word to it.

    The parent's PID is read here, before the fork: a parent that died between the fork
    and the `prctl` call is then seen by the child's parent PID differing from it, and
    the child stops at once (read after the fork, both reads could see the reaper)."""
    parent = os.getpid()

    def arm() -> None:
        if _PRCTL is None:
            return
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


def _expected_start(create_time: float, boot_time: float | None) -> float:
    """`create_time`, read when the boot time was `boot_time`, as read with today's."""
    return create_time if boot_time is None else create_time - boot_time + psutil.boot_time()


def _running(
    pid: int, create_time: float | None = None, boot_time: float | None = None
) -> psutil.Process | None:
    """The process `pid` if it runs (a zombie has exited) and, given `create_time` (read
    when the boot time was `boot_time`), is the one created then; None otherwise. One
    snapshot: nothing can raise halfway."""
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            if create_time is not None and (
                abs(process.create_time() - _expected_start(create_time, boot_time))
                > SAME_START_SECONDS
            ):
                return None
        return process
    except psutil.Error:  # gone, or not ours to look at
        return None


def _started_by(pid: int, moment: float) -> psutil.Process | None:
    """The process `pid` if it runs and was created no later than `moment`."""
    process = _running(pid)
    try:
        if process and process.create_time() <= moment + SAME_START_SECONDS:
            return process
    except psutil.Error:
        pass
    return None


def is_alive(pid: int, create_time: float | None = None) -> bool:
    """True if `pid` runs and (given `create_time`) is still the process created then."""
    return _running(pid, create_time) is not None


def create_time(pid: int) -> float | None:
    """When the running process `pid` was created (seconds since the epoch)."""
    process = _running(pid)
    try:
        return process.create_time() if process else None
    except psutil.Error:
        return None


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a running process in MiB, 0 when it is gone.

    Linux keeps the peak (VmHWM), which psutil does not expose; elsewhere psutil gives the
    peak where the OS keeps one (Windows) and the current RSS otherwise, a lower bound.
    """
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    try:
        memory = psutil.Process(pid).memory_info()
    except psutil.Error:
        return 0.0
    return getattr(memory, "peak_wset", memory.rss) / MIB


def _family(root: psutil.Process) -> list[psutil.Process]:
    """`root`, every process it started, and the rest of its session.

    A process started with `start_new_session=True` leads a session; a descendant whose
    parent exited was re-parented out of the tree, but it is still in that session.
    """
    try:
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        members = [root]
    with contextlib.suppress(OSError):
        if os.getsid(root.pid) == root.pid:
            known = {p.pid for p in members}
            for process in psutil.process_iter():
                if process.pid not in known:
                    with contextlib.suppress(OSError):
                        if os.getsid(process.pid) == root.pid:
                            members.append(process)
    return members


def _gone(process: psutil.Process) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(process.pid, os.WNOHANG)  # reap our own child, or it stays a zombie
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _wait_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to `timeout` s for the processes to exit; returns those still running."""
    deadline = time.monotonic() + timeout
    alive = [p for p in processes if not _gone(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        alive = [p for p in alive if not _gone(p)]
    return alive


def _signal(processes: list[psutil.Process], how: str) -> None:
    for process in processes:
        # psutil refuses to signal a process whose PID was reused since it was looked up.
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            getattr(process, how)()


def stop_process(root: psutil.Process, timeout: float = 10.0) -> None:
    """SIGTERM `root` and its family, SIGKILL what still runs after `timeout` s."""
    family = _family(root)
    _signal(family, "terminate")
    alive = _wait_gone(family, timeout)
    if alive:
        _signal(alive, "kill")
        _wait_gone(alive, KILL_WAIT_SECONDS)


def with_environment(name: str, value: str) -> list[psutil.Process]:
    """The running processes (of this user: others' environments cannot be read) whose
    environment has `name` = `value`: how a server whose record was lost is still found,
    by a setting that only one server has (say, the folder it was told to keep its files in)."""
    found = []
    for process in psutil.process_iter(["environ"]):
        environment = process.info.get("environ") or {}
        if environment.get(name) == value and not _gone(process):
            found.append(process)
    return found


def stop_pid(
    pid: int,
    create_time: float | None = None,
    timeout: float = 10.0,
    boot_time: float | None = None,
) -> bool:
    """Stop `pid` (if it is still the process created at `create_time`) with its
    children; True if it was running."""
    process = _running(pid, create_time, boot_time)
    if process is None:
        return False
    stop_process(process, timeout)
    return True


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM held back inside the block and delivered as it ends.

    A server is started and recorded inside one: an interrupt that lands after the fork
    but before the record is written (Popen waits for the child's exec) would leave a
    process that no record names, so neither the interrupted command nor `harness down`
    could stop it. Python-level handlers are used, not a signal mask: a mask would be
    inherited by the server, which must stay stoppable by SIGTERM.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: object) -> None:
        pending.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pending:
            signum = pending[0]
            handler = previous[signum]
            if callable(handler):
                handler(signum, None)  # SIGINT: raises KeyboardInterrupt
            elif handler != signal.SIG_IGN:
                os.kill(os.getpid(), signum)  # the default action, now that it is back


# Starts in flight and whether new ones are refused: a SIGTERM'd session stops its stack,
# and nothing may start a server after that (a block that stopped MariaDB for an outage
# starts it again as it unwinds, which left one running after the run).
_STARTS = threading.Lock()
_REFUSED: list[str] = []


def refuse_new_starts(reason: str) -> None:
    """From now on no server is started in this process (`starting` raises, saying
    `reason`). Returns once a start in flight on another thread has been recorded, so
    whatever stops the recorded servers next sees it."""
    with _STARTS:
        _REFUSED.append(reason)


@contextlib.contextmanager
def starting(what: str) -> Iterator[None]:
    """The block that forks a server and writes its record: no Ctrl-C or SIGTERM inside
    it (`interrupts_deferred`), a refusal of new starts waits until it is recorded, and
    after that refusal it starts nothing (a HarnessError naming `what`)."""
    with interrupts_deferred(), _STARTS:
        if _REFUSED:
            raise HarnessError(f"{what} not started: {_REFUSED[0]}")
        yield


def spawn_logged(
    cmd: list[str], log_path: Path, env: dict[str, str], cwd: Path
) -> subprocess.Popen:
    """Start a server the harness owns: output to `log_path`, no stdin, and a session of
    its own, so a Ctrl-C reaches the harness first and `stop_process` finds its family."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


FAILURE_LOG_LINES = 20


def _log_tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-FAILURE_LOG_LINES:])
    except OSError:
        return "(no log)"


def start_recorded(
    records: ProcessRecords,
    name: str,
    command: list[str],
    output: Path,
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
    interval: float = 0.05,
    **info: object,
) -> tuple[subprocess.Popen, dict]:
    """Start a server the harness owns (output to `output`) and wait until `ready()`.

    Every server is started the same way, so each gets the same guarantees: spawned and
    recorded as `name` with no Ctrl-C in between (the record holds `log` and `info`); if
    it exits before it is ready, its record goes; if it is not ready in `timeout`
    seconds, it is stopped. Either failure is a HarnessError naming `what`, its log
    (`log`, default `output`) and the log's last lines.
    """
    log = log or output
    with starting(what):  # no Ctrl-C between the fork and the record
        process = spawn_logged(
            command, output, dict(os.environ) if env is None else env, cwd or Path.cwd()
        )
        record = records.record(name, process.pid, log=str(log), **info)
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            records.forget(name, process.pid)
            raise HarnessError(
                f"{what} exited with code {process.returncode}; see {log}:\n{_log_tail(log)}"
            )
        if time.monotonic() > deadline:
            records.stop(name)
            raise HarnessError(
                f"{what} did not answer in {timeout:.0f} s; see {log}:\n{_log_tail(log)}"
            )
        time.sleep(interval)
    return process, record


class ProcessRecords:
    """The records in `<state_dir>/processes/` (a folder only its owner can enter)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.dir = state_dir / "processes"

    def _path(self, name: str, pid: int) -> Path:
        return self.dir / f"{name}.{pid}.json"

    def record(self, name: str, pid: int, **info: object) -> dict:
        """Record a process just started; if that fails (disk full), stop it and raise:
        a process without a record could never be stopped by `harness down`."""
        if not NAME_RE.match(name):
            raise ValueError(f"process record name {name!r}: use letters, digits, - and _")
        entry = {
            "name": name,
            "pid": pid,
            "create_time": create_time(pid),
            "boot_time": psutil.boot_time(),
            **info,
        }
        try:
            private_dir(self.state_dir)
            private_dir(self.dir)
            atomic_write_text(self._path(name, pid), json.dumps(entry, indent=2))
        except OSError as exc:
            stop_pid(pid, entry["create_time"], boot_time=entry["boot_time"])
            raise HarnessError(
                f"could not record {name} (pid {pid}) in {self.dir}: {exc}; stopped it. "
                "Free space there (or set HARNESS_STATE_DIR) and run again"
            ) from exc
        return entry

    def _read(self, path: Path) -> dict | None:
        """The record in `path` if its process still runs; a stale file is removed."""
        match = RECORD_RE.match(path.name)
        try:
            written = path.stat().st_mtime
            entry = json.loads(path.read_text())
            if not isinstance(entry, dict) or not isinstance(entry.get("pid"), int):
                raise ValueError("no pid in it")
        except FileNotFoundError:
            return None  # removed meanwhile
        except (OSError, ValueError) as exc:
            if not match:
                return None  # neither content nor name says which process it was
            entry = {
                "name": match["name"],
                "pid": int(match["pid"]),
                "create_time": None,
                "corrupt": f"{path.name}: {exc}",
            }
        if match and int(match["pid"]) != entry["pid"]:
            entry["corrupt"] = f"{path.name} names pid {entry['pid']}"
            entry["pid"] = int(match["pid"])
            entry["create_time"] = None
        created = entry.get("create_time")
        if isinstance(created, int | float) and "corrupt" not in entry:
            process = _running(entry["pid"], float(created), entry.get("boot_time"))
        else:  # no create time to trust: the process must predate the record
            process = _started_by(entry["pid"], written)
        if process is None:
            path.unlink(missing_ok=True)
            return None
        if entry.get("create_time") is None:
            with contextlib.suppress(psutil.Error):
                entry["create_time"] = process.create_time()
        entry.setdefault("name", match["name"] if match else path.stem)
        entry["path"] = str(path)
        return entry

    def _entries(self, pattern: str) -> list[dict]:
        """Live records of files matching `pattern`, oldest first."""
        if not self.dir.is_dir():
            return []
        entries = [e for p in self.dir.glob(pattern) if (e := self._read(p))]
        return sorted(entries, key=lambda e: (e["create_time"] or 0, e["path"]))

    def get(self, name: str) -> dict | None:
        """The newest record of `name` whose process still runs, or None.

        A corrupt record is returned too, with `"corrupt"` saying what is wrong with it.
        """
        found = self._of(name)
        return found[-1] if found else None

    def _of(self, name: str) -> list[dict]:
        found = self._entries(f"{name}.*.json") + self._entries(f"{name}.json")  # older form
        return [e for e in found if e["name"] == name]

    def all(self) -> list[dict]:
        """Every record whose process still runs, by name."""
        return sorted(self._entries("*.json"), key=lambda e: (e["name"], e["pid"]))

    def forget(self, name: str, pid: int | None = None) -> None:
        """Remove the records of `name` (only that of `pid`, given one)."""
        if pid is not None:
            self._path(name, pid).unlink(missing_ok=True)
            return
        if self.dir.is_dir():
            for path in [*self.dir.glob(f"{name}.*.json"), self.dir / f"{name}.json"]:
                match = RECORD_RE.match(path.name)
                if path.name == f"{name}.json" or (match and match["name"] == name):
                    path.unlink(missing_ok=True)

    def stop(self, name: str, timeout: float = 10.0) -> bool:
        """Stop every process recorded as `name`, children included; True if one ran."""
        stopped = False
        for entry in self._of(name):
            stopped |= stop_pid(entry["pid"], entry["create_time"], timeout, entry.get("boot_time"))
            Path(entry["path"]).unlink(missing_ok=True)
        return stopped
