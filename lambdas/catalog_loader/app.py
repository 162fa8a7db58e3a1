"""Lambda entry point of the catalog loader (handler string `app.handler`).

Invoked by EventBridge Scheduler every minute from 07:00 to 20:59 Asia/Seoul (and
locally by `harness clock tick`, with the same payload). The payload only
identifies the run (schedule ARN, scheduled time, execution id) for the logs; the
work is in loading.py, the table in catalog_db.py, the message shape in
catalog_rows.py. requirements.txt bundles PyMySQL and Powertools.

Database credentials come from Secrets Manager (`DB_SECRET_ID`), read on the first
run and read again whenever a connect fails: a warm process would otherwise keep a
rotated password or a moved host (a failover, a restored snapshot) until Lambda
recycles it. Only a changed secret is tried a second time, so an outage costs one
connect timeout per run, not two. If the secret cannot be read again, the run still
fails with the database's error: that is what the operator must see.
"""

from __future__ import annotations

from typing import Any

import boto3
import catalog_db
import loading
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

logger = Logger(service="catalog-loader")

SCHEDULER_KEYS = ("schedule_arn", "scheduled_time", "execution_id", "attempt_number")
_clients: dict[str, Any] = {}
_credentials: dict[str, catalog_db.Credentials] = {}
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=25
)


def client(name: str) -> Any:
    if name not in _clients:
        _clients[name] = boto3.client(name, config=_CLIENT_CONFIG)
    return _clients[name]


def credentials(secret_id: str, refresh: bool = False) -> catalog_db.Credentials:
    if refresh or secret_id not in _credentials:
        secret = client("secretsmanager").get_secret_value(SecretId=secret_id)
        _credentials[secret_id] = catalog_db.Credentials.from_secret(secret["SecretString"])
    return _credentials[secret_id]


def open_database(config: loading.Config) -> Any:
    known = credentials(config.secret_id)
    try:
        return catalog_db.connect(known, config.connect_timeout_seconds)
    except catalog_db.DatabaseUnavailable as unavailable:
        try:
            fresh = credentials(config.secret_id, refresh=True)
        except Exception:
            # The run still fails for the database, the error the operator must see.
            logger.warning("The database secret could not be read again", exc_info=True)
            raise unavailable from unavailable.__cause__  # the driver's error
        if fresh == known:
            raise
        logger.info("The database secret changed: connecting as %s", fresh.where())
        return catalog_db.connect(fresh, config.connect_timeout_seconds)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns the run's report: received, loaded_messages, rows, malformed, stopped_because."""
    config = loading.Config.from_env()
    if isinstance(event, dict):
        logger.append_keys(**{k: event[k] for k in SCHEDULER_KEYS if k in event})
    try:
        report = loading.run(
            sqs=client("sqs"),
            connect=lambda: open_database(config),
            config=config,
            time_left_ms=context.get_remaining_time_in_millis,
        )
    except catalog_db.DatabaseUnavailable:
        logger.exception("Database unavailable: every message not loaded stays queued")
        raise
    return report.as_dict()
