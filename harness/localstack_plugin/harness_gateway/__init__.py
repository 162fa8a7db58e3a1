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

A second hook (`parse_content_type_quickly`) takes the email package out of twisted's
request path: twisted's `Request.requestReceived` classifies the Content-Type of every
POST with `_parseContentType`, which builds an `email.message.EmailMessage` for it,
about 150 us a request here. Every SQS, SNS and Lambda call is a POST, LocalStack's
internal ones included, and a py-spy profile of the bench (docs/performance.md) put 7 %
of LocalStack's time holding the GIL in that parser. `content_type_key` returns what the
email package returns, by the rule it applies (RFC 2045 5.2, `Message.get_content_type`),
for every header without RFC 2047 encoded words or line-break characters: an encoded
word is read as it stands, and a line break inside the value, on which the email
package raised and the request failed, is read like any other character.
Hand-written because twisted has no setting for it; start-up fails if twisted stops
calling the name.
"""

from __future__ import annotations

import types

from localstack.runtime import hooks

DEFAULT_CONTENT_TYPE = b"text/plain"  # RFC 2045 5.2: the type of an invalid header


def listen_hosts(listen: list) -> dict[int, str]:
    """GATEWAY_LISTEN's IPv4 hosts by port (LocalStack's HostAndPort entries)."""
    return {entry.port: entry.host for entry in listen if ":" not in entry.host}


def serves_with_twisted() -> bool:
    """Both hooks mend twisted only: hypercorn binds to the host it is given and parses
    its own headers, and with it twisted is not even imported."""
    from localstack import config

    return config.GATEWAY_SERVER == "twisted"


@hooks.on_runtime_create()
def bind_to_listen_host() -> None:
    if not serves_with_twisted():
        return
    from localstack import config
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


def content_type_key(line: bytes) -> bytes:
    """The lower-cased `type/subtype` of a Content-Type header, or text/plain when it has
    not exactly one slash: `email.message.Message.get_content_type`'s rule, without
    parsing the header's parameters (twisted compares only the type)."""
    key = line.decode("charmap").split(";", 1)[0].strip().lower()
    return key.encode("charmap") if key.count("/") == 1 else DEFAULT_CONTENT_TYPE


@hooks.on_runtime_create()
def parse_content_type_quickly() -> None:
    if not serves_with_twisted():
        return
    from twisted.web import http

    if "_parseContentType" not in http.Request.requestReceived.__code__.co_names:
        raise RuntimeError(
            "harness_gateway: twisted's Request.requestReceived no longer uses _parseContentType"
        )
    http._parseContentType = content_type_key
