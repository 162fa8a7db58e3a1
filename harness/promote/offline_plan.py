"""Real plans of `infra/envs/*` made offline, against the local stack, for review.

`terraform test` with a mocked provider proves values but gives no plan document. A
plan of an environment against LocalStack (through `tflocal`, on an empty state: every
resource "to create") does, with the same derived ARNs and policies AWS would get,
only with LocalStack's account. `envs/aws` is planned the same way, with its S3
backend overridden by a local one in the staged copy: the plan is never applied.

Everything runs on a staged copy of infra/ in a work folder of the caller's, so the
source tree is never written to.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.build import functions, terraform
from harness.config import Settings
from harness.promote.plan_audit import Plan
from harness.util.errors import HarnessError

# Placeholder code hash for plans (base64 of SHA-256 of nothing): plans never read zips.
PLACEHOLDER_SHA256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def placeholder_packages() -> dict[str, str]:
    """Zip variables of every function for a plan, placeholders all: a plan never reads
    the zips, and the recorded state in tests/infra/data names these paths
    (`build/lambdas/<name>.zip`; harness.build.functions names the variables)."""
    variables: dict[str, str] = {}
    for function in functions.FUNCTIONS:
        variables[function.zip_path_variable] = f"build/lambdas/{function.name}.zip"
        variables[function.zip_sha256_variable] = PLACEHOLDER_SHA256
    return variables


def plan(
    settings: Settings, env: str, work: Path, variables: dict, staged: Path | None = None
) -> Plan:
    """Plan `infra/envs/<env>` against the local stack on an empty state; returns it.

    `staged` is a copy made by terraform.stage_infra (one copy can serve several envs);
    without it, infra/ is staged into `work`.
    """
    root = staged or terraform.stage_infra(settings.project_dir, work / "infra")
    env_dir = root / "envs" / env
    if not env_dir.is_dir():
        raise HarnessError(f"infra/envs/{env} does not exist")
    terraform.use_local_backend(env_dir)
    work.mkdir(parents=True, exist_ok=True)
    var_file = work / f"{env}.tfvars.json"
    var_file.write_text(json.dumps(variables, indent=2))
    plan_file = work / f"{env}.tfplan"
    tf_env = terraform.environment(settings, work / f"data-{env}", settings.endpoint)
    terraform.run(["init", "-input=false", "-no-color"], env_dir, tf_env, capture=True)
    terraform.run(
        [
            "plan",
            "-input=false",
            "-no-color",
            "-refresh=false",
            f"-var-file={var_file}",
            f"-state={work / f'{env}.tfstate'}",
            f"-out={plan_file}",
        ],
        env_dir,
        tf_env,
        capture=True,
    )
    document = terraform.run(
        ["show", "-json", str(plan_file)], env_dir, tf_env, local=False, capture=True
    )
    return Plan(json.loads(document))
