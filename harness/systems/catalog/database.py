"""System B's database: where it is, how to reach it, and its schema migrations.

By default the harness runs a MariaDB of its own (harness/mariadb.py) on
127.0.0.1:`HARNESS_DB_PORT` (4582); on `HARNESS_BACKEND=docker` it is a container of the
stack instead (runtime/backends/docker.py), published on that port. `HARNESS_DATABASE_URL=mysql://user:pass@host:port`
uses a server you run instead; that user then applies the migrations and is also
the loader's account (the harness creates no accounts on a server it does not own). On
the embedded backend the functions reach that server through the harness's database
gate on 127.0.0.1:`HARNESS_DB_PORT` (runtime/database_gate.py), so that an outage can
be made without stopping a server the harness does not own.
`HARNESS_DATABASE_PASSWORD_FILE` names a file holding that user's password (a Docker
secret, as docker-compose.yml uses), so the URL need not carry it.

Migrations are the `*.sql` files of harness/migrations, applied in name order into
the `celeb` schema and recorded in `celeb.schema_migrations` with their SHA-256:
an applied file that was edited afterwards is an error (add a new file instead).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pymysql

from harness.config import Settings, env_int
from harness.runtime import backends, database_gate, mariadb
from harness.runtime.backends import docker
from harness.util.errors import HarnessError
from harness.util.processes import ProcessRecords

SCHEMA = mariadb.SCHEMA
TABLE = "celeb_image_url"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_PORT = 4582
URL_SCHEMES = ("mysql", "mariadb", "mysql+pymysql")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    username: str
    password: str

    def connect(self, schema: str | None = None, timeout: float = 5.0):
        try:
            return pymysql.connect(
                host=self.host,
                port=self.port,
                user=self.username,
                password=self.password,
                database=schema,
                charset="utf8mb4",
                connect_timeout=timeout,
                autocommit=True,
                cursorclass=pymysql.cursors.DictCursor,
            )
        except pymysql.MySQLError as exc:
            raise HarnessError(f"cannot connect to MySQL at {self.where()}: {exc}") from exc

    def where(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"

    def secret(self) -> dict:
        """The value of the loader's Secrets Manager secret (the RDS secret shape)."""
        return {
            "engine": "mysql",
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "dbname": SCHEMA,
        }


class Served(StrEnum):
    """Which server the loader reaches, and so what an outage may stop and start."""

    MANAGED = "harness MariaDB"  # the harness's own: stopped and started
    DOCKER = "docker stack's container"  # the docker backend's: stopped and started
    # A HARNESS_DATABASE_URL server the functions reach through the database gate: the
    # gate is stopped and started, never that server.
    GATED = "database gate to HARNESS_DATABASE_URL"
    URL = "HARNESS_DATABASE_URL"  # reached directly: nothing of it is ours to stop


@dataclass(frozen=True)
class Database:
    admin: Endpoint
    loader: Endpoint
    kind: Served
    # The loader's account as the functions reach it, when they do not reach it as the
    # harness does (a container on the docker stack's network, or the gate).
    functions_see: Endpoint | None = None

    @property
    def stoppable(self) -> bool:
        """Whether an outage really stops what the loader connects to (else the secret
        points elsewhere)."""
        return self.kind is not Served.URL

    @property
    def loader_secret(self) -> dict:
        """The value of the loader's Secrets Manager secret."""
        return (self.functions_see or self.loader).secret()


def port() -> int:
    return env_int("HARNESS_DB_PORT", DEFAULT_PORT)


def parse_url(url: str) -> Endpoint:
    """`mysql://user:password@host:port` (password percent-encoded if needed)."""
    parts = urlsplit(url)
    if parts.scheme not in URL_SCHEMES or not parts.hostname or not parts.username:
        raise HarnessError(
            f"HARNESS_DATABASE_URL={url.split('@')[-1]!r} is not mysql://user:password@host:port"
        )
    return Endpoint(
        host=parts.hostname,
        port=parts.port or 3306,
        username=unquote(parts.username),
        password=unquote(parts.password or ""),
    )


def external_endpoint(url: str, password_file: str | None = None) -> Endpoint:
    """The server of `HARNESS_DATABASE_URL`; the password from `password_file` if given
    (its text without the trailing newline), else from the URL."""
    endpoint = parse_url(url)
    if not password_file:
        return endpoint
    try:
        password = Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise HarnessError(
            f"HARNESS_DATABASE_PASSWORD_FILE={password_file}: cannot read it ({exc.strerror})"
        ) from exc
    return dataclasses.replace(endpoint, password=password)


def ensure(settings: Settings, progress: Callable[[str], None] = print) -> Database:
    """The database, started and migrated: what tests, the CLI and the demo call."""
    url = os.environ.get("HARNESS_DATABASE_URL")
    if url:
        endpoint = external_endpoint(url, os.environ.get("HARNESS_DATABASE_PASSWORD_FILE"))
        endpoint.connect(timeout=5).close()
        database = Database(admin=endpoint, loader=endpoint, kind=Served.URL)
        if backends.resolve(settings).backend == "embedded":  # the functions run here
            gate = _gate_in_front_of(settings, endpoint)
            database = dataclasses.replace(database, functions_see=gate, kind=Served.GATED)
    elif settings.backend == "docker":
        _no_gate(settings, progress)
        db_port = port()
        password = docker.ensure_database(settings, db_port, progress)
        endpoint = Endpoint(settings.host, db_port, docker.DATABASE_USER, password)
        in_network = Endpoint(
            docker.DATABASE_ALIAS, docker.DATABASE_PORT, endpoint.username, password
        )
        database = Database(endpoint, endpoint, Served.DOCKER, functions_see=in_network)
    else:
        _no_gate(settings, progress)
        db_port = port()
        mariadb.start(settings, db_port, progress)
        creds = mariadb.credentials(settings)
        database = Database(
            admin=Endpoint("127.0.0.1", db_port, **creds["admin"]),
            loader=Endpoint("127.0.0.1", db_port, **creds["loader"]),
            kind=Served.MANAGED,
        )
    applied = migrate(database.admin)
    if applied:
        progress(f"applied migration(s): {', '.join(applied)}")
    return database


def _gate_in_front_of(settings: Settings, server: Endpoint) -> Endpoint:
    """The database gate started (or reused) on 127.0.0.1:`HARNESS_DB_PORT` in front of
    `server`; returns the account as the functions reach it through the gate."""
    gate_port = port()
    if server.host in LOOPBACK and server.port == gate_port:
        raise HarnessError(
            f"HARNESS_DATABASE_URL's server is on {server.host}:{gate_port}, where the "
            "database gate listens on the embedded backend; set HARNESS_DB_PORT to a free port"
        )
    own = ProcessRecords(settings.state_dir).get(mariadb.RECORD)
    if own is not None and own.get("port") == gate_port:
        raise HarnessError(
            f"the harness's own MariaDB (started without HARNESS_DATABASE_URL) runs on "
            f"127.0.0.1:{gate_port}, the database gate's port; `harness down` stops it, or "
            "set HARNESS_DB_PORT to a free port"
        )
    database_gate.start(settings, gate_port, server.host, server.port)
    return Endpoint("127.0.0.1", gate_port, server.username, server.password)


def _no_gate(settings: Settings, progress: Callable[[str], None]) -> None:
    """A gate left by a run with HARNESS_DATABASE_URL holds the port this database needs."""
    if database_gate.stop(settings):
        progress("stopped the database gate of a run with HARNESS_DATABASE_URL")


def _statements(sql: str) -> list[str]:
    """Split a migration on `;` at line ends; `--` comment lines are dropped."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.M) if s.strip()]


def migrate(endpoint: Endpoint, directory: Path = MIGRATIONS) -> list[str]:
    """Apply the migrations not applied yet; returns their names."""
    files = sorted(directory.glob("*.sql"))
    connection = endpoint.connect()
    applied_now: list[str] = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK('harness_migrations', 60) AS got")
            if not cursor.fetchone()["got"]:
                raise HarnessError("another process holds the migration lock for over 60 s")
            cursor.execute(
                f"CREATE DATABASE IF NOT EXISTS `{SCHEMA}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            cursor.execute(f"USE `{SCHEMA}`")
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version VARCHAR(200) NOT NULL PRIMARY KEY,"
                " checksum CHAR(64) NOT NULL,"
                " applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))"
            )
            cursor.execute("SELECT version, checksum FROM schema_migrations")
            done = {row["version"]: row["checksum"] for row in cursor.fetchall()}
            for path in files:
                checksum = hashlib.sha256(path.read_bytes()).hexdigest()
                if path.name in done:
                    if done[path.name] != checksum:
                        raise HarnessError(
                            f"migration {path.name} was changed after it was applied to "
                            f"{endpoint.where()}; add a new migration file instead"
                        )
                    continue
                for statement in _statements(path.read_text()):
                    cursor.execute(statement)
                cursor.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                    (path.name, checksum),
                )
                applied_now.append(path.name)
            cursor.execute("SELECT RELEASE_LOCK('harness_migrations')")
    except pymysql.MySQLError as exc:
        raise HarnessError(f"migrating {endpoint.where()} failed: {exc}") from exc
    finally:
        connection.close()
    return applied_now
