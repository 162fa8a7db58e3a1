"""The LocalStack plugins as a package of their own, and how the harness installs and runs them.

LocalStack itself is not needed: the metadata is read from the plugins' pyproject.toml,
the parts that do not import LocalStack run here, and the S3, gateway and metrics hooks run
against stand-ins of the LocalStack modules they touch.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import tomllib
import types
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from localstack_standins import import_plugin

from harness import config
from harness.runtime import localstack
from harness.runtime.backends import docker as docker_backend
from harness.util import venvs
from harness.util.processes import ProcessRecords, is_alive

PLUGIN_DIR = localstack.PLUGIN_DIR
if str(PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGIN_DIR))


def _defines(module: str, name: str) -> ast.AST | None:
    path = PLUGIN_DIR / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PLUGIN_DIR / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text())
    return next(
        (
            node
            for node in tree.body
            if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name == name
        ),
        None,
    )


def pyproject(package: str) -> dict:
    return tomllib.loads((PLUGIN_DIR / package / "pyproject.toml").read_text())


@pytest.mark.parametrize(
    ("package", "namespace", "entry_point"),
    [
        (
            "harness_lambda_executor",
            "localstack.lambda.runtime_executor",
            {"local-process": "harness_lambda_executor.plugin:LocalProcessExecutorPlugin"},
        ),
        (
            "harness_s3_storage",
            "localstack.hooks.on_runtime_create",
            {"use_instance_storage": "harness_s3_storage:use_instance_storage"},
        ),
        (
            "harness_esm_scaling",
            "localstack.hooks.on_runtime_create",
            {"scale_sqs_mappings": "harness_esm_scaling:scale_sqs_mappings"},
        ),
        (
            "harness_gateway",
            "localstack.hooks.on_runtime_create",
            {
                "bind_to_listen_host": "harness_gateway:bind_to_listen_host",
                "parse_content_type_quickly": "harness_gateway:parse_content_type_quickly",
            },
        ),
        (
            "harness_metrics",
            "localstack.hooks.on_runtime_create",
            {"gather_sqs_metrics": "harness_metrics:gather_sqs_metrics"},
        ),
        (
            "harness_state",
            "localstack.hooks.on_infra_start",
            {"add_state_endpoints": "harness_state:add_state_endpoints"},
        ),
    ],
)
def test_entry_points_are_declared_in_each_plugins_own_metadata(package, namespace, entry_point):
    assert package in localstack.PLUGINS
    project = pyproject(package)
    assert project["project"]["entry-points"] == {namespace: entry_point}
    # The folder is the package: what setuptools installs is what sits here.
    assert project["tool"]["setuptools"] == {"packages": [package], "package-dir": {package: "."}}
    for group in project["project"]["entry-points"].values():
        for name, target in group.items():
            module, attribute = target.split(":")
            node = _defines(module, attribute)
            assert node is not None, f"{target} does not exist"
            if isinstance(node, ast.ClassDef):  # plux takes the plugin's name from the class
                assert f"name = {name!r}" in ast.unparse(node)
            else:  # ... and a function plugin's from the function
                assert node.name == name
    # The hand-written dist-info on PYTHONPATH is gone.
    assert not list(PLUGIN_DIR.glob("*.dist-info"))


def test_the_plugins_import_nothing_of_the_harness():
    wrong = []
    for path in PLUGIN_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            wrong += [f"{path}: {n}" for n in names if n == "harness" or n.startswith("harness.")]
    assert wrong == []


def test_localstack_sees_only_the_startup_shim_on_its_path(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PYTHONPATH", "/somewhere/of/the/harness")
    settings = config.load()
    env = localstack.environment(settings, localstack.data_dir(settings), {})
    assert env["PYTHONPATH"] == str(localstack.STARTUP_DIR)
    assert sorted(p.name for p in localstack.STARTUP_DIR.iterdir() if p.suffix == ".py") == [
        "sitecustomize.py"
    ]
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "local-process"
    # How LocalStack behaves is the same on every backend.
    shared = docker_backend.shared_localstack_environment(settings)
    assert shared == localstack.tuning_environment(settings)
    assert {name: env[name] for name in shared} == shared


def _harness_variables_read(tree: ast.AST) -> set[str]:
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"HARNESS_[A-Z0-9_]+", node.value)
    }


def test_every_variable_that_tunes_localstack_reaches_the_docker_container(monkeypatch, tmp_path):
    """A variable LocalStack reads must be in the environment the harness builds or in
    TUNING_VARIABLES, which the Docker backend passes into its container: else the
    container silently ignores what the host honours."""
    for name in [name for name in os.environ if name.startswith("HARNESS_")]:
        monkeypatch.delenv(name)  # the shell's own settings excuse nothing
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    settings = config.load()
    built = set(localstack.environment(settings, localstack.data_dir(settings), {}))
    read = _harness_variables_read(
        ast.parse(textwrap.dedent(inspect.getsource(localstack.tuning_environment)))
    )
    for path in PLUGIN_DIR.rglob("*.py"):
        read |= _harness_variables_read(ast.parse(path.read_text()))
    assert "HARNESS_SQS_METRICS_FLUSH_S" in read  # the plugins' own reads are seen
    assert sorted(read - built - set(localstack.TUNING_VARIABLES)) == []
    assert sorted(set(localstack.TUNING_VARIABLES) - read) == []  # none listed for nothing
    for name in localstack.TUNING_VARIABLES:
        monkeypatch.setenv(name, "7")
    # The settings `environment()` turns into LocalStack's variables, the user's choice
    # on the host: the container derives them from these.
    chosen = {"HARNESS_IAM": "audit", "HARNESS_IAM_DELIVERIES": "0", "HARNESS_SERVICES": "s3,sqs"}
    for name, value in chosen.items():
        monkeypatch.setenv(name, value)
    env = docker_backend.localstack_spec(config.load()).env
    expected = dict.fromkeys(localstack.TUNING_VARIABLES, "7") | chosen
    assert {name: env.get(name) for name in expected} == expected


def test_each_instance_keeps_its_s3_objects_in_its_own_state_dir(monkeypatch, tmp_path):
    folders = []
    for name in ("one", "two"):
        monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / name))
        settings = config.load()
        env = localstack.environment(settings, localstack.data_dir(settings), {})
        folders.append(Path(env["HARNESS_S3_STORAGE_DIR"]))
        assert folders[-1].is_relative_to(settings.state_dir)
        assert not folders[-1].is_relative_to("/tmp/localstack-s3-storage")
    assert folders[0] != folders[1]


def test_the_s3_hook_points_localstack_at_the_instance_folder(monkeypatch, tmp_path):
    provider = types.ModuleType("localstack.services.s3.provider")
    provider.DEFAULT_S3_TMP_DIR = "/tmp/localstack-s3-storage"
    s3 = types.ModuleType("localstack.services.s3")
    s3.provider = provider
    storage = import_plugin(
        monkeypatch,
        "harness_s3_storage",
        {
            "localstack.services": types.ModuleType("localstack.services"),
            "localstack.services.s3": s3,
            "localstack.services.s3.provider": provider,
        },
    )
    monkeypatch.delenv(storage.ENV_VAR, raising=False)
    storage.use_instance_storage()
    assert provider.DEFAULT_S3_TMP_DIR == "/tmp/localstack-s3-storage"  # not ours: as is
    monkeypatch.setenv(storage.ENV_VAR, str(tmp_path / "localstack" / "s3"))
    storage.use_instance_storage()
    folder = tmp_path / "localstack" / "s3"
    assert str(folder) == provider.DEFAULT_S3_TMP_DIR
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_the_gateway_hook_binds_twisted_to_the_host_gateway_listen_names(monkeypatch):
    """LocalStack's twisted server passes no interface for IPv4 (it would listen on every
    address); after the hook, its endpoints bind to GATEWAY_LISTEN's host for the port."""
    made = []

    def endpoint(kind):
        return lambda reactor, port, **kwargs: made.append((kind, port, kwargs))

    twisted_server = types.ModuleType("localstack.runtime.server.twisted")
    twisted_server.endpoints = types.SimpleNamespace(
        TCP4ServerEndpoint=endpoint("tcp4"), TCP6ServerEndpoint=endpoint("tcp6")
    )
    server = types.ModuleType("localstack.runtime.server")
    server.twisted = twisted_server
    localstack_config = types.ModuleType("localstack.config")
    localstack_config.GATEWAY_SERVER = "twisted"
    localstack_config.GATEWAY_LISTEN = [
        types.SimpleNamespace(host="127.0.0.1", port=4566),
        types.SimpleNamespace(host="::1", port=4567),
    ]
    gateway = import_plugin(
        monkeypatch,
        "harness_gateway",
        {
            "localstack.config": localstack_config,
            "localstack.runtime.server": server,
            "localstack.runtime.server.twisted": twisted_server,
        },
    )
    localstack_config.GATEWAY_SERVER = "hypercorn"
    untouched = twisted_server.endpoints
    gateway.bind_to_listen_host()
    assert twisted_server.endpoints is untouched
    localstack_config.GATEWAY_SERVER = "twisted"
    gateway.bind_to_listen_host()
    # What TwistedRuntimeServer.register calls for each GATEWAY_LISTEN entry:
    twisted_server.endpoints.TCP4ServerEndpoint("reactor", 4566)
    twisted_server.endpoints.TCP6ServerEndpoint("reactor", 4567, interface="::1")
    twisted_server.endpoints.TCP4ServerEndpoint("reactor", 9999)  # a port it does not name
    assert made == [
        ("tcp4", 4566, {"interface": "127.0.0.1"}),
        ("tcp6", 4567, {"interface": "::1"}),
        ("tcp4", 9999, {}),
    ]


def email_content_type(line: bytes) -> bytes:
    """twisted 24.3's own `_parseContentType`, the function the hook replaces."""
    message = EmailMessage()
    message["content-type"] = line.decode("charmap")
    return message.get_content_type().encode("charmap")


CONTENT_TYPES = [
    b"application/x-www-form-urlencoded",
    b"application/x-www-form-urlencoded; charset=utf-8",
    b"Application/X-WWW-Form-Urlencoded ;charset=UTF-8",
    b"multipart/form-data; boundary=----abc",
    b'multipart/form-data; boundary="a;b"',
    b"application/x-amz-json-1.0",
    b"application/json",
    b"  text/xml  ",
    b"binary/octet-stream",
    b"image/jpeg",
    b"",
    b"nonsense",
    b"a/b/c",
    b";charset=utf-8",
    b"text/plain; charset=\xe9",
]


@pytest.mark.parametrize("line", CONTENT_TYPES)
def test_the_quick_content_type_is_the_email_packages(monkeypatch, line):
    gateway = import_plugin(monkeypatch, "harness_gateway")
    assert gateway.content_type_key(line) == email_content_type(line)


def test_where_the_quick_content_type_differs_from_the_email_packages(monkeypatch):
    """The two differences the module's docstring names, and nothing twisted acts on
    becomes something else: an encoded word is not decoded, and a line break the email
    package raised on (failing the request) is kept as a character."""
    gateway = import_plugin(monkeypatch, "harness_gateway")
    encoded = b"=?us-ascii?q?application/x-www-form-urlencoded?="
    assert email_content_type(encoded) == b"application/x-www-form-urlencoded"
    assert gateway.content_type_key(encoded) == encoded.lower()
    broken = b"\x0bmultipart/form-data"
    with pytest.raises(ValueError):
        email_content_type(broken)
    assert gateway.content_type_key(broken) == b"multipart/form-data"


TWISTED_HTTP = """
def _parseContentType(line):
    return b"email package"

class Request:
    def requestReceived(self, line):
        return _parseContentType(line)
"""


def test_the_content_type_hook_replaces_the_name_twisted_calls_or_start_up_fails(monkeypatch):
    """twisted.web.http in miniature: requestReceived finds the parser by its module-level
    name, so the hook's replacement is what a request uses."""
    http = types.ModuleType("twisted.web.http")
    exec(TWISTED_HTTP, http.__dict__)
    web = types.ModuleType("twisted.web")
    web.http = http
    localstack_config = types.ModuleType("localstack.config")
    localstack_config.GATEWAY_SERVER = "hypercorn"
    modules = {"localstack.config": localstack_config, "twisted": types.ModuleType("twisted")}
    gateway = import_plugin(
        monkeypatch, "harness_gateway", modules | {"twisted.web": web, "twisted.web.http": http}
    )
    gateway.parse_content_type_quickly()  # not twisted: nothing to do
    assert http.Request().requestReceived(b"application/json") == b"email package"
    localstack_config.GATEWAY_SERVER = "twisted"
    gateway.parse_content_type_quickly()
    assert http.Request().requestReceived(b"Application/JSON; x=1") == b"application/json"

    class Renamed:  # a release that parses the header some other way
        def requestReceived(self, line):
            return line

    http.Request = Renamed
    with pytest.raises(RuntimeError, match="no longer uses _parseContentType"):
        gateway.parse_content_type_quickly()


class CloudwatchDispatcher:  # LocalStack's, as far as the metrics hook touches it
    running = True


def metrics_hook(monkeypatch, put_metric_data, enabled: dict[str, bool]):
    """The metrics hook installed on stand-ins: (the plugin, its gathering)."""

    class Clients:
        def __init__(self, region_name: str, aws_access_key_id: str) -> None:
            self.cloudwatch = types.SimpleNamespace(
                put_metric_data=lambda **call: put_metric_data(aws_access_key_id, region_name, call)
            )

    provider = types.ModuleType("localstack.services.sqs.provider")
    provider.CloudwatchDispatcher = CloudwatchDispatcher
    connect = types.ModuleType("localstack.aws.connect")
    connect.connect_to = Clients
    bootstrap = types.ModuleType("localstack.utils.bootstrap")
    bootstrap.is_api_enabled = lambda api: enabled[api]
    metrics = import_plugin(
        monkeypatch,
        "harness_metrics",
        {
            "localstack.aws": types.ModuleType("localstack.aws"),
            "localstack.aws.connect": connect,
            "localstack.services": types.ModuleType("localstack.services"),
            "localstack.services.sqs": types.ModuleType("localstack.services.sqs"),
            "localstack.services.sqs.provider": provider,
            "localstack.utils": types.ModuleType("localstack.utils"),
            "localstack.utils.bootstrap": bootstrap,
        },
    )
    made = []

    class Seen(metrics.Gathered):  # the hook's own gathering, to send it by hand
        def __init__(self, *args) -> None:
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(metrics, "Gathered", Seen)
    monkeypatch.setattr(CloudwatchDispatcher, "dispatch_sqs_metric", None, raising=False)
    monkeypatch.setenv(metrics.ENV_VAR, "60")
    metrics.gather_sqs_metrics()
    (gathered,) = made
    return metrics, gathered


def test_sqs_per_call_metrics_reach_cloudwatch_together_each_point_kept(monkeypatch):
    """SQS's dispatcher hands each per-call metric to the gathering; one PutMetricData per
    account and region carries them all, one datum per queue, metric and unit whose
    Values and Counts keep every point."""
    sent = []
    enabled = {"cloudwatch": True}
    _, gathered = metrics_hook(monkeypatch, lambda *call: sent.append(call), enabled)
    dispatcher = CloudwatchDispatcher()
    for _ in range(3):
        dispatcher.dispatch_sqs_metric("111", "us-east-1", "q", "NumberOfMessagesSent")
    for size in (700, 700, 20):
        dispatcher.dispatch_sqs_metric("111", "us-east-1", "q", "SentMessageSize", size, "Bytes")
    dispatcher.dispatch_sqs_metric("222", "eu-west-1", "r", "NumberOfEmptyReceives")
    dispatcher.running = False  # SQS shutting down: nothing more is taken
    dispatcher.dispatch_sqs_metric("111", "us-east-1", "q", "NumberOfMessagesDeleted", 3)
    assert sent == []  # nothing before the send
    gathered.send()
    data = {
        (account, region, datum["Dimensions"][0]["Value"], datum["MetricName"]): (
            datum["Unit"],
            dict(zip(datum["Values"], datum["Counts"], strict=True)),
        )
        for account, region, call in sent
        for datum in call["MetricData"]
    }
    assert data == {
        ("111", "us-east-1", "q", "NumberOfMessagesSent"): ("Count", {1: 3.0}),
        ("111", "us-east-1", "q", "SentMessageSize"): ("Bytes", {700: 2.0, 20: 1.0}),
        ("222", "eu-west-1", "r", "NumberOfEmptyReceives"): ("Count", {1: 1.0}),
    }
    assert [(account, call["Namespace"]) for account, _, call in sent] == [
        ("111", "AWS/SQS"),
        ("222", "AWS/SQS"),
    ]
    gathered.send()
    assert len(sent) == 2  # sent once
    enabled["cloudwatch"] = False  # CloudWatch not among the services: nothing is put
    dispatcher.running = True
    dispatcher.dispatch_sqs_metric("111", "us-east-1", "q", "NumberOfMessagesSent")
    gathered.send()
    assert len(sent) == 2


def test_a_refused_part_of_the_metrics_does_not_stop_the_next(monkeypatch):
    """More data than one PutMetricData may carry go in parts; a part CloudWatch refuses
    is logged and the next still goes."""
    sent = []

    def put_metric_data(account, region, call):
        sent.append(len(call["MetricData"]))
        if len(sent) == 1:
            raise RuntimeError("refused")

    metrics, gathered = metrics_hook(monkeypatch, put_metric_data, {"cloudwatch": True})
    dispatcher = CloudwatchDispatcher()
    for queue in range(metrics.MAX_DATA + 1):
        dispatcher.dispatch_sqs_metric("111", "us-east-1", f"q{queue}", "NumberOfMessagesSent")
    gathered.send()
    assert sent == [metrics.MAX_DATA, 1]


def test_metric_data_keep_cloudwatchs_limits(monkeypatch):
    """At most 150 values in a datum; the counts still add up to every point."""
    metrics = import_plugin(monkeypatch, "harness_metrics")
    points = [
        {"QueueName": "q", "MetricName": "SentMessageSize", "Unit": "Bytes", "Value": size}
        for size in range(metrics.MAX_VALUES + 10)
        for _ in range(2)
    ]
    now = datetime.now(UTC)
    data = metrics.as_data(points, now)
    assert [len(datum["Values"]) for datum in data] == [metrics.MAX_VALUES, 10]
    assert sum(sum(datum["Counts"]) for datum in data) == len(points)
    assert {datum["Timestamp"] for datum in data} == {now}


def test_the_metrics_send_interval_is_checked(monkeypatch):
    metrics = import_plugin(monkeypatch, "harness_metrics")
    assert metrics.interval({}) == metrics.DEFAULT_S
    assert metrics.interval({metrics.ENV_VAR: "0.5"}) == 0.5
    for bad in ("0", "-1", "61", "soon"):
        with pytest.raises(ValueError, match=metrics.ENV_VAR):
            metrics.interval({metrics.ENV_VAR: bad})


def test_the_executor_records_lambda_processes_in_the_harness_format(tmp_path, monkeypatch):
    from harness_lambda_executor import records as executor_records

    monkeypatch.setenv(executor_records.STATE_DIR_VAR, str(tmp_path))
    written = executor_records.ProcessRecords.from_environment()
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
    )
    try:
        written.record("lambda-0a1b", child.pid, function="app.handler")
        assert not list((tmp_path / "processes").glob("*.tmp"))
        read = ProcessRecords(tmp_path).get("lambda-0a1b")
        assert (read["pid"], read["function"]) == (child.pid, "app.handler")
        assert "corrupt" not in read
        assert executor_records.peak_rss_mb(child.pid) > 0
        # `harness down` stops what the executor left, as it stops its own processes.
        assert ProcessRecords(tmp_path).stop("lambda-0a1b", timeout=5)
        assert child.wait(timeout=10) is not None
        assert not is_alive(child.pid, read["create_time"])
        written.forget("lambda-0a1b", child.pid)  # already gone: no error
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.parametrize("started", [False, True], ids=["never-started", "started"])
def test_a_runtime_api_server_stops_whether_or_not_it_was_started(started):
    """LocalStack stops an environment whose start failed before the server ran (its
    AssumeRole refused): stop() must return then too, or a synchronous invoke hangs."""
    from harness_lambda_executor.runtime_api import RuntimeApiServer

    server = RuntimeApiServer()
    host, port = server.address.rsplit(":", 1)
    if started:
        server.start()
    stopping = threading.Thread(target=server.stop, daemon=True)
    stopping.start()
    stopping.join(timeout=5)
    assert not stopping.is_alive(), "RuntimeApiServer.stop() blocked"
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=2):
        pass


@pytest.fixture
def fake_venv(tmp_path, monkeypatch):
    """A venv folder whose pip only records what it was asked to install."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    installs = []

    def pip(cmd, what, env=None):
        python = str(venv / "bin" / "python")
        uv = venvs._uv_binary()
        prefix = venvs.uv_command(uv, python) if cmd[0] == uv else venvs.pip_command(python)
        args = cmd[len(prefix) :]
        staged = [Path(arg) for arg in args if arg.startswith("/") and Path(arg).is_dir()]
        installs.append(
            {
                "args": args,
                "projects": {
                    folder.name: sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
                    for folder in staged
                },
            }
        )

    monkeypatch.setattr(venvs, "_run", pip)
    return venv, installs


def test_the_plugins_are_installed_again_only_when_their_files_change(tmp_path, fake_venv):
    venv, installs = fake_venv
    sources = [tmp_path / "one", tmp_path / "two"]
    for source in sources:
        (source / "sub").mkdir(parents=True)
        (source / "pyproject.toml").write_text(f"[project]\nname = '{source.name}'\n")
        (source / "__init__.py").write_text("A = 1\n")
    pins = tmp_path / "pins.txt"
    pins.write_text("psutil==7.2.1\n")

    def install() -> bool:
        return venvs.install_projects(venv, sources, "plugins", lambda m: None, pins)

    assert install()
    assert not install()  # stamped
    (sources[0] / "__pycache__").mkdir()
    (sources[0] / "__pycache__" / "x.pyc").write_bytes(b"junk")
    (sources[1] / "two.egg-info").mkdir()
    (sources[1] / "build").mkdir()
    assert not install()  # build leftovers are not the source
    (sources[1] / "__init__.py").write_text("A = 2\n")
    assert install()
    pins.write_text("psutil==7.2.2\n")
    assert install()  # other pins, other dependencies
    assert len(installs) == 3
    # pip got clean copies (it would leave build/ and *.egg-info in the sources), all at
    # once, their dependencies held to the pins.
    assert installs[-1]["projects"] == {
        "one": ["__init__.py", "pyproject.toml", "sub"],
        "two": ["__init__.py", "pyproject.toml", "sub"],
    }
    assert installs[-1]["args"][:2] == ["-c", str(pins)]


def test_ensure_installed_installs_the_plugins_into_localstacks_venv(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    monkeypatch.setattr(localstack, "build_venv", lambda target, *a, **k: calls.append(target))
    monkeypatch.setattr(
        localstack,
        "install_projects",
        lambda venv, sources, what, progress, constraints: calls.append(
            (venv, sources, constraints)
        ),
    )
    monkeypatch.setattr(localstack, "service_catalog", lambda venv, progress: calls.append(venv))
    settings = config.load()
    python = localstack.ensure_installed(settings, progress=lambda m: None)
    venv = localstack.venv_dir(settings)
    names = ("lambda_executor", "s3_storage", "iam", "esm_scaling", "gateway", "metrics", "state")
    plugins = [PLUGIN_DIR / f"harness_{name}" for name in names]
    assert calls == [venv, (venv, plugins, settings.pins_file), venv]
    assert python == venv / "bin" / "python"


def test_each_start_has_the_venvs_service_catalog_where_localstack_reads_it(tmp_path):
    """Without the catalog in its static-libs folder, LocalStack builds it from every
    botocore model at each start (2.3 CPU-s). The real LocalStack of this venv says
    where it looks and which file name it wants (its version and botocore's)."""
    python = localstack.ensure_installed(config.load(), progress=lambda m: None)
    [catalog] = (python.parent.parent / localstack.CATALOG_DIR).glob("*.dill")
    files = tmp_path / "localstack"
    localstack.make_data_dir(files, python)
    asked = subprocess.run(
        [
            str(python),
            "-c",
            "from localstack import config; from localstack.aws import spec; "
            "print(config.dirs.static_libs); print(spec._get_catalog_filename())",
        ],
        env={"PATH": os.environ["PATH"], "OVERRIDE_IN_DOCKER": "0"}
        | {localstack.FILESYSTEM_ROOT: str(files / "fs")},
        capture_output=True,
        text=True,
        check=True,
    )
    static_libs, wanted = asked.stdout.split()
    assert Path(static_libs) == files / localstack.STATIC_LIBS
    assert wanted == catalog.name
    assert (files / localstack.STATIC_LIBS).is_symlink()  # no copy in each stack's state
    assert (files / localstack.STATIC_LIBS / wanted).read_bytes() == catalog.read_bytes()


def test_the_functions_reach_the_rekognition_stub_as_their_regions_endpoint(monkeypatch, tmp_path):
    """envs/aws names no Rekognition endpoint: the executor gives the stub's to a function
    that names none (HARNESS_LAMBDA_STUB_ENDPOINTS), on this instance's stub port."""
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HARNESS_REKOGNITION_PORT", "4999")
    settings = config.load()
    env = localstack.environment(settings, localstack.data_dir(settings), {})
    assert json.loads(env["HARNESS_LAMBDA_STUB_ENDPOINTS"]) == {
        "rekognition": "http://127.0.0.1:4999"
    }
