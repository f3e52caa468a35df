"""The in-process transport: botocore's before-send event hands each serialized bedrock / bedrock-runtime
request to the emulator and parses its bytes with the real parser (moto's own mechanism)."""
from __future__ import annotations

import io
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS

from .service import SERVICES, Emulator

# moto's names for the services it must leave to the emulator (botocore calls every before-send handler)
MOTO_PASSTHROUGH = ["bedrock", "bedrockruntime"]


class _Raw(io.BytesIO):
    """What botocore reads as http_response.raw (StreamingBody and EventStream call stream())."""

    def stream(self, **_: Any):
        while chunk := self.read(8192):
            yield chunk


class Hook:
    """The before-send handler: answers bedrock and bedrock-runtime requests from an Emulator."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.enabled = True

    def __call__(self, request, event_name: str, **_: Any):
        if not self.enabled:
            return None
        _, service, operation = event_name.split(".", 2)
        body = request.body.read() if hasattr(request.body, "read") else request.body
        body = body.encode() if isinstance(body, str) else (body or b"")
        status, headers, payload = self.emulator.handle(service, operation, request.method, request.url,
                                                        dict(request.headers), body)
        return AWSResponse(request.url, status, headers, _Raw(payload))


_installed: list[Hook] = []


def install(emulator: Emulator | None = None) -> Emulator:
    """Answer bedrock and bedrock-runtime in this process from now on; return the emulator (idempotent)."""
    if _installed:
        return _installed[0].emulator
    hook = Hook(emulator or Emulator())
    for service in SERVICES:
        BUILTIN_HANDLERS.append((f"before-send.{service}", hook))
    import boto3
    if boto3.DEFAULT_SESSION is not None:  # a session made before install() also gets the hook
        for service in SERVICES:
            boto3.DEFAULT_SESSION._session.register(f"before-send.{service}", hook)
    _installed.append(hook)
    return hook.emulator


def uninstall() -> None:
    """Stop answering (clients made earlier fall through to the network)."""
    while _installed:
        hook = _installed.pop()
        hook.enabled = False
        BUILTIN_HANDLERS[:] = [h for h in BUILTIN_HANDLERS if h[1] is not hook]


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def routes_here(client) -> bool:
    """True if this boto3 client's requests are answered by the offline account: the in-process hook is among its
    before-send handlers, or its endpoint is the loopback `offline-aws` server. A client made before install()
    (or any object that is not a boto3 client) is not."""
    from urllib.parse import urlsplit

    meta = getattr(client, "meta", None)
    if not hasattr(meta, "events") or not hasattr(meta, "endpoint_url"):
        return False
    if urlsplit(meta.endpoint_url).hostname in LOOPBACK:
        return True
    emitter = getattr(meta.events, "_emitter", meta.events)  # clients wrap their emitter in an EventAliaser
    service = meta.service_model.service_id.hyphenize()
    trie = getattr(emitter, "_handlers", None)  # botocore's registry of handlers; absent: not ours to trust
    handlers = trie.prefix_search(f"before-send.{service}.AnyOperation") if trie is not None else []
    return any(isinstance(h, Hook) and h.enabled for h in handlers)


def emulator() -> Emulator | None:
    """Return the installed emulator, if any."""
    return _installed[0].emulator if _installed else None
