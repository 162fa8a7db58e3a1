"""Process records and stopping: atomic records, damaged ones, reused PIDs, process trees.

Every process here is a child of the test, started in a session of its own, and killed
at the end whatever happened.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import psutil
import pytest

from harness.util import files, processes
from harness.util.errors import HarnessError
from harness.util.processes import ProcessRecords, is_alive
from harness.util.waiting import wait_for

SLEEP = "import time; time.sleep(60)"
# A parent that starts a child and a grandchild whose own parent exits at once (so it is
# re-parented out of the tree but stays in the session); one of them ignores SIGTERM.
TREE = """
import os, signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
middle = subprocess.Popen([sys.executable, "-c", '''
import subprocess, sys
g = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
print(g.pid, flush=True)
'''], stdout=subprocess.PIPE, text=True)
grandchild = int(middle.stdout.readline())
middle.wait()
print(child.pid, grandchild, flush=True)
time.sleep(60)
"""


@pytest.fixture
def spawn():
    started: list[subprocess.Popen] = []
    extra: list[tuple[int, float]] = []  # (pid, create time) of grandchildren

    def run(code: str = SLEEP, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", code], start_new_session=True, text=True, **kwargs
        )
        started.append(process)
        return process

    run.extra = extra
    yield run
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for pid, created in extra:
        processes.stop_pid(pid, created, timeout=0)  # never a PID reused meanwhile


def test_a_record_is_written_atomically_in_a_private_folder(tmp_path, spawn):
    state = tmp_path / "state"
    records = ProcessRecords(state)
    child = spawn()
    entry = records.record("sleeper", child.pid, port=1234)
    path = state / "processes" / f"sleeper.{child.pid}.json"
    assert json.loads(path.read_text()) == entry
    assert entry["create_time"] == pytest.approx(psutil.Process(child.pid).create_time())
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    assert records.get("sleeper") | {} == entry | {"path": str(path)}


def test_a_failed_write_leaves_the_old_record_whole(tmp_path, monkeypatch):
    target = tmp_path / "record.json"
    files.atomic_write_text(target, '{"old": true}')

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        files.atomic_write_text(target, '{"new": true}')
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_a_process_that_cannot_be_recorded_is_stopped(tmp_path, spawn, monkeypatch):
    child = spawn()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(processes, "atomic_write_text", disk_full)
    with pytest.raises(HarnessError, match=r"could not record sleeper .*stopped it"):
        ProcessRecords(tmp_path).record("sleeper", child.pid)
    assert child.wait(timeout=10) is not None


def test_a_corrupt_record_is_reported_and_still_stops_its_process(tmp_path, spawn):
    records = ProcessRecords(tmp_path)
    child = spawn()
    records.record("localstack", child.pid, endpoint="http://127.0.0.1:1")
    path = tmp_path / "processes" / f"localstack.{child.pid}.json"
    path.write_text(path.read_text()[:25])  # truncated, as by a crash mid-write
    entry = records.get("localstack")
    assert entry["pid"] == child.pid
    assert "corrupt" in entry and path.name in entry["corrupt"]
    assert [e["pid"] for e in records.all()] == [child.pid]
    assert records.stop("localstack", timeout=5)
    assert child.wait(timeout=10) is not None
    assert records.get("localstack") is None
    assert not path.exists()


def test_a_reused_pid_is_never_signalled(tmp_path, spawn):
    records = ProcessRecords(tmp_path)
    child = spawn()
    folder = tmp_path / "processes"
    folder.mkdir()
    created = psutil.Process(child.pid).create_time()
    # A record of an earlier process that had this PID: another create time ...
    (folder / f"old.{child.pid}.json").write_text(
        json.dumps({"name": "old", "pid": child.pid, "create_time": created - 3600})
    )
    # ... and a damaged one, written before this process was created.
    damaged = folder / f"older.{child.pid}.json"
    damaged.write_text("{")
    os.utime(damaged, (created - 3600, created - 3600))
    assert records.get("old") is None and records.get("older") is None
    assert not records.stop("old") and not records.stop("older")
    assert not processes.stop_pid(child.pid, created - 3600)
    time.sleep(0.2)
    assert child.poll() is None and is_alive(child.pid)
    assert list(folder.iterdir()) == []  # stale records are removed


def test_a_record_outlives_a_move_of_the_boot_time(tmp_path, spawn, monkeypatch):
    """/proc/stat's boot time moves when the clock is slewed or stepped, and every create
    time read after it moves with it: a record must still find its process (a fresh-clone
    run lost the records of LocalStack, MariaDB and the stubs an hour in, so nothing
    stopped them), while a reused PID is still told apart."""
    records = ProcessRecords(tmp_path)
    child = spawn()
    entry = records.record("server", child.pid)
    assert entry["boot_time"] == psutil.boot_time()
    moved = psutil.boot_time() + 5  # the clock stepped 5 s forward since the record
    monkeypatch.setattr(psutil, "boot_time", lambda: moved)
    real = psutil.Process.create_time
    monkeypatch.setattr(psutil.Process, "create_time", lambda self: real(self) + 5)
    assert records.get("server") is not None
    assert not processes.stop_pid(child.pid, entry["create_time"] - 3600, 0, entry["boot_time"])
    # A record without the boot time (the older form) is compared as before: stale now.
    older = {k: v for k, v in entry.items() if k != "boot_time"}
    (tmp_path / "processes" / f"server.{child.pid}.json").write_text(json.dumps(older))
    assert records.get("server") is None
    assert child.poll() is None


def test_a_zombie_is_not_alive(spawn):
    child = spawn()
    assert is_alive(child.pid, psutil.Process(child.pid).create_time())
    os.kill(child.pid, signal.SIGKILL)
    wait_for(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE, 10, "zombie")
    assert not is_alive(child.pid)  # exited, not yet reaped by its parent (this test)
    assert not processes.stop_pid(child.pid)


def test_stopping_a_process_stops_its_whole_tree(tmp_path, spawn):
    parent = spawn(TREE, stdout=subprocess.PIPE)
    child, grandchild = (int(pid) for pid in parent.stdout.readline().split())
    spawn.extra.extend((pid, psutil.Process(pid).create_time()) for pid in (child, grandchild))
    assert psutil.Process(grandchild).ppid() != parent.pid  # left the tree, not the session
    records = ProcessRecords(tmp_path)
    records.record("tree", parent.pid)
    began = time.monotonic()
    assert records.stop("tree", timeout=1)  # the grandchild ignores SIGTERM: killed after 1 s
    assert time.monotonic() - began < processes.KILL_WAIT_SECONDS + 5
    for pid in (parent.pid, child, grandchild):
        assert not is_alive(pid), pid
    assert records.all() == []


def test_records_of_the_older_form_are_still_found(tmp_path, spawn):
    child = spawn()
    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / "stubs.json").write_text(
        json.dumps({"name": "stubs", "pid": child.pid, "start_ticks": "123"})
    )
    assert ProcessRecords(tmp_path).get("stubs")["pid"] == child.pid
    assert ProcessRecords(tmp_path).stop("stubs", timeout=5)
    assert child.wait(timeout=10) is not None


def test_names_cannot_break_the_file_name(tmp_path):
    with pytest.raises(ValueError, match="letters, digits"):
        ProcessRecords(tmp_path).record("a.b", os.getpid())


def test_peak_rss_of_a_running_and_of_a_gone_process(spawn):
    assert processes.peak_rss_mb(os.getpid()) > 1
    child = spawn()
    child.kill()
    child.wait()
    assert processes.peak_rss_mb(child.pid) == 0.0


def test_private_dir_narrows_an_existing_folder_but_not_a_shared_one(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    folder.chmod(0o755)
    assert files.private_dir(folder) == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(files.private_dir(folder / "a" / "b").stat().st_mode) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    files.private_dir(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


def test_a_ctrl_c_while_a_server_is_started_and_recorded_lands_after_the_record():
    """Ctrl-C between the fork and the record would orphan the server: it is held back
    until the block ends, then raised as usual."""
    import os
    import signal

    import pytest

    from harness.util.processes import interrupts_deferred

    done = []
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("recorded")  # still runs: the interrupt waits
    assert done == ["recorded"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_a_server_that_never_gets_ready_is_stopped_and_named_with_its_log(tmp_path):
    records = ProcessRecords(tmp_path)
    command = [sys.executable, "-c", f"import os; print(os.getpid(), flush=True); {SLEEP}"]
    output = tmp_path / "server.out"
    with pytest.raises(HarnessError, match=r"the sleeper did not answer in 2 s") as caught:
        processes.start_recorded(
            records, "sleeper", command, output, lambda: False, what="the sleeper", timeout=2
        )
    pid = int(output.read_text().split()[0])
    assert str(pid) in str(caught.value)  # the log's last lines
    assert not is_alive(pid)
    assert records.get("sleeper") is None


def test_no_server_starts_once_new_starts_are_refused(tmp_path, monkeypatch):
    """A SIGTERM'd test session refuses new starts before it stops its stack: a block
    that unwinds afterwards (a database outage's end starts MariaDB again) starts
    nothing that the stop has already missed."""
    monkeypatch.setattr(processes, "_REFUSED", [])
    records = ProcessRecords(tmp_path)
    processes.refuse_new_starts("the test session is stopping (SIGTERM)")
    with pytest.raises(HarnessError, match=r"the sleeper not started: the test session is st"):
        processes.start_recorded(
            records,
            "sleeper",
            [sys.executable, "-c", SLEEP],
            tmp_path / "out",
            lambda: True,
            what="the sleeper",
            timeout=5,
        )
    assert records.get("sleeper") is None and not (tmp_path / "out").exists()


def test_refusing_new_starts_waits_for_a_start_in_flight_to_be_recorded(tmp_path, monkeypatch):
    """What stops the recorded servers after the refusal must see a server whose start
    was between its fork and its record on another thread."""
    monkeypatch.setattr(processes, "_REFUSED", [])
    records = ProcessRecords(tmp_path)
    forked = threading.Event()
    real_spawn = processes.spawn_logged

    def slow_spawn(*args, **kwargs):
        process = real_spawn(*args, **kwargs)
        forked.set()
        time.sleep(0.5)  # the record is written after this
        return process

    monkeypatch.setattr(processes, "spawn_logged", slow_spawn)
    starter = threading.Thread(
        target=processes.start_recorded,
        args=(records, "late", [sys.executable, "-c", SLEEP], tmp_path / "out", lambda: True),
        kwargs={"what": "late", "timeout": 5},
    )
    starter.start()
    try:
        assert forked.wait(5)
        processes.refuse_new_starts("stopping")
        assert records.get("late") is not None  # recorded before the refusal returned
    finally:
        starter.join()
        assert records.stop("late")


def test_a_ready_server_is_recorded_with_what_its_starter_remembers(tmp_path):
    records = ProcessRecords(tmp_path)
    command = [sys.executable, "-c", SLEEP]
    process, record = processes.start_recorded(
        records, "ready", command, tmp_path / "out", lambda: True, what="ready", timeout=5, port=1
    )
    try:
        assert records.get("ready")["pid"] == process.pid == record["pid"]
        assert (record["port"], record["log"]) == (1, str(tmp_path / "out"))
    finally:
        assert records.stop("ready")


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_started_with_stop_with_parent_ends_when_its_parent_is_killed(spawn):
    parent = spawn(
        "import subprocess, sys, time\n"
        "from harness.util.processes import stop_with_parent\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " preexec_fn=stop_with_parent())\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n",
        stdout=subprocess.PIPE,
    )
    child = psutil.Process(int(parent.stdout.readline()))
    born = child.create_time()
    spawn.extra.append((child.pid, born))  # stopped at the end if the test fails
    assert is_alive(child.pid, born)
    parent.kill()  # SIGKILL: the parent says nothing to its child
    parent.wait()
    parent.stdout.close()
    wait_for(lambda: not is_alive(child.pid, born), 5, "the child gone with its parent")
