"""The embedded LocalStack: installed in a cached venv of its own, run on the host.

LocalStack pins its own boto3, moto and awscli, so it never shares the project's venv.
Our plugins (`PLUGINS`: packages of `harness/localstack_plugin/`, each with its own
pyproject.toml) are pip-installed into that venv, again whenever their files change.
LocalStack runs bound to 127.0.0.1 with Lambda executed by the local-process executor
plugin, so neither Docker nor internet access is needed, and keeps its files (S3 objects
included) in the instance's folder under the state dir, so two stacks side by side never
share them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness.config import Settings
from harness.runtime import lambda_runtimes
from harness.util import http
from harness.util.errors import HarnessError
from harness.util.files import private_dir
from harness.util.net import require_free
from harness.util.processes import (
    ProcessRecords,
    spawn_logged,
    starting,
    stop_process,
    with_environment,
)
from harness.util.venvs import build_venv, install_projects, installed_projects, locked

PLUGIN_DIR = Path(__file__).resolve().parent.parent / "localstack_plugin"
# Packages of PLUGIN_DIR (each with its own pyproject.toml) installed into LocalStack's venv.
PLUGINS = (
    "harness_lambda_executor",
    "harness_s3_storage",
    "harness_iam",
    "harness_esm_scaling",
    "harness_gateway",
    "harness_metrics",
    "harness_state",
)
# The only folder on LocalStack's PYTHONPATH: the interpreter shim, not the plugins.
STARTUP_DIR = PLUGIN_DIR / "startup"
RECORD = "localstack"
FILESYSTEM_ROOT = "FILESYSTEM_ROOT"  # where LocalStack keeps its files: this stack's own
HEALTH_PATH = "/_localstack/health"
# LocalStack's index of every AWS API it serves (`localstack.aws.spec`): each start reads
# it from `usr/lib/localstack` under its FILESYSTEM_ROOT (localstack.config.Directories),
# and without one builds it from every botocore service model: 2.3 of the 4.4 CPU-s
# that a start to healthy took (py-spy, 2026-12-06), on every start, because each
# stack's root starts empty. LocalStack's own image builds it once at build time; here
# it is built once per venv (`service_catalog`) and linked into each start's root.
CATALOG_DIR = "harness-service-catalog"  # in LocalStack's venv
STATIC_LIBS = Path("fs", "usr", "lib", "localstack")  # under data_dir()


def venv_dir(settings: Settings) -> Path:
    pins = settings.pins_file
    if not pins.exists():
        raise HarnessError(
            f"no pins file for LocalStack {settings.localstack_version}: {pins} is missing; "
            "set HARNESS_LOCALSTACK_VERSION to a pinned version (4.13.1) or "
            "HARNESS_LOCALSTACK_PINS to a constraints file"
        )
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    # The plugin set is part of the key: a checkout with other plugins gets a venv of
    # its own instead of reinstalling into one that another checkout's LocalStack runs.
    plugins = ",".join(PLUGINS)
    key = hashlib.sha256(
        f"{settings.localstack_version}|{python}|{pins.read_text()}|{plugins}".encode()
    )
    return (
        settings.cache_dir / "localstack" / f"{settings.localstack_version}-{key.hexdigest()[:12]}"
    )


def data_dir(settings: Settings) -> Path:
    """This instance's files: LocalStack's file system root, temp files and S3 objects."""
    return settings.state_dir / "localstack"


def ensure_installed(settings: Settings, progress: Callable[[str], None] = print) -> Path:
    """The LocalStack venv with our plugins, built on first use; returns its python."""
    target = venv_dir(settings)
    build_venv(
        target,
        sys.executable,
        [
            [
                "-c",
                str(settings.pins_file),
                f"localstack-core[runtime]=={settings.localstack_version}",
            ]
        ],
        progress=progress,
        what=f"LocalStack {settings.localstack_version}",
    )
    install_projects(
        target,
        [PLUGIN_DIR / name for name in PLUGINS],
        f"the harness's LocalStack plugins ({', '.join(PLUGINS)})",
        progress,
        constraints=settings.pins_file,
    )
    service_catalog(target, progress)
    return target / "bin" / "python"


def service_catalog(venv: Path, progress: Callable[[str], None] = print) -> Path:
    """The folder that holds LocalStack's service catalog for this venv, built on first
    use by LocalStack's own builder (`python -m localstack.aws.spec`, about 3.5 CPU-s).
    A build that fails is said and left to LocalStack, which then builds its own at
    each start as before."""
    folder = venv / CATALOG_DIR
    if any(folder.glob("*.dill")):
        return folder
    try:
        with locked(venv):
            return _build_service_catalog(venv, folder, progress)
    except OSError as error:  # a venv this user cannot write (a container's, say)
        progress(f"warning: LocalStack's service catalog was not built ({error})")
        return folder


def _build_service_catalog(venv: Path, folder: Path, progress: Callable[[str], None]) -> Path:
    if any(folder.glob("*.dill")):  # built by another process while this one waited
        return folder
    staging = venv / f"{CATALOG_DIR}.building"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / STATIC_LIBS).mkdir(parents=True)
    built = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "localstack.aws.spec"],
        env=_host_environment() | {FILESYSTEM_ROOT: str(staging / "fs"), "OVERRIDE_IN_DOCKER": "0"},
        capture_output=True,
        text=True,
    )
    if built.returncode != 0 or not any((staging / STATIC_LIBS).glob("*.dill")):
        said = (built.stdout + built.stderr).strip().splitlines()[-1:] or ["no file written"]
        progress(f"warning: LocalStack's service catalog was not built ({said[0]})")
    else:
        shutil.rmtree(folder, ignore_errors=True)
        (staging / STATIC_LIBS).rename(folder)
    shutil.rmtree(staging, ignore_errors=True)
    return folder


def make_data_dir(files: Path, python: Path) -> None:
    """A start's folders under `files` (data_dir). Its static-libs folder is a link to
    the venv's service catalog, so a stack's state holds no copy of it (LocalStack
    writes there only when its `lpm` command installs a package into it)."""
    catalog = python.parent.parent / CATALOG_DIR
    static_libs = files / STATIC_LIBS
    try:
        for sub in ("fs", "tmp", "s3"):
            (files / sub).mkdir(parents=True, exist_ok=True)
        if catalog.is_dir() and not os.path.lexists(static_libs):
            static_libs.parent.mkdir(parents=True, exist_ok=True)
            static_libs.symlink_to(catalog, target_is_directory=True)
    except OSError as exc:
        raise HarnessError(
            f"could not prepare LocalStack's folder {files}: {exc}. "
            "Free space there (or set HARNESS_STATE_DIR) and run again"
        ) from exc


def health(endpoint: str, timeout: float = 2.0) -> dict | None:
    found = http.get_json_or_none(endpoint + HEALTH_PATH, timeout)
    return found if isinstance(found, dict) else None


# The host's variables that tune LocalStack: read by `tuning_environment`, or by our
# plugins straight from the environment LocalStack inherits. The Docker backend passes
# them into its container, which derives the same tuning from them (a test reads this
# list against the function's and the plugins' code).
TUNING_VARIABLES = (
    "HARNESS_EAGER_SERVICES",
    "HARNESS_ESM_CONCURRENCY",
    "HARNESS_GATEWAY_SERVER",
    "HARNESS_IAM_SECURE_TRANSPORT",
    "HARNESS_LAMBDA_RETRY_BASE_DELAY",
    "HARNESS_LAMBDA_STARTUP_TIMEOUT",
    "HARNESS_SQS_METRICS_FLUSH_S",
    "HARNESS_SQS_METRICS_INTERVAL",
)


def tuning_environment(settings: Settings) -> dict[str, str]:
    """How LocalStack behaves, whichever backend runs it (docker-compose.yml repeats
    these; a test checks it)."""
    return {
        "DISABLE_EVENTS": "1",
        # LocalStack's own default HTTP server. Measured against hypercorn on the
        # 2-core machine, same stack, same bench: 10.5 images/s against 7.3, and an
        # upload -> result p50 of 2.8 s against 14.4 s at 10 uploads/s (the HTTP layer
        # was LocalStack's largest share of CPU, docs/performance.md).
        "GATEWAY_SERVER": os.environ.get("HARNESS_GATEWAY_SERVER", "twisted"),
        # Queue URLs http://127.0.0.1:4566/<account>/<name>: they need no DNS, and the
        # AWS provider can parse them (it rejects the "path" strategy's URLs).
        "SQS_ENDPOINT_STRATEGY": "off",
        "SERVICES": settings.services,
        "EAGER_SERVICE_LOADING": os.environ.get("HARNESS_EAGER_SERVICES", "1"),
        # AWS's SQS pollers long-poll without pause; LocalStack's defaults wait 1 s
        # after every batch and up to 10 s after an empty poll, which caps local
        # throughput at ~7 images/s and adds seconds of latency after a quiet spell.
        "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": "0.02",
        "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "0.2",
        "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_ERROR_SEC": "5",
        # Batches of one SQS mapping in flight at once (harness_esm_scaling). AWS starts
        # with five; 1 (LocalStack's own): more add nothing measurable on 2 cores (see the plugin).
        "HARNESS_ESM_CONCURRENCY": os.environ.get("HARNESS_ESM_CONCURRENCY", "1"),
        # Asynchronous invokes (SNS -> notifier) that fail are retried twice, after
        # 1x and 2x this many seconds (AWS: about 1 and 2 minutes).
        "LAMBDA_RETRY_BASE_DELAY": os.environ.get("HARNESS_LAMBDA_RETRY_BASE_DELAY", "5"),
        "SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL": os.environ.get(
            "HARNESS_SQS_METRICS_INTERVAL", "5"
        ),
    }


def _host_environment() -> dict[str, str]:
    """The host's environment less AWS_*, LOCALSTACK_* and PYTHONPATH: what a process of
    LocalStack's venv inherits (nothing of the harness is importable there)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "LOCALSTACK_")) and k != "PYTHONPATH"
    }


def environment(settings: Settings, files: Path, interpreters: dict[str, str]) -> dict[str, str]:
    """The embedded LocalStack's environment: the host's (`_host_environment`), where it
    runs and keeps its files, and how it behaves."""
    env = _host_environment()
    host_port = f"{settings.host}:{settings.port}"
    env.update(
        {
            "OVERRIDE_IN_DOCKER": "0",
            FILESYSTEM_ROOT: str(files / "fs"),
            "TMPDIR": str(files / "tmp"),
            "GATEWAY_LISTEN": host_port,
            "LOCALSTACK_HOST": host_port,
            "DNS_ADDRESS": "0",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "LAMBDA_RUNTIME_EXECUTOR": "local-process",
            "HARNESS_LAMBDA_INTERPRETERS": json.dumps(interpreters),
            "HARNESS_STATE_DIR": str(settings.state_dir),
            "HARNESS_S3_STORAGE_DIR": str(files / "s3"),
            # IAM for the functions' role sessions and the deliveries between services
            # (harness_iam): the harness's settings, enforce and on unless told
            # otherwise, and where its denials are logged.
            "HARNESS_IAM": settings.iam,
            "HARNESS_IAM_DELIVERIES": "1" if settings.iam_deliveries else "0",
            "HARNESS_IAM_DENIALS": str(settings.iam_denials),
            # The Rekognition stub as the region's endpoint of the functions (the
            # executor sets AWS_ENDPOINT_URL_REKOGNITION unless the function does), so
            # envs/aws, which names no endpoint, runs here unchanged.
            "HARNESS_LAMBDA_STUB_ENDPOINTS": json.dumps(
                {"rekognition": settings.rekognition_endpoint}
            ),
            "PYTHONPATH": str(STARTUP_DIR),
        }
        | tuning_environment(settings)
    )
    return env


def start(settings: Settings, progress: Callable[[str], None] = print) -> dict:
    """Start LocalStack, or return the record of the one this project already runs."""
    records = ProcessRecords(settings.state_dir)
    running = records.get(RECORD)
    if running and "corrupt" in running:
        progress(
            f"the record of LocalStack (pid {running['pid']}) is damaged "
            f"({running['corrupt']}); stopping that process and starting afresh"
        )
        stop(settings)
    elif running and health(running["endpoint"]):
        return running | {"reused": True}
    require_free(
        settings.host,
        [settings.port],
        "LocalStack",
        "choose another port with HARNESS_PORT=<port>, or point the harness at that server "
        "with HARNESS_BACKEND=external HARNESS_ENDPOINT=http://host:port",
    )
    python = ensure_installed(settings, progress)
    interpreters = lambda_runtimes.prepare(settings, progress)
    private_dir(settings.state_dir)
    files = data_dir(settings)
    shutil.rmtree(files, ignore_errors=True)
    make_data_dir(files, python)
    log_path = settings.state_dir / "localstack.log"
    started = time.monotonic()
    progress(f"Starting LocalStack {settings.localstack_version} on {settings.endpoint} ...")
    env = environment(settings, files, interpreters)
    with starting("LocalStack"):  # no Ctrl-C between the fork and the record
        process = spawn_logged([str(python), "-m", "localstack.runtime.main"], log_path, env, files)
        record = records.record(
            RECORD,
            process.pid,
            endpoint=settings.endpoint,
            log=str(log_path),
            data_dir=str(files),
            version=settings.localstack_version,
            # The plugins as installed when it started (their files' digest): what a
            # saved deployment of this LocalStack is keyed by (harness/build/snapshots.py).
            plugins=installed_projects(python.parent.parent),
            interpreters=interpreters,
            started_at=time.time(),
        )
    try:
        _wait_healthy(settings, process, log_path)
    except BaseException:
        stop(settings)
        raise
    return record | {"reused": False, "seconds": round(time.monotonic() - started, 2)}


def _wait_healthy(settings: Settings, process: subprocess.Popen, log_path: Path) -> None:
    wanted = {s.strip() for s in settings.services.split(",")}
    deadline = time.monotonic() + float(os.environ.get("HARNESS_START_TIMEOUT", "120"))
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
            raise HarnessError(f"LocalStack exited with code {process.returncode}:\n{tail}")
        state = health(settings.endpoint)
        if state:
            services = state.get("services", {})
            ready = {name for name, s in services.items() if s in ("running", "available")}
            if wanted <= ready:
                return
        time.sleep(0.2)
    raise HarnessError(f"LocalStack did not become healthy in time; see {log_path}")


# Seconds LocalStack gets to end on SIGTERM before SIGKILL. Its files are deleted right
# after, so a clean end keeps nothing; a shorter grace keeps a Ctrl-C within its 15 s
# on a loaded machine (run 60: 15.9 s from Ctrl-C to exit with 10 s here, the stubs and
# the Lambda processes stopped around it).
STOP_GRACE_S = 5.0


def stop(settings: Settings) -> bool:
    """Stop our LocalStack and every Lambda process it left, then remove its files
    (S3 objects included: they are this instance's own)."""
    records = ProcessRecords(settings.state_dir)
    entry = records.get(RECORD)
    stopped = records.stop(RECORD, timeout=STOP_GRACE_S)
    for record in records.all():
        if record["name"].startswith("lambda-"):
            records.stop(record["name"], timeout=2)
    # One whose record was lost (removed by mistake, say) still has this state dir's
    # file system root in its environment, which no other LocalStack has: it is stopped
    # too, never left running on files about to be deleted. Looked for even when a
    # record stopped one: an `up` on another HARNESS_PORT with the same state dir may
    # have replaced the record of one still running (the scan takes milliseconds).
    for orphan in with_environment(FILESYSTEM_ROOT, str(data_dir(settings) / "fs")):
        stop_process(orphan)
        stopped = True
    recorded = (entry or {}).get("data_dir")
    shutil.rmtree(Path(recorded) if recorded else data_dir(settings), ignore_errors=True)
    return stopped
