"""Saved deployments: a freshly started LocalStack loads what the same deploy made before.

From nothing running to the pipeline ready took 79-94 s, most of it the AWS provider's
fixed waits in `terraform apply` (docs/performance.md, "Cold start"), paid again by
every stack a test or a restart brings up. LocalStack 4.13.1 community has no
persistence of its own, so the embedded LocalStack carries a plugin that saves its
services' state to a folder and loads it back (harness/localstack_plugin/harness_state).

- **Saved:** right after an apply onto a LocalStack that `ready()` (`harness up`, the
  test session's stack) had just started, that nothing had used and that held no
  function, queue or bucket; before the pipeline's own traffic (only the deploy's: S3's
  test events, the mappings' polls). With the Terraform state beside it, under
  `<cache>/deployments/<key>/` (private: the stack's secrets are in it). The KEEP most
  recently saved or loaded are kept.
- **Loaded:** into such a LocalStack, when a saved deployment has the same key, with
  its Terraform state, whose outputs are the deploy's: no Terraform runs. Terraform's
  apply onto every load used to read every resource again (11 s and 13 CPU-s a stack
  here, "0 added, 0 changed, 0 destroyed" every time); what it checked is checked by
  the load itself (the manifest's LocalStack version and containers; every function
  version Active again, else the load fails) and, once per suite, by
  tests/e2e/test_saved_deployment.py (every resource read before and after, and
  `terraform plan` finding nothing to change). A load that fails is deleted, and
  LocalStack restarted for an apply from scratch.
- **The key:** what the deployed state follows from: the env, infra/ (with the
  provider lock file) and every Terraform variable (the zips' hashes; their paths
  relative to the staged root, the same in every clone whose state dir is inside it),
  LocalStack's venv (version, pins, plugin set), the plugins' sources and LocalStack's
  settings, the endpoint (queue URLs carry the port) and the resolved backend. Not in
  it: the Terraform binary's version (a later Terraform reads the state an earlier one
  wrote).

`HARNESS_DEPLOY_SNAPSHOTS=0` turns it off (every fresh stack applies from scratch);
side-by-side stacks (harness/testing/side_by_side.py) run with it off, as their free
ports make a key that never comes back. Only the embedded backend has the plugin;
`harness matrix` always applies from scratch, as it must on the other emulators.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from harness.config import Settings
from harness.runtime import backends, localstack
from harness.util import http
from harness.util.errors import HarnessError
from harness.util.files import private_subdir
from harness.util.processes import ProcessRecords
from harness.util.venvs import source_digest

ENABLED_ENV = "HARNESS_DEPLOY_SNAPSHOTS"
SAVE_PATH, LOAD_PATH = "/_harness/state/save", "/_harness/state/load"
TFSTATE = "terraform.tfstate"
KEEP = 12  # up to five stack workers, `harness up`, tests of their own, another clone
# A scratch folder older than this is what a killed save left behind.
STALE_SCRATCH_S = 3600
# A load or save of the deployed pipeline takes a few seconds; a stuck one must not hang up.
REQUEST_TIMEOUT_S = 120


def enabled(settings: Settings) -> bool:
    if os.environ.get(ENABLED_ENV, "1").strip().lower() in {"0", "false", "no", "off"}:
        return False
    return backends.resolve(settings).backend == "embedded"


def key(settings: Settings, env: str, infra_hash: str, tfvars: dict) -> str:
    lock = settings.project_dir / "infra" / "envs" / env / ".terraform.lock.hcl"
    parts = {
        "env": env,
        "infra": infra_hash,
        "provider_lock": lock.read_text() if lock.is_file() else None,
        "tfvars": tfvars,
        "localstack": localstack.venv_dir(settings).name,
        # The plugins the running LocalStack started with (the venv is shared by clones,
        # which may install others into it since), from its process record: the one
        # place that knows, whether this process or an earlier `harness up` started it.
        # And the start-up code it imports from the source tree.
        "plugins": (ProcessRecords(settings.state_dir).get(localstack.RECORD) or {}).get("plugins"),
        "startup": source_digest(localstack.STARTUP_DIR),
        "localstack_settings": localstack.tuning_environment(settings),
        "endpoint": settings.endpoint,
        "backend": backends.resolve(settings).backend,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def _root(settings: Settings) -> Path:
    return private_subdir(settings.cache_dir, "deployments")


def find(settings: Settings, name: str) -> Path | None:
    folder = _root(settings) / name
    return folder if (folder / TFSTATE).is_file() else None


def _post(settings: Settings, path: str, folder: Path) -> dict:
    try:
        answer = http.call_json(
            settings.endpoint + path, "POST", {"folder": str(folder)}, REQUEST_TIMEOUT_S
        )
    except http.HttpStatusError as error:
        reason = error.json_field("error", error.body[:200])
        raise HarnessError(f"LocalStack refused {path}: {reason}") from error
    except (OSError, ValueError) as error:
        raise HarnessError(f"LocalStack did not answer {path}: {error}") from error
    if not isinstance(answer, dict):  # the plugin always answers an object
        raise HarnessError(f"LocalStack did not answer {path}: {answer!r}")
    return answer


def load(settings: Settings, folder: Path, work: Path) -> float:
    """Load the saved deployment into the LocalStack that was just started and put its
    Terraform state in `work`; returns the seconds it took."""
    started = time.monotonic()
    try:
        os.utime(folder)  # in use: the newest for any prune meanwhile
        _post(settings, LOAD_PATH, folder)
        shutil.copyfile(folder / TFSTATE, work / TFSTATE)
    except OSError as error:  # deleted meanwhile by another stack's prune
        raise HarnessError(f"the saved deployment {folder.name} went away: {error}") from error
    return time.monotonic() - started


def save(settings: Settings, name: str, work: Path) -> Path:
    """Save the running LocalStack's state and `work`'s Terraform state as `name`."""
    try:
        root = _root(settings)
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
        try:
            _post(settings, SAVE_PATH, scratch)
            shutil.copyfile(work / TFSTATE, scratch / TFSTATE)
            with contextlib.suppress(OSError):  # saved meanwhile by another stack, same key
                scratch.rename(root / name)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        _prune(root)
    except OSError as error:  # a full disk, say: the deploy itself stands
        raise HarnessError(f"could not save the deployment: {error}") from error
    return root / name


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def _prune(root: Path) -> None:
    """Keep the KEEP most recently saved or loaded; drop scratch folders of killed saves."""
    folders = {}
    for folder in root.iterdir():
        with contextlib.suppress(OSError):  # gone meanwhile: another stack pruned it
            if folder.is_dir():
                folders[folder] = folder.stat().st_mtime
    saved = sorted((p for p in folders if not p.name.startswith(".")), key=folders.__getitem__)
    too_old = time.time() - STALE_SCRATCH_S
    stale = [p for p in folders if p.name.startswith(".") and folders[p] < too_old]
    for old in saved[:-KEEP] + stale:
        shutil.rmtree(old, ignore_errors=True)
