"""The catalog's database and the report browser, run by an unprivileged OS user.

The machines run everything as root, so nothing else would notice a harness that only
works for root. Root creates an OS user for the test (`useradd`, a fresh name; `userdel
-r` at the end), a copy of the sources that user owns, and a wheelhouse of the few
packages the script needs (so the user's install is offline). Then, as that user
(`runuser`): a venv from the system Python, the project installed from the copy, and a
script that starts MariaDB (initialise, bootstrap the accounts, migrate), loads rows
with the catalog loader's own code (`rows_from_message` and `catalog_db.upsert`, the
loader's account), counts them, stops MariaDB, and renders a run report with headless
Chromium. Root checks that no process of the user is left.

Not covered: LocalStack and the Lambda runtime interpreters for that user (the loader
running as a Lambda function); the database and the browser are what differ by user.
It needs root to create the user; anyone else skips it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import psutil
import pytest

from harness import config
from harness.observe import browser
from harness.runtime import mariadb

PROJECT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
# What the script imports beyond the standard library (PyMySQL[rsa] brings cryptography),
# at the versions of this venv so pip finds them in its cache; setuptools builds the project.
PACKAGES = ("PyMySQL", "psutil", "cryptography", "cffi", "pycparser")
SCRIPT = r"""
import json, os, sys, time
from pathlib import Path

from harness import config
from harness.observe import browser, report
from harness.runtime import mariadb
from harness.systems.catalog import database
from harness.util.processes import ProcessRecords

sys.path.insert(0, sys.argv[1])  # lambdas/catalog_loader, as the function's zip root
import catalog_db
from catalog_rows import rows_from_message

times = {}
started = time.monotonic()
settings = config.load()
db = database.ensure(settings, progress=print)
times["mariadb_start_migrate_s"] = time.monotonic() - started
record = ProcessRecords(settings.state_dir).get(mariadb.RECORD)
server = {"pid": record["pid"], "uid": os.stat(f"/proc/{record['pid']}").st_uid}
try:
    started = time.monotonic()
    rows = []
    for cd_idx in (101, 102, 103):
        message = {
            "version": 1, "vertical": "nonroot", "cd_idx": cd_idx, "sequence": 1,
            "resized_at": "2026-01-02T03:04:05Z", "source": {"etag": f"e{cd_idx}"},
            "images": [
                {"size": size, "key": f"nonroot/{size}/{cd_idx}_{size}_1.jpg",
                 "bucket": "served-bucket", "width": w, "height": w, "bytes": 1000 + w}
                for size, w in (("small", 100), ("medium", 400), ("large", 800), ("xlarge", 1600))
            ],
        }
        rows += rows_from_message(json.dumps(message), "image.example.com")
    loader = db.loader
    connection = catalog_db.connect(
        catalog_db.Credentials(loader.host, loader.port, loader.username, loader.password)
    )
    try:
        catalog_db.upsert(connection, rows)
        catalog_db.upsert(connection, rows)  # redelivered: updates, adds nothing
    finally:
        connection.close()
    admin = db.admin.connect(database.SCHEMA)
    try:
        with admin.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) AS n FROM {database.TABLE} WHERE vertical = 'nonroot'"
            )
            counted = cursor.fetchone()["n"]
            cursor.execute("SELECT CURRENT_USER() AS who")
            admin_user = cursor.fetchone()["who"]
    finally:
        admin.close()
    times["load_count_s"] = time.monotonic() - started
finally:
    started = time.monotonic()
    stopped = mariadb.stop(settings)
    times["mariadb_stop_s"] = time.monotonic() - started

started = time.monotonic()
now = time.time()
run = {
    "schema": 1, "started_at": now - 5, "finished_at": now, "target": "local",
    "scenarios": [{
        "name": "loaded as an unprivileged user", "file": "nonroot", "status": "passed",
        "reason": None, "duration_s": 5.0, "steps": [], "counts": {"rows": counted},
        "objects": {
            row.s3_key: [{"at": 0.0, "hop": "loader", "detail": {"rows": 1, "error": None}}]
            for row in rows[:4]
        },
    }],
}
html_path = report.write(run, Path(sys.argv[2]))[1]
dom = browser.Dom(browser.dump_dom(html_path))
times["browser_s"] = time.monotonic() - started
body = next(a for tag, a in dom.elements if tag == "body")
print("RESULT " + json.dumps({
    "euid": os.geteuid(), "server": server, "stopped": stopped, "rows": len(rows),
    "counted": counted, "admin_user": admin_user, "times": times,
    "rendered": body.get("data-rendered"), "hop_rows": len(dom.having_class("hop-row")),
    "scenario_rows": len(dom.having_class("scenario-row")),
}))
"""


def _run(cmd: list[str], timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run and fail the test with the command's output when it fails."""
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout[-3000:]}\n"
        f"{result.stderr[-3000:]}"
    )
    return result


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _processes_of(uid: int) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["uids"]) if p.info["uids"].real == uid]


def _left_after(uid: int, grace: float) -> list[str]:
    """What still runs as the test's user after `grace` seconds, killed (only the test
    can have started them). The grace is for Chromium's sandboxed helpers, which exit
    just after the browser."""
    deadline = time.monotonic() + grace
    while (left := _processes_of(uid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    described = []
    for process in left:
        with contextlib.suppress(psutil.Error):
            described.append(f"{process.pid} {process.name()} ({process.status()})")
            process.kill()
    psutil.wait_procs(left, timeout=10)
    return described


@pytest.fixture
def unprivileged_user() -> Iterator[pwd.struct_passwd]:
    """A fresh OS user with a home of its own, removed (with its home) afterwards."""
    if os.geteuid() != 0:
        pytest.skip("creating an unprivileged user for the test needs root (the CI machines)")
    name = f"hnr{secrets.token_hex(4)}"
    _run(["useradd", "--create-home", "--user-group", "--shell", "/bin/sh", name])
    user = pwd.getpwnam(name)
    try:
        yield user
    finally:
        left = _left_after(user.pw_uid, grace=15)
        subprocess.run(["userdel", "-r", name], capture_output=True, check=False)
        assert not left, f"processes of {name} were left running: {left}"


@pytest.fixture
def wheelhouse() -> Iterator[Path]:
    """Wheels of the script's packages, built by root into a folder anyone can read."""
    folder = Path(tempfile.mkdtemp(prefix="nonroot-wheels-"))
    try:
        folder.chmod(0o755)
        pins = [f"{name}=={version(name)}" for name in PACKAGES]
        download = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
        _run([*download, "--dest", str(folder), *pins, f"pip=={version('pip')}", "setuptools>=68"])
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_catalog_database_and_report_browser_work_for_an_unprivileged_user(
    unprivileged_user: pwd.struct_passwd, wheelhouse: Path
):
    user = unprivileged_user
    home = Path(user.pw_dir)
    mariadb.ensure_installed(config.load())  # as root: installs the OS package if missing
    browser.ensure()
    timings: dict[str, float] = {}

    started = time.monotonic()
    source = home / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
    shutil.copytree(PROJECT / "harness", source / "harness", ignore=ignore)
    shutil.copytree(
        PROJECT / "lambdas" / "catalog_loader", source / "catalog_loader", ignore=ignore
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT / name, source / name)
    (home / "check.py").write_text(SCRIPT)
    _run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(home)])

    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "HARNESS_STATE_DIR": str(home / "state"),
        "HARNESS_CACHE_DIR": str(home / "cache"),
        "HARNESS_DB_PORT": str(_free_port()),
    }
    as_user = [
        "runuser",
        "-u",
        user.pw_name,
        "--",
        "env",
        "-i",
        *(f"{k}={v}" for k, v in env.items()),
    ]
    venv = home / "venv"
    # No pip in the venv: ensurepip alone takes half a minute on a busy machine. pip
    # runs from its wheel instead, installing into the venv whose python runs it.
    _run([*as_user, SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(venv)], cwd=home)
    (pip_wheel,) = wheelhouse.glob("pip-*.whl")
    tools = ("pip-", "setuptools-")  # pip runs from its wheel; setuptools builds the copy
    wheels = [str(p) for p in sorted(wheelhouse.glob("*.whl")) if not p.name.startswith(tools)]
    offline = ["--no-index", "--find-links", str(wheelhouse), "--no-deps"]
    pip = [str(venv / "bin" / "python"), f"{pip_wheel}/pip", "install", "--quiet", *offline]
    _run([*as_user, *pip, str(source), *wheels], cwd=home)
    timings["prepare_venv_s"] = time.monotonic() - started

    started = time.monotonic()
    script = [str(home / "check.py"), str(source / "catalog_loader"), str(home / "report")]
    check = _run([*as_user, str(venv / "bin" / "python"), *script], cwd=home)
    timings["as_user_s"] = time.monotonic() - started
    result = json.loads(check.stdout.split("RESULT ", 1)[1])
    print(json.dumps(timings | result["times"], indent=2))

    assert result["euid"] == user.pw_uid
    assert result["server"]["uid"] == user.pw_uid  # mariadbd ran as the user, not root
    assert result["admin_user"] == f"{mariadb.ADMIN_USER}@127.0.0.1"
    assert result["rows"] == result["counted"] == 12  # 3 images x 4 sizes, upserted twice
    assert result["stopped"] is True
    assert not psutil.pid_exists(result["server"]["pid"])
    assert (home / "state" / "mariadb" / "data" / "mysql").stat().st_uid == user.pw_uid
    assert result["rendered"] == "true"  # the report's script ran in Chromium
    assert (result["scenario_rows"], result["hop_rows"]) == (1, 4)
    started = time.monotonic()
    assert not _left_after(user.pw_uid, grace=15), "processes of the user were left running"
    print(f"no process of the user left {time.monotonic() - started:.1f} s after the script")
