"""Plans of every environment, made once per session against the local stack.

See harness/offline_plan.py: a real `terraform show -json` of `infra/envs/<env>` on
an empty state, so every resource and policy is in it, known at plan time. The
webhook URL is a sentinel the secret checks look for everywhere.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from security_plans import ENVS, plan_variables

from harness.build import terraform
from harness.config import Settings
from harness.promote import offline_plan
from harness.promote.plan_audit import Plan


@pytest.fixture(scope="session")
def plans(harness_stack, harness_settings: Settings, tmp_path_factory) -> dict[str, Plan]:
    """{env: Plan} for every folder of infra/envs (planned in parallel)."""
    work = tmp_path_factory.mktemp("plans")
    staged = terraform.stage_infra(harness_settings.project_dir, work / "infra")

    def make(env: str) -> Plan:
        variables = plan_variables(harness_settings, env)
        return offline_plan.plan(harness_settings, env, work / env, variables, staged)

    with ThreadPoolExecutor(max_workers=len(ENVS)) as pool:
        return dict(zip(ENVS, pool.map(make, ENVS), strict=True))
