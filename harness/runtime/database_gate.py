"""A TCP gate between the functions and a database server the harness does not own.

Why it exists: an outage of system B's database must reach the loader as AWS would
show it, a refused or broken connection. The harness's own MariaDB (and the docker
backend's container) is simply stopped. A server given by `HARNESS_DATABASE_URL` is
not the harness's to stop, and pointing the loader's secret at a closed port does not
reach a warm loader: it reads the secret again only after a connect fails, and its
known server still answers. So on the embedded backend, where the functions run on
this host, the loader reaches such a server through this gate, on 127.0.0.1 at the
port the harness's MariaDB would use (`HARNESS_DB_PORT`). Stopping the gate refuses
new connections and breaks the open ones, mid-transaction included, and starting it
again ends the outage; the server itself is never touched.

It is a process of its own, recorded and stopped by `harness down` like the stubs, so
it outlives the CLI call that deployed the stack. The relay is a few lines of asyncio
rather than a library: toxiproxy needs a Go binary and its server, and nothing more
than a byte pipe is needed here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator

from harness.config import Settings
from harness.util.errors import HarnessError
from harness.util.files import private_dir
from harness.util.net import port_in_use, require_free
from harness.util.processes import ProcessRecords, start_recorded

RECORD = "database-gate"
LISTEN_HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0
CHUNK = 64 * 1024


def start(settings: Settings, port: int, target_host: str, target_port: int) -> bool:
    """The gate on 127.0.0.1:`port` relaying to the target, unless ours already does;
    True if started now."""
    records = ProcessRecords(settings.state_dir)
    running = records.get(RECORD)
    wanted = {"port": port, "target_host": target_host, "target_port": target_port}
    if running and {k: running.get(k) for k in wanted} == wanted and port_in_use(LISTEN_HOST, port):
        return False
    records.stop(RECORD)
    require_free(LISTEN_HOST, [port], "the database gate", "set HARNESS_DB_PORT")
    log_path = private_dir(settings.state_dir) / "database-gate.log"
    target = f"{target_host}:{target_port}"
    command = [sys.executable, "-m", __name__, "--port", str(port), "--target", target]
    start_recorded(
        records,
        RECORD,
        command,
        log_path,
        lambda: port_in_use(LISTEN_HOST, port),
        what="the database gate",
        timeout=START_TIMEOUT_S,
        **wanted,
    )
    return True


def stop(settings: Settings) -> bool:
    """Stop the gate if ours runs; its open connections break with it."""
    return ProcessRecords(settings.state_dir).stop(RECORD)


def running(settings: Settings) -> dict | None:
    """The record of our gate (its pid, port and target) if it runs."""
    return ProcessRecords(settings.state_dir).get(RECORD)


def start_as(settings: Settings, record: dict) -> bool:
    """The gate started again as `record` (from `running`) describes it."""
    return start(settings, record["port"], record["target_host"], record["target_port"])


@contextlib.contextmanager
def closed(settings: Settings) -> Iterator[None]:
    """No connection through the gate inside the block; it relays again afterwards, to
    the same target on the same port."""
    record = running(settings)
    if record is None:
        raise HarnessError(
            "the database gate does not run: the catalog's first use with "
            "HARNESS_DATABASE_URL on the embedded backend starts it"
        )
    stop(settings)
    try:
        yield
    finally:
        start_as(settings, record)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One direction: bytes as they come; the end of them passed on as a half-close."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()  # the other side broke: pass the break on


async def _relay(
    target_host: str,
    target_port: int,
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
) -> None:
    try:
        server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
    except OSError as exc:
        print(f"cannot reach {target_host}:{target_port}: {exc}", flush=True)
        client_writer.close()  # to the client: the server is not there
        return
    try:
        await asyncio.gather(
            _pipe(client_reader, server_writer), _pipe(server_reader, client_writer)
        )
    finally:
        server_writer.close()
        client_writer.close()


async def serve(port: int, target_host: str, target_port: int) -> None:
    server = await asyncio.start_server(
        lambda reader, writer: _relay(target_host, target_port, reader, writer),
        LISTEN_HOST,
        port,
    )
    print(f"relaying {LISTEN_HOST}:{port} -> {target_host}:{target_port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port to listen on, 127.0.0.1")
    parser.add_argument("--target", required=True, help="host:port of the database server")
    args = parser.parse_args(argv)
    host, _, target_port = args.target.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, host, int(target_port)))


if __name__ == "__main__":
    main()
