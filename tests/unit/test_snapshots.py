"""Saved deployments (harness/build/snapshots.py): what the key follows, how a save and a
load reach LocalStack's endpoint, and what is kept.

A real HTTP server on 127.0.0.1 plays the harness_state plugin's two routes; the load
into a real LocalStack is tested end to end in tests/e2e/test_saved_deployment.py.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness import config
from harness.build import deploy, snapshots
from harness.util.errors import HarnessError
from harness.util.processes import ProcessRecords


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv(snapshots.ENABLED_ENV, raising=False)
    monkeypatch.setenv("HARNESS_BACKEND", "embedded")
    return config.load()


class Plugin:
    """The plugin's routes: a save writes a manifest into the folder; answers as told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.status = 200
        self.error = ""

        plugin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                plugin.calls.append((self.path, body["folder"]))
                if plugin.status == 200 and self.path == snapshots.SAVE_PATH:
                    Path(body["folder"], "manifest.json").write_text("{}")
                answer = {"seconds": 0.1} if plugin.status == 200 else {"error": plugin.error}
                data = json.dumps(answer).encode()
                self.send_response(plugin.status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def plugin(settings, monkeypatch):
    server = Plugin()
    monkeypatch.setenv("HARNESS_PORT", str(server.port))
    yield server
    server.close()


def make_work(tmp_path: Path, text: str = '{"serial": 1}') -> Path:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / snapshots.TFSTATE).write_text(text)
    return work


def test_a_save_goes_through_the_plugin_and_keeps_the_terraform_state(plugin, tmp_path):
    settings = config.load()
    work = make_work(tmp_path)
    saved = snapshots.save(settings, "k1", work)
    assert saved == settings.cache_dir / "deployments" / "k1"
    assert (saved / "manifest.json").exists()
    assert (saved / snapshots.TFSTATE).read_text() == '{"serial": 1}'
    # The stack's secrets are in it: private, as the state folder is.
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert snapshots.find(settings, "k1") == saved
    assert snapshots.find(settings, "other") is None
    # A save was asked into a scratch folder beside it, renamed when whole.
    ((path, folder),) = plugin.calls
    assert path == snapshots.SAVE_PATH and Path(folder).parent == saved.parent
    assert [p.name for p in saved.parent.iterdir()] == ["k1"]


def test_a_load_puts_the_saved_terraform_state_in_the_work_folder(plugin, tmp_path):
    settings = config.load()
    saved = snapshots.save(settings, "k2", make_work(tmp_path))
    other = tmp_path / "other-work"
    other.mkdir()
    os.utime(saved, (1000, 1000))
    snapshots.load(settings, saved, other)
    assert (other / snapshots.TFSTATE).read_text() == '{"serial": 1}'
    assert saved.stat().st_mtime > 1000  # marked as used, for the prune
    assert plugin.calls[-1] == (snapshots.LOAD_PATH, str(saved))


def test_a_refused_save_or_load_says_why_and_leaves_nothing_half_saved(plugin, tmp_path):
    settings = config.load()
    plugin.status, plugin.error = 500, "ValueError: s3: container 1 is not the saved one"
    with pytest.raises(HarnessError, match="container 1 is not the saved one"):
        snapshots.save(settings, "k3", make_work(tmp_path))
    assert list((settings.cache_dir / "deployments").iterdir()) == []
    folder = tmp_path / "saved"
    folder.mkdir()
    with pytest.raises(HarnessError, match="refused /_harness/state/load"):
        snapshots.load(settings, folder, tmp_path)


def test_no_answer_is_a_clear_error(settings, tmp_path, monkeypatch):
    from harness.util.net import free_ports

    monkeypatch.setenv("HARNESS_PORT", str(free_ports(1)[0]))
    with pytest.raises(HarnessError, match="did not answer /_harness/state/save"):
        snapshots.save(config.load(), "k4", make_work(tmp_path))


def test_only_the_most_recently_saved_or_loaded_are_kept(plugin, tmp_path):
    settings = config.load()
    root = settings.cache_dir / "deployments"
    root.mkdir(parents=True)
    for number in range(snapshots.KEEP + 3):
        folder = root / f"s{number}"
        folder.mkdir()
        os.utime(folder, (1000 + number, 1000 + number))
    (root / "s0" / snapshots.TFSTATE).write_text("{}")
    snapshots.load(settings, root / "s0", make_work(tmp_path))  # the oldest, used now
    (root / ".s-scratch").mkdir()  # a save in progress is not counted or removed
    (root / ".s-killed").mkdir()  # what a killed save left an hour ago is
    os.utime(root / ".s-killed", (1000, 1000))
    snapshots._prune(root)
    kept = sorted(p.name for p in root.iterdir())
    newest = [f"s{n}" for n in range(4, snapshots.KEEP + 3)]
    assert kept == sorted([".s-scratch", "s0", *newest])


def test_side_by_side_stacks_save_nothing(tmp_path):
    from harness.testing.side_by_side import side_by_side_environment

    env = side_by_side_environment(tmp_path / "state")
    assert env[snapshots.ENABLED_ENV] == "0"


def test_a_saved_deployment_deleted_during_its_load_is_a_clear_error(plugin, tmp_path):
    settings = config.load()
    gone = settings.cache_dir / "deployments" / "gone"
    with pytest.raises(HarnessError, match="went away"):
        snapshots.load(settings, gone, make_work(tmp_path))


def test_the_key_follows_everything_the_deployed_state_follows(settings, monkeypatch, tmp_path):
    base = {"name_prefix": "imgpipe", "labeler_zip_sha256": "abc", "labeler_zip_path": "x.zip"}
    key = snapshots.key(settings, "local", "infra-1", base)
    assert snapshots.key(settings, "local", "infra-1", dict(base)) == key
    assert snapshots.key(settings, "local", "infra-2", base) != key
    assert snapshots.key(settings, "aws-on-local", "infra-1", base) != key
    assert snapshots.key(settings, "local", "infra-1", base | {"labeler_zip_sha256": "d"}) != key
    monkeypatch.setenv("HARNESS_PORT", "4999")  # queue URLs carry the port
    assert snapshots.key(config.load(), "local", "infra-1", base) != key
    monkeypatch.delenv("HARNESS_PORT")
    monkeypatch.setenv("HARNESS_LAMBDA_RETRY_BASE_DELAY", "7")  # LocalStack's settings
    assert snapshots.key(config.load(), "local", "infra-1", base) != key
    monkeypatch.delenv("HARNESS_LAMBDA_RETRY_BASE_DELAY")
    now = snapshots.key(settings, "local", "infra-1", base)
    # The plugins LocalStack started with, from its record (the test's own state dir:
    # never the worker's, whose LocalStack records this would replace).
    assert settings.state_dir.is_relative_to(tmp_path)
    records = ProcessRecords(settings.state_dir)
    records.record("localstack", os.getpid(), plugins="other ones")
    assert snapshots.key(settings, "local", "infra-1", base) != now
    records.forget("localstack", os.getpid())
    assert snapshots.key(settings, "local", "infra-1", base) == now
    monkeypatch.setattr(snapshots, "source_digest", lambda folder: "other start-up code")
    assert snapshots.key(settings, "local", "infra-1", base) != now


def test_zip_paths_are_relative_to_the_staged_root_so_clones_share_a_key(tmp_path, monkeypatch):
    """The same sources in two clones give the same variables, hence the same key."""
    from harness.build.packaging import Package

    variables = []
    for clone in ("a", "b"):
        project = tmp_path / clone
        zip_path = project / "build" / "lambdas" / "labeler.zip"
        root = project / ".harness" / "terraform" / "local" / "src" / "envs" / "local"
        package = Package(name="labeler", path=zip_path, sha256_base64="abc=")
        monkeypatch.setenv("HARNESS_PROJECT_DIR", str(project))
        found = deploy._tfvars(config.load(), {"labeler": package}, root)
        variables.append({k: v for k, v in found.items() if k.startswith("labeler")})
    assert variables[0] == variables[1]
    assert not variables[0]["labeler_zip_path"].startswith("/")


@pytest.mark.parametrize("value", ["0", "false", "off", "no"])
def test_the_variable_turns_it_off(settings, monkeypatch, value):
    assert snapshots.enabled(settings)
    monkeypatch.setenv(snapshots.ENABLED_ENV, value)
    assert not snapshots.enabled(settings)


# --- what deploy() does around a load and a save ----------------------------------------


@pytest.fixture
def recorded(monkeypatch):
    """snapshots and stack calls recorded instead of made."""
    calls: list[tuple] = []
    monkeypatch.setattr(deploy.snapshots, "discard", lambda folder: calls.append(("discard",)))
    monkeypatch.setattr(deploy.stack, "down", lambda s, parts: calls.append(("down", parts)))
    monkeypatch.setattr(deploy.stack, "up", lambda s, progress: calls.append(("up",)))
    return calls


def test_a_failed_load_deletes_it_and_starts_localstack_afresh(
    settings, tmp_path, recorded, monkeypatch
):
    work = make_work(tmp_path)
    monkeypatch.setattr(deploy.snapshots, "load", refuse_load)
    said: list[str] = []
    assert deploy._load_saved(settings, "local", tmp_path / "saved", work, said.append) is None
    assert recorded == [("discard",), ("down", {deploy.stack.LOCALSTACK}), ("up",)]
    assert not (work / snapshots.TFSTATE).exists()  # the apply starts from nothing
    assert "not Active" in said[0] and "deleted" in said[0]


def refuse_load(*args):
    raise HarnessError("LocalStack refused /_harness/state/load: lambda: not Active")


def test_a_failed_save_is_only_said(settings, tmp_path, monkeypatch):
    """The stack is deployed; only its next start is slower."""

    def full(*args):
        raise HarnessError("could not save the deployment: No space left on device")

    monkeypatch.setattr(deploy.snapshots, "save", full)
    said: list[str] = []
    deploy._save(settings, "local", "k", tmp_path, said.append)
    assert "not saved" in said[0] and "No space left" in said[0]


@pytest.fixture
def offline_deploy(settings, tmp_path, monkeypatch):
    """deploy() with the builds, Terraform and LocalStack's answers stood in for; the
    saves it asks for are recorded."""
    saves: list[str] = []
    fingerprint = {"infra": "i", "lambdas": "l", "target": "t"}
    monkeypatch.setattr(deploy, "fingerprint", lambda s: dict(fingerprint))
    monkeypatch.setattr(deploy, "_target_identity", lambda s: "t")
    monkeypatch.setattr(deploy, "build_functions", lambda s, progress: {})
    monkeypatch.setattr(deploy, "_staged_sources", lambda s, env: tmp_path)

    def apply(settings, source, work, var_file, progress):
        summary = "Apply complete! Resources: 40 added, 0 changed, 0 destroyed."
        (work / "apply.log").write_text(summary)
        return {"labeler_function": "f"}

    monkeypatch.setattr(deploy, "apply_root", apply)
    monkeypatch.setattr(deploy.snapshots, "enabled", lambda s: True)
    monkeypatch.setattr(deploy.snapshots, "find", lambda s, name: None)
    monkeypatch.setattr(deploy.snapshots, "save", lambda s, name, work: saves.append(name))
    return saves


def test_a_localstack_that_holds_resources_neither_loads_nor_saves(
    settings, offline_deploy, monkeypatch
):
    """A load would replace what a test made before; a save would keep it for every
    later start."""
    monkeypatch.setattr(deploy, "_resources_held", lambda s: "buckets: 1")
    said: list[str] = []
    record = deploy.deploy(settings, fresh_stack=True, progress=said.append)
    assert offline_deploy == [] and record["snapshot"] is None
    assert any("already holds buckets: 1" in line for line in said), said


def test_an_empty_fresh_localstack_is_saved_after_its_apply(settings, offline_deploy, monkeypatch):
    monkeypatch.setattr(deploy, "_resources_held", lambda s: "")
    record = deploy.deploy(settings, fresh_stack=True, progress=lambda m: None)
    assert offline_deploy == [record["snapshot"]["key"]]
    assert record["snapshot"]["loaded"] is False
    # A stack that was not started just now is neither loaded into nor saved.
    deploy._record_path(settings, "local").unlink()
    assert deploy.deploy(settings, progress=lambda m: None)["snapshot"] is None
    assert len(offline_deploy) == 1


def test_after_a_failed_load_the_record_names_the_new_localstack(
    settings, tmp_path, offline_deploy, recorded, monkeypatch
):
    monkeypatch.setattr(deploy, "_resources_held", lambda s: "")
    monkeypatch.setattr(deploy.snapshots, "find", lambda s, name: tmp_path / "saved")
    monkeypatch.setattr(deploy.snapshots, "load", refuse_load)
    monkeypatch.setattr(deploy, "_target_identity", lambda s: "the new LocalStack")
    record = deploy.deploy(settings, fresh_stack=True, progress=lambda m: None)
    assert ("up",) in recorded
    assert record["fingerprint"]["target"] == "the new LocalStack"  # not the one stopped
    assert record["snapshot"]["loaded"] is False
    assert offline_deploy == [record["snapshot"]["key"]]  # saved anew after its apply


def test_a_load_is_the_deploy_its_outputs_from_the_saved_terraform_state(
    settings, tmp_path, offline_deploy, monkeypatch
):
    """No Terraform runs after a load: the outputs are those of the state saved with it
    (as `terraform output -json` would read them), and nothing is saved again."""
    monkeypatch.setattr(deploy, "_resources_held", lambda s: "")
    monkeypatch.setattr(deploy.snapshots, "find", lambda s, name: tmp_path / "saved")
    state = {"outputs": {"labeler_function": {"value": "loaded-f", "type": "string"}}}

    def load(settings, folder, work):
        (work / snapshots.TFSTATE).write_text(json.dumps(state))
        return 1.5

    def no_apply(*args):
        raise AssertionError("Terraform ran after a load")

    monkeypatch.setattr(deploy.snapshots, "load", load)
    monkeypatch.setattr(deploy, "apply_root", no_apply)
    said: list[str] = []
    record = deploy.deploy(settings, fresh_stack=True, progress=said.append)
    assert record["outputs"] == {"labeler_function": "loaded-f"}
    assert record["snapshot"]["loaded"] is True and record["applied"] is True
    assert offline_deploy == []  # not saved again
    assert any("loaded the saved deployment in 1.5 s" in line for line in said), said
    assert deploy.deployed(settings)["outputs"] == record["outputs"]
