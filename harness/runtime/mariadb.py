"""A MariaDB server of the harness's own, for system B's catalog.

Installed from the OS packages when missing (Debian/Ubuntu, as root: `apt-get
install mariadb-server`; anyone else is told what to install), initialised in a
data folder under the state dir, started on 127.0.0.1 only, recorded by PID like
LocalStack and stopped by `harness down`. The data folder survives `down`, so a
restart is quick and keeps the catalog; `make clean` removes it.

Two accounts are created at initialisation, with random passwords kept in
`<state>/mariadb/credentials.json` (mode 600): `harness_admin` (migrations, tests)
and `catalog_loader` (SELECT, INSERT, UPDATE on `celeb` only: what the loader
Lambda needs, nothing more). A lost credentials file gets the accounts new passwords
at the next start; the data folder is never deleted to recover from it.

Any OS user can run it, root or not. As root the server is told `--user=root` (it
refuses root otherwise); anyone else runs it as themselves, owning the data folder.
The accounts are created over the Unix socket by the MariaDB account named after the
OS user running the harness (unix_socket authentication, no password): root for root,
as before, and e.g. `ci` for the OS user `ci`, who could not log in as MariaDB `root`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pymysql

from harness.config import Settings
from harness.util.errors import HarnessError
from harness.util.files import atomic_write_text, private_dir
from harness.util.net import require_free
from harness.util.packages import AptFailed, apt_install
from harness.util.processes import ProcessRecords, start_recorded

RECORD = "mariadb"
SERVERS = ("mariadbd", "mysqld")
INSTALLERS = ("mariadb-install-db", "mysql_install_db")
SEARCH_PATH = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/opt/homebrew/bin")
ADMIN_USER = "harness_admin"
LOADER_USER = "catalog_loader"
LOADER_GRANTS = "SELECT, INSERT, UPDATE"
SCHEMA = "celeb"
INSTALL_HINT = (
    "MariaDB is not installed. Install it (Debian/Ubuntu: `sudo apt-get install "
    "mariadb-server`; macOS: `brew install mariadb`) and run again, or point the harness "
    "at a MySQL-compatible server you run with HARNESS_DATABASE_URL=mysql://user:password@host:port"
)


def _find(names: tuple[str, ...]) -> str | None:
    search = os.pathsep.join([os.environ.get("PATH", ""), *SEARCH_PATH])
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return found
    return None


def binaries() -> tuple[str, str] | None:
    """(server, installer) when both are installed."""
    server, installer = _find(SERVERS), _find(INSTALLERS)
    return (server, installer) if server and installer else None


def ensure_installed(
    settings: Settings, progress: Callable[[str], None] = print
) -> tuple[str, str]:
    """The server and installer paths, installing Debian's mariadb-server if we may."""
    found = binaries()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise HarnessError(INSTALL_HINT)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.cache_dir / ".mariadb-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two harness processes never run apt at once
        found = binaries()
        if found:
            return found
        progress(
            "Installing MariaDB from the OS packages (apt-get install mariadb-server; once) ..."
        )
        started = time.monotonic()
        try:
            apt_install(["mariadb-server"], progress=progress)
        except AptFailed as exc:
            raise HarnessError(f"{exc}\n{INSTALL_HINT}") from None
        progress(f"Installed MariaDB in {time.monotonic() - started:.0f} s")
    found = binaries()
    if not found:
        raise HarnessError(
            f"mariadb-server was installed but its programs were not found. {INSTALL_HINT}"
        )
    return found


def base_dir(settings: Settings) -> Path:
    return settings.state_dir / "mariadb"


def _socket_path(settings: Settings) -> Path:
    """Unix socket paths are limited to ~107 bytes; long state dirs use the temp dir."""
    path = base_dir(settings) / "mysqld.sock"
    if len(str(path)) < 100:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"harness-mariadb-{digest}.sock"


def credentials(settings: Settings) -> dict:
    """{"admin": {...}, "loader": {...}} of the harness's server (after `start`)."""
    path = base_dir(settings) / "credentials.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(
            f"{path} is missing or broken; start the harness's MariaDB again (`harness up`): "
            "it sets new passwords and keeps the catalog data"
        ) from exc


def os_user() -> str:
    """The name of the OS user this process runs as (its effective uid): the MariaDB
    account that may log in over the socket without a password (see the module doc).
    Not $USER, which `su`, `runuser` and sudo may leave naming someone else."""
    return pwd.getpwuid(os.geteuid()).pw_name


def _server_args(server: str, settings: Settings, port: int) -> list[str]:
    base = base_dir(settings)
    args = [
        server,
        "--no-defaults",  # never read /etc/mysql: this server is ours alone
        f"--datadir={base / 'data'}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--socket={_socket_path(settings)}",
        f"--pid-file={base / 'mariadbd.pid'}",
        f"--log-error={base / 'mariadb.log'}",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci",
        "--innodb-buffer-pool-size=64M",
        "--innodb-log-file-size=16M",
        "--max-connections=200",
        "--skip-name-resolve",
    ]
    if os.geteuid() == 0:
        args.append("--user=root")  # mariadbd refuses to run as root unless told to
    return args


def _initialise(installer: str, settings: Settings, progress: Callable[[str], None]) -> None:
    base = base_dir(settings)
    data = base / "data"
    staging = base / "data.initialising"
    shutil.rmtree(staging, ignore_errors=True)
    progress(f"Initialising a MariaDB data folder in {data} ...")
    cmd = [
        installer,
        "--no-defaults",
        f"--datadir={staging}",
        "--auth-root-authentication-method=socket",
        # The socket account `_bootstrap` logs in as. The installer's default, `--user`
        # or else $USER, is wrong for a non-root user (no --user) and under runuser/su.
        f"--auth-root-socket-user={os_user()}",
        "--skip-test-db",
    ]
    if os.geteuid() == 0:
        cmd.append("--user=root")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise HarnessError(f"{installer} failed:\n{tail}")
    staging.rename(data)


def _data_state(settings: Settings) -> tuple[bool, bool]:
    """(fresh, lost_credentials): no data folder yet (initialise one), or a data folder
    whose account passwords are lost (set new ones). Data is never deleted here: a
    folder that is there but not a MariaDB data folder is refused."""
    base = base_dir(settings)
    data = base / "data"
    if not data.exists():
        return True, False
    if not (data / "mysql").is_dir():
        raise HarnessError(
            f"{data} is not a MariaDB data folder (it has no mysql/); move it away or "
            "remove it, and start again"
        )
    return False, not (base / "credentials.json").exists()


def _bootstrap(settings: Settings) -> dict:
    """Create the two accounts once, over the Unix socket as the OS user's account
    (`os_user()`: root when the harness runs as root)."""
    creds = {
        "admin": {"username": ADMIN_USER, "password": secrets.token_urlsafe(18)},
        "loader": {"username": LOADER_USER, "password": secrets.token_urlsafe(18)},
    }
    connection = pymysql.connect(unix_socket=str(_socket_path(settings)), user=os_user())
    try:
        with connection.cursor() as cursor:
            for role, grants, scope in (
                ("admin", "ALL PRIVILEGES", "*.*"),
                ("loader", LOADER_GRANTS, f"`{SCHEMA}`.*"),
            ):
                user, password = creds[role]["username"], creds[role]["password"]
                cursor.execute(
                    f"CREATE OR REPLACE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", (password,)
                )
                suffix = " WITH GRANT OPTION" if role == "admin" else ""
                cursor.execute(f"GRANT {grants} ON {scope} TO '{user}'@'127.0.0.1'{suffix}")
        connection.commit()
    finally:
        connection.close()
    atomic_write_text(base_dir(settings) / "credentials.json", json.dumps(creds, indent=2))
    return creds


def is_up(port: int, timeout: float = 1.0) -> bool:
    """True when a MySQL server answers a handshake on 127.0.0.1:port."""
    try:
        pymysql.connect(host="127.0.0.1", port=port, user="healthcheck", connect_timeout=timeout)
    except pymysql.err.OperationalError as exc:
        # Server-side errors (access denied, host not allowed) mean it answered;
        # client-side ones (2000 and up: refused, timed out) mean it did not.
        return bool(exc.args) and isinstance(exc.args[0], int) and exc.args[0] < 2000
    except pymysql.MySQLError:
        return False
    return True


def start(settings: Settings, port: int, progress: Callable[[str], None] = print) -> dict:
    """Start our server (or reuse the one running) on 127.0.0.1:port; returns its record."""
    records = ProcessRecords(settings.state_dir)
    running = records.get(RECORD)
    if running and running.get("port") == port and is_up(port):
        return running | {"reused": True}
    if running:
        records.stop(RECORD, timeout=30)
    require_free(
        "127.0.0.1",
        [port],
        "MariaDB",
        "choose another with HARNESS_DB_PORT=<port>, or use that server with HARNESS_DATABASE_URL",
    )
    server, installer = ensure_installed(settings, progress)
    private_dir(settings.state_dir)
    base = private_dir(base_dir(settings))
    fresh, lost_credentials = _data_state(settings)
    if fresh:
        _initialise(installer, settings, progress)
    elif lost_credentials:
        progress(
            f"{base / 'credentials.json'} is missing: the accounts get new passwords; "
            f"the data in {base / 'data'} is kept"
        )
    started = time.monotonic()
    log_path = base / "mariadb.log"
    _, record = start_recorded(
        records,
        RECORD,
        _server_args(server, settings, port),
        base / "mariadbd.out",
        lambda: is_up(port, timeout=0.5),
        what=f"MariaDB on 127.0.0.1:{port}",
        timeout=float(os.environ.get("HARNESS_DB_START_TIMEOUT", "60")),
        log=log_path,
        interval=0.1,
        port=port,
        data_dir=str(base / "data"),
    )
    if fresh:
        _bootstrap(settings)
    elif lost_credentials:
        try:
            _bootstrap(settings)
        except pymysql.MySQLError as exc:
            records.stop(RECORD)
            raise HarnessError(
                f"{base / 'credentials.json'} is missing and new passwords could not be set "
                f"({exc}). The catalog data in {base / 'data'} is kept: put the file back, or "
                f"remove {base} to start with an empty database"
            ) from exc
    progress(f"MariaDB on 127.0.0.1:{port} ready in {time.monotonic() - started:.1f} s")
    return record | {"reused": False}


def stop(settings: Settings) -> bool:
    """Stop our server (a clean shutdown on SIGTERM); True if it was running."""
    return ProcessRecords(settings.state_dir).stop(RECORD, timeout=30)
