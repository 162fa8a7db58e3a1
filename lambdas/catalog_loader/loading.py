"""Drain the work queue into the catalog, on the schedule's clock.

Why it is safe:
- The database is connected to *before* any message is received: when it is
  down, the run fails at once and every message stays queued untouched (its
  receive count does not grow, so an outage never pushes work into the DLQ).
- A batch is deleted from the queue only after its rows are committed. If the
  database fails mid-run, the batch in hand is made visible again at once and
  the run fails; committed batches are already deleted. Redelivery is harmless:
  the upsert is idempotent.
- A malformed message is not deleted: after the queue's maxReceiveCount, SQS
  moves it to the DLQ (alarmed), and the log says why it was refused.
- So is a message whose rows the database refuses (a value out of range for its
  column, too long, ...): a refused value fails the batch's transaction, so the
  batch is loaded again one message per transaction; the good messages load and
  are deleted, the refused one stays for the DLQ with the database's reason.
  Connection errors are not the message's fault and keep the rule above.
- The run stops before the invocation's timeout and after `max_messages`, so it
  never overlaps the next tick by much.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import catalog_db
from aws_lambda_powertools import Logger
from catalog_rows import MalformedMessage, Row, check_cdn_host, rows_from_message

logger = Logger(service="catalog-loader", child=True)


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name) or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Config:
    """Settings from the environment (docs/architecture.md, catalog loader)."""

    queue_url: str
    secret_id: str
    cdn_host: str
    max_messages: int = 5000
    receive_wait_seconds: int = 1
    safety_margin_ms: int = 5000
    connect_timeout_seconds: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        missing = [n for n in ("QUEUE_URL", "DB_SECRET_ID", "CDN_HOST") if not env.get(n)]
        if missing:
            raise ValueError(f"missing environment variable(s): {', '.join(missing)}")
        return cls(
            queue_url=env["QUEUE_URL"],
            secret_id=env["DB_SECRET_ID"],
            cdn_host=check_cdn_host(env["CDN_HOST"]),
            max_messages=_int(env, "MAX_MESSAGES", cls.max_messages, 1, 1_000_000),
            receive_wait_seconds=_int(env, "RECEIVE_WAIT_SECONDS", cls.receive_wait_seconds, 0, 20),
            safety_margin_ms=_int(env, "SAFETY_MARGIN_MS", cls.safety_margin_ms, 0, 600_000),
            connect_timeout_seconds=_int(
                env, "DB_CONNECT_TIMEOUT_SECONDS", cls.connect_timeout_seconds, 1, 60
            ),
        )


@dataclass
class Report:
    received: int = 0
    loaded_messages: int = 0
    rows: int = 0
    # Messages left for the DLQ: malformed, or rows the database refused.
    malformed: list[dict[str, str]] = field(default_factory=list)
    stopped_because: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _release(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make messages visible again now, so the next run retries them without waiting."""
    if not messages:
        return
    try:
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages)
            ],
        )
    except Exception:
        logger.exception("Could not release the batch; it reappears after the visibility timeout")


def _delete(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    response = sqs.delete_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ],
    )
    for failed in response.get("Failed", []):
        # The rows are committed: a redelivery only repeats an idempotent upsert.
        logger.warning(
            "A loaded message could not be deleted; it will be loaded again", extra=failed
        )


def _leave_for_dlq(report: Report, message: dict[str, Any], reason: str, what: str) -> None:
    """Log why a message is not loaded and list it; it is not deleted, so SQS moves it
    to the DLQ after maxReceiveCount."""
    receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
    logger.error(
        what,
        extra={"message_id": message["MessageId"], "reason": reason, "receive_count": receives},
    )
    report.malformed.append({"message_id": message["MessageId"], "reason": reason})


Parsed = list[tuple[dict[str, Any], list[Row]]]


def _upsert_one_by_one(
    sqs: Any, connection: Any, config: Config, parsed: Parsed, report: Report
) -> Parsed:
    """Each message in its own transaction; those whose values are refused are left.

    Returns the messages committed. A connection error here deletes what was
    committed, releases what was not tried and raises, like a failed batch.
    """
    committed: Parsed = []
    for index, (message, rows) in enumerate(parsed):
        try:
            catalog_db.upsert(connection, rows)
        except catalog_db.DataRefused as exc:
            _leave_for_dlq(
                report,
                message,
                str(exc),
                "Message refused by the database left for the DLQ",
            )
            continue
        except catalog_db.DatabaseUnavailable:
            if committed:
                try:  # committed: a redelivery would only repeat an idempotent upsert
                    _delete(sqs, config.queue_url, [m for m, _ in committed])
                except Exception:
                    logger.exception("Could not delete the messages loaded before the failure")
            _release(sqs, config.queue_url, [m for m, _ in parsed[index:]])
            raise
        committed.append((message, rows))
    return committed


def _load_batch(sqs: Any, connection: Any, config: Config, parsed: Parsed, report: Report) -> None:
    """Upsert the rows of the well-formed messages, then delete those messages."""
    if not parsed:
        return
    committed = parsed
    try:
        catalog_db.upsert(connection, [row for _, rows in parsed for row in rows])
    except catalog_db.DatabaseUnavailable:
        _release(sqs, config.queue_url, [m for m, _ in parsed])
        raise
    except catalog_db.DataRefused as exc:
        logger.warning(
            "The database refused a row of the batch; loading its messages one by one",
            extra={"reason": str(exc), "messages": len(parsed)},
        )
        committed = _upsert_one_by_one(sqs, connection, config, parsed, report)
    if committed:
        _delete(sqs, config.queue_url, [m for m, _ in committed])
    report.loaded_messages += len(committed)
    report.rows += sum(len(rows) for _, rows in committed)


def run(
    *,
    sqs: Any,
    connect: Callable[[], Any],
    config: Config,
    time_left_ms: Callable[[], int],
) -> Report:
    """Load queued messages until the queue is empty, time runs short or the cap is hit."""
    report = Report()
    connection = connect()  # DatabaseUnavailable here: nothing was received
    try:
        while True:
            if report.received >= config.max_messages:
                report.stopped_because = "max_messages"
                break
            if time_left_ms() < config.safety_margin_ms:
                report.stopped_because = "time"
                break
            response = sqs.receive_message(
                QueueUrl=config.queue_url,
                MaxNumberOfMessages=min(10, config.max_messages - report.received),
                WaitTimeSeconds=config.receive_wait_seconds,
                AttributeNames=["ApproximateReceiveCount"],
            )
            messages = response.get("Messages", [])
            if not messages:
                report.stopped_because = "queue empty"
                break
            report.received += len(messages)
            parsed: Parsed = []
            for message in messages:
                try:
                    parsed.append((message, rows_from_message(message["Body"], config.cdn_host)))
                except MalformedMessage as exc:
                    _leave_for_dlq(report, message, str(exc), "Malformed message left for the DLQ")
            _load_batch(sqs, connection, config, parsed, report)
    finally:
        # Closing a dead connection is not a failure of the run.
        with contextlib.suppress(Exception):
            connection.close()
    logger.info("Loaded", extra=report.as_dict())
    return report
