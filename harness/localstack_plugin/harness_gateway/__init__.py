"""LocalStack's twisted HTTP server listens only on the host GATEWAY_LISTEN names.

The harness runs LocalStack on twisted, LocalStack's own default, because it is the
faster of its two HTTP servers here (measured: see `tuning_environment` in
harness/runtime/localstack.py). But LocalStack 4.13.1's `TwistedRuntimeServer.register`
drops the host of an IPv4 address ("TODO: interface = host?") and so listens on every
address of the machine, though GATEWAY_LISTEN says 127.0.0.1. This hook, run before
LocalStack registers its server (the entry point `localstack.hooks.on_runtime_create` in
this folder's pyproject.toml), hands that module a TCP4ServerEndpoint that binds to the
host GATEWAY_LISTEN gives for the port. An address GATEWAY_LISTEN does not name keeps
twisted's own default; IPv6 addresses were bound right already.
"""

from __future__ import annotations

import types

from localstack.runtime import hooks


def listen_hosts(listen: list) -> dict[int, str]:
    """GATEWAY_LISTEN's IPv4 hosts by port (LocalStack's HostAndPort entries)."""
    return {entry.port: entry.host for entry in listen if ":" not in entry.host}


@hooks.on_runtime_create()
def bind_to_listen_host() -> None:
    from localstack import config

    if config.GATEWAY_SERVER != "twisted":
        return  # hypercorn binds to the host it is given; twisted is not even imported
    from localstack.runtime.server import twisted as server

    endpoints = server.endpoints
    hosts = listen_hosts(config.GATEWAY_LISTEN)

    def tcp4_on_listen_host(reactor, port: int, *args, **kwargs):
        host = hosts.get(port)
        if host is not None:
            kwargs.setdefault("interface", host)
        return endpoints.TCP4ServerEndpoint(reactor, port, *args, **kwargs)

    server.endpoints = types.SimpleNamespace(
        TCP4ServerEndpoint=tcp4_on_listen_host,
        TCP6ServerEndpoint=endpoints.TCP6ServerEndpoint,
    )
