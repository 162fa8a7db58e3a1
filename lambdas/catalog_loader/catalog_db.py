"""The catalog table through PyMySQL: credentials, connection, idempotent upsert.

The unique key (vertical, cd_idx, image_size, sequence) makes duplicate rows
impossible, so a redelivered or replayed message updates its rows instead of
adding new ones. When two messages describe the same image (a re-upload), the
newer `resized_at` wins whatever order they arrive in.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

import pymysql
from catalog_rows import Row

SCHEMA = "celeb"
TABLE = "celeb_image_url"
COLUMNS = (
    "vertical",
    "cd_idx",
    "image_size",
    "sequence",
    "url",
    "width",
    "height",
    "bytes",
    "source_etag",
    "resized_at",
)
UPDATED = ("url", "width", "height", "bytes", "source_etag")
# Assignments run left to right: resized_at must be updated last, after the
# columns that compare against its old value.
UPSERT = (
    f"INSERT INTO `{SCHEMA}`.`{TABLE}` ({', '.join(f'`{c}`' for c in COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(COLUMNS))}) ON DUPLICATE KEY UPDATE "
    + ", ".join(
        f"`{c}` = IF(VALUES(`resized_at`) >= `resized_at`, VALUES(`{c}`), `{c}`)" for c in UPDATED
    )
    + ", `resized_at` = GREATEST(`resized_at`, VALUES(`resized_at`))"
)
ACCESS_DENIED = 1045


class DatabaseUnavailable(Exception):
    """The database cannot be reached or refused the work; messages stay queued."""


@dataclass(frozen=True)
class Credentials:
    host: str
    port: int
    username: str
    password: str = ""

    @classmethod
    def from_secret(cls, secret_string: str) -> Credentials:
        """The RDS secret shape: {"host", "port", "username", "password", ...}."""
        try:
            document = json.loads(secret_string)
        except ValueError as exc:
            raise ValueError("the database secret is not JSON") from exc
        missing = [k for k in ("host", "port", "username") if not document.get(k)]
        if missing:
            raise ValueError(f"the database secret lacks {', '.join(missing)}")
        return cls(
            host=str(document["host"]),
            port=int(document["port"]),
            username=str(document["username"]),
            password=str(document.get("password") or ""),
        )

    def where(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"


def connect(credentials: Credentials, timeout: float = 3.0) -> Any:
    """A connection with autocommit off; any failure is DatabaseUnavailable."""
    try:
        return pymysql.connect(
            host=credentials.host,
            port=credentials.port,
            user=credentials.username,
            password=credentials.password,
            charset="utf8mb4",
            connect_timeout=timeout,
            read_timeout=max(timeout, 10),
            write_timeout=max(timeout, 10),
            autocommit=False,
        )
    except pymysql.MySQLError as exc:
        raise DatabaseUnavailable(f"cannot connect to {credentials.where()}: {exc}") from exc


def is_access_denied(exc: BaseException) -> bool:
    cause = exc.__cause__
    return (
        isinstance(cause, pymysql.MySQLError)
        and bool(cause.args)
        and cause.args[0] == ACCESS_DENIED
    )


def upsert(connection: Any, rows: list[Row]) -> None:
    """Write all rows in one transaction: all of them or, on failure, none."""
    values = [tuple(getattr(row, column) for column in COLUMNS) for row in rows]
    try:
        with connection.cursor() as cursor:
            cursor.executemany(UPSERT, values)
        connection.commit()
    except pymysql.MySQLError as exc:
        # A lost connection cannot roll back; the server rolls the transaction back then.
        with contextlib.suppress(pymysql.MySQLError):
            connection.rollback()
        raise DatabaseUnavailable(f"writing {len(rows)} row(s) failed: {exc}") from exc
