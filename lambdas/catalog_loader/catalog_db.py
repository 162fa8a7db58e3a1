"""The catalog table through PyMySQL: credentials, connection, idempotent upsert.

The unique key (vertical, cd_idx, image_size, sequence) makes duplicate rows
impossible, so a redelivered or replayed message updates its rows instead of
adding new ones. When two messages describe the same image (a re-upload), the
newer `resized_at` wins whatever order they arrive in.

Two kinds of failure, told apart because they need opposite handling:
- DatabaseUnavailable: the server cannot be reached, the connection broke, access
  is denied, a lock timed out, the schema is wrong... Not the rows' fault: every
  message stays queued for the next run.
- DataRefused: the server refused the *values* (out of range for the column, too
  long, NULL where NOT NULL, a duplicate...). Retrying the same rows cannot help:
  the loader isolates the message that carries them and lets it go to the DLQ.
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
    "s3_bucket",
    "s3_key",
    "width",
    "height",
    "bytes",
    "source_etag",
    "resized_at",
)
UPDATED = ("url", "s3_bucket", "s3_key", "width", "height", "bytes", "source_etag")
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
# Errors about the values of a row (MySQL 8 and MariaDB codes). PyMySQL maps most of
# them to DataError or IntegrityError; the others arrive as OperationalError.
DATA_ERROR_CODES = frozenset(
    {
        1048,  # ER_BAD_NULL_ERROR: column cannot be null
        1062,  # ER_DUP_ENTRY
        1263,  # ER_WARN_NULL_TO_NOTNULL
        1264,  # ER_WARN_DATA_OUT_OF_RANGE: out of range value for column
        1265,  # ER_WARN_DATA_TRUNCATED
        1292,  # ER_TRUNCATED_WRONG_VALUE: incorrect datetime value
        1364,  # ER_NO_DEFAULT: field has no default value
        1366,  # ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: incorrect string/integer value
        1367,  # ER_ILLEGAL_VALUE_FOR_TYPE
        1406,  # ER_DATA_TOO_LONG
        1441,  # ER_DATETIME_FUNCTION_OVERFLOW
        1452,  # ER_NO_REFERENCED_ROW_2: foreign key
        1690,  # ER_DATA_OUT_OF_RANGE: BIGINT value is out of range
        3819,  # ER_CHECK_CONSTRAINT_VIOLATED (MySQL 8)
        4025,  # ER_CONSTRAINT_FAILED (MariaDB CHECK constraint)
    }
)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or failed the work; messages stay queued."""


class DataRefused(Exception):
    """The database refused the rows' values; retrying the same rows cannot help."""


def is_data_error(exc: BaseException) -> bool:
    """True for errors caused by the values written, not by the server or connection."""
    if isinstance(exc, pymysql.err.DataError | pymysql.err.IntegrityError):
        return True
    return (
        isinstance(exc, pymysql.err.DatabaseError)
        and bool(exc.args)
        and exc.args[0] in DATA_ERROR_CODES
    )


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


def upsert(connection: Any, rows: list[Row]) -> None:
    """Write all rows in one transaction: all of them or, on failure, none.

    Raises DataRefused when the server refused a value, else DatabaseUnavailable.
    """
    values = [tuple(getattr(row, column) for column in COLUMNS) for row in rows]
    try:
        with connection.cursor() as cursor:
            cursor.executemany(UPSERT, values)
        connection.commit()
    except pymysql.MySQLError as exc:
        # A lost connection cannot roll back; the server rolls the transaction back then.
        with contextlib.suppress(pymysql.MySQLError):
            connection.rollback()
        if is_data_error(exc):
            raise DataRefused(f"the database refused the rows: {exc}") from exc
        raise DatabaseUnavailable(f"writing {len(rows)} row(s) failed: {exc}") from exc
