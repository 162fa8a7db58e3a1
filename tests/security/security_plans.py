"""Names shared by the security tests (a module of its own: `conftest` is ambiguous)."""

from __future__ import annotations

from pathlib import Path

from harness.config import Settings
from harness.promote import offline_plan

PROJECT = Path(__file__).resolve().parents[2]
ENVS = sorted(p.name for p in (PROJECT / "infra" / "envs").iterdir() if any(p.glob("*.tf")))
WEBHOOK_SENTINEL = "https://hooks.slack.com/services/TPLAN0000/BPLAN0000/plan-secret-sentinel"


def plan_variables(settings: Settings, env: str) -> dict:
    return {
        "region": settings.region,
        "name_prefix": f"{settings.name_prefix}-plan",
        "slack_webhook_url": WEBHOOK_SENTINEL,
        # Required by envs/aws (system B); a variable an env does not declare is ignored.
        "catalog_cdn_host": "images.example.com",
        **offline_plan.placeholder_packages(),
    }
