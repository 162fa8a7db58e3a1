"""One provider process for many offline Terraform runs (`terraform.shared_provider`):
the reattach value it yields, what it does when the provider says nothing, and that the
provider is stopped at the end. A fake provider (a real process) stands in for the AWS
one, which `tests/infra/test_terraform.py` uses for real."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from harness import config
from harness.build import terraform
from harness.util.errors import HarnessError
from harness.util.processes import is_alive

REATTACH = {
    terraform.AWS_PROVIDER: {
        "Protocol": "grpc",
        "ProtocolVersion": 5,
        "Pid": 1,
        "Test": True,
        "Addr": {"Network": "unix", "String": "/tmp/plugin1"},
    }
}
FAKE_PROVIDER = """#!{python}
import json, os, sys, time
from pathlib import Path
assert sys.argv[1:] == ["-debug"], sys.argv
Path({pid_file!r}).write_text(str(os.getpid()))
Path({pid_file!r}).with_suffix(".env").write_text(
    json.dumps({{k: os.environ.get(k) for k in ("GOGC", "GOMEMLIMIT")}})
)
print("Provider started. To attach Terraform CLI, set:", flush=True)
print({line!r}, flush=True)
for _ in range(2000):  # chatter after the value: drained, never blocking the provider
    print("a log line of the provider", flush=True)
time.sleep(60)
"""


def fake_provider(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "terraform-provider-aws_v5.100.0_x5"
    pid_file = tmp_path / "provider.pid"
    path.write_text(FAKE_PROVIDER.format(python=sys.executable, pid_file=str(pid_file), line=line))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_reattach_value_is_yielded_and_the_provider_stopped_after(tmp_path):
    value = json.dumps(REATTACH)
    binary = fake_provider(tmp_path, f"\tTF_REATTACH_PROVIDERS='{value}'")
    with terraform.shared_provider(binary) as reattach:
        pid = int((tmp_path / "provider.pid").read_text())
        assert json.loads(reattach) == REATTACH
        assert is_alive(pid)
    assert not is_alive(pid)
    # Go's collector as for the providers Terraform starts itself.
    assert json.loads((tmp_path / "provider.env").read_text()) == terraform.GO_RUNTIME


def test_go_runtime_defaults_reach_terraform_and_the_environment_wins(monkeypatch, tmp_path):
    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    settings = config.load()
    env = terraform.environment(settings, tmp_path, endpoint=None)
    assert (env["GOGC"], env["GOMEMLIMIT"]) == ("400", "1GiB")
    monkeypatch.setenv("GOGC", "100")
    env = terraform.environment(settings, tmp_path, endpoint=None)
    assert (env["GOGC"], env["GOMEMLIMIT"]) == ("100", "1GiB")


def test_a_provider_that_prints_no_value_is_an_error_and_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(terraform, "REATTACH_WAIT_SECONDS", 2.0)
    binary = fake_provider(tmp_path, "no value here")
    with (
        pytest.raises(HarnessError, match="printed no reattach value"),
        terraform.shared_provider(binary),
    ):
        pytest.fail("no value: nothing to yield")
    assert not is_alive(int((tmp_path / "provider.pid").read_text()))


def test_a_value_for_another_provider_is_an_error(tmp_path):
    other = json.dumps({"registry.terraform.io/hashicorp/random": REATTACH[terraform.AWS_PROVIDER]})
    binary = fake_provider(tmp_path, f"TF_REATTACH_PROVIDERS='{other}'")
    with pytest.raises(HarnessError, match="does not name"), terraform.shared_provider(binary):
        pytest.fail("not the AWS provider: nothing to yield")


def test_installed_provider_is_the_one_binary_init_installed(tmp_path):
    assert terraform.installed_provider(tmp_path) is None  # not initialised
    folder = tmp_path / "providers" / terraform.AWS_PROVIDER / "5.100.0" / "linux_amd64"
    folder.mkdir(parents=True)
    binary = folder / "terraform-provider-aws_v5.100.0_x5"
    binary.write_text("")
    assert terraform.installed_provider(tmp_path) == binary.resolve()
    second = tmp_path / "providers" / terraform.AWS_PROVIDER / "5.99.0" / "linux_amd64"
    second.mkdir(parents=True)
    (second / "terraform-provider-aws_v5.99.0_x5").write_text("")
    assert terraform.installed_provider(tmp_path) is None  # which one would Terraform use?
