"""The rest-json wire format of bedrock and bedrock-runtime, driven by botocore's own service model.

Everything here is read from the model botocore ships, so the emulator sees the real operation names,
URIs, members and constraints, and answers with bytes that botocore's real parser turns into dicts,
datetimes, StreamingBody/EventStream objects and modelled exceptions.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from binascii import crc32
from struct import pack
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
from botocore.model import OperationModel, Shape

_SESSION = botocore.session.get_session()


# How a message in the lab's own words starts, where Bedrock has no answer to quote (a feature the offline
# account does not emulate): never to be mistaken for AWS's wording.
LAB_VOICE = "[offline lab, not an AWS message] "
# The error code of an operation the lab does not emulate when its botocore model lists no ValidationException:
# an unmodelled code, so botocore raises a plain ClientError (no real answer would be one of the modelled errors).
NOT_EMULATED = "OfflineLabNotEmulated"


class AwsError(Exception):
    """Raised by an operation to answer with a modelled error shape (code, message)."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


class Codec:
    """Route, decode, validate and encode one rest-json service."""

    def __init__(self, service_name: str):
        self.service_name = service_name
        self.model = _SESSION.get_service_model(service_name)
        routes = []
        for name in self.model.operation_names:
            op = self.model.operation_model(name)
            uri = op.http["requestUri"].split("?", 1)[0]
            pattern = re.sub(r"\\\{([A-Za-z0-9_]+)(\\\+)?\\\}",
                             lambda m: f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})", re.escape(uri))
            routes.append((len(re.sub(r"\{[^}]+\}", "", uri)), op.http["method"], re.compile(f"^{pattern}/?$"), op))
        # the most literal URI wins, as in the service's own router
        self._routes = [r[1:] for r in sorted(routes, key=lambda r: -r[0])]

    def route(self, method: str, path: str, name: str | None = None) -> tuple[OperationModel | None, dict]:
        """Return the operation for method + raw path (or the named one) and its decoded path parameters."""
        for m, rx, op in self._routes:
            if (name is None and m == method) or op.name == name:
                hit = rx.match(path)
                if hit:
                    return op, {k: unquote(v) for k, v in hit.groupdict().items()}
        return None, {}

    def decode(self, op: OperationModel, url: str, headers: dict, body: bytes, path_params: dict) -> dict:
        """Return the request parameters as the service's handler sees them."""
        shape = op.input_shape
        if shape is None:
            return {}
        query = parse_qs(urlsplit(url).query, keep_blank_values=True)
        lower = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
        payload = shape.serialization.get("payload")
        doc = None
        params: dict[str, Any] = {}
        for name, member in shape.members.items():
            loc, wire = member.serialization.get("location"), member.serialization.get("name", name)
            if loc == "uri" and wire in path_params:
                params[name] = path_params[wire]
            elif loc == "querystring" and wire in query:
                values = query[wire]
                params[name] = ([_scalar(member.member, v) for v in values] if member.type_name == "list"
                                else _scalar(member, values[0]))
            elif loc == "header" and wire.lower() in lower:
                params[name] = _scalar(member, lower[wire.lower()])
            elif loc is None and name == payload:
                if member.type_name == "blob":
                    params[name] = body
                elif body:
                    params[name] = _from_json(member, json.loads(body))
            elif loc is None:
                if doc is None:
                    doc = _parse_body(body)
                if wire in doc:
                    params[name] = _from_json(member, doc[wire])
        return params

    def validate(self, op: OperationModel, params: dict) -> None:
        """Check required members, lengths, ranges, enums and patterns; raise the service's ValidationException."""
        errors: list[str] = []
        if op.input_shape is not None:
            _check(op.input_shape, params, "", errors)
        if errors:
            n = len(errors)
            raise AwsError("ValidationException",
                           f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(errors))

    def check_output(self, op: OperationModel, result: dict) -> None:
        """Self-check: every emulated response must satisfy the output shape (the validator Stubber uses)."""
        from botocore.validate import ParamValidator
        shape = op.output_shape
        if shape is None:
            return
        # an event stream is checked event by event when encoded; here it only has to be present
        clean = {k: ({} if shape.members[k].serialization.get("eventstream") else v) for k, v in result.items()
                 if v is not None and k in shape.members}
        report = ParamValidator().validate(clean, shape)
        if report.has_errors():
            raise AssertionError(f"offline emulator answered {op.name} off-model:\n{report.generate_report()}")

    def encode(self, op: OperationModel, result: dict) -> tuple[int, dict, bytes]:
        """Return (status, headers, body) for a successful call."""
        status = op.http.get("responseCode", 200)
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": "application/json"}
        shape = op.output_shape
        if shape is None:
            return status, headers, b"{}"
        payload = shape.serialization.get("payload")
        doc: dict[str, Any] = {}
        raw: bytes | None = None
        for name, member in shape.members.items():
            if result.get(name) is None:
                continue
            value, loc, wire = result[name], member.serialization.get("location"), member.serialization.get("name", name)
            if loc == "header":
                headers[wire] = str(value)
            elif loc == "statusCode":
                status = int(value)
            elif name == payload:
                if member.serialization.get("eventstream"):
                    raw = b"".join(_event(member, e) for e in value)
                    headers["Content-Type"] = "application/vnd.amazon.eventstream"
                elif member.type_name == "blob":
                    raw = value if isinstance(value, bytes) else str(value).encode()
                else:
                    raw = json.dumps(_to_json(member, value)).encode()
            else:
                doc[wire] = _to_json(member, value)
        body = raw if raw is not None else json.dumps(doc).encode()
        headers["Content-Length"] = str(len(body))
        return status, headers, body

    def not_emulated(self, op: OperationModel, what: str) -> AwsError:
        """The lab's answer for something it does not emulate: its ValidationException where the operation models
        one, else an unmodelled code; the message in the lab's voice either way."""
        code = "ValidationException" if any(e.name == "ValidationException" for e in op.error_shapes) else NOT_EMULATED
        return AwsError(code, f"{LAB_VOICE}{what} is not emulated offline; run it in live mode "
                              "(LAB_AWS_MODE=live).", 400)

    def error(self, code: str, message: str, status: int | None = None) -> tuple[int, dict, bytes]:
        """Return (status, headers, body) for a modelled error, as the service sends it."""
        if status is None:
            try:
                status = self.model.shape_for(code).metadata.get("error", {}).get("httpStatusCode", 400)
            except Exception:  # a code the model does not list
                status = 400
        body = json.dumps({"message": message}).encode()
        prefix = self.service_name.replace("-", "")
        return status, {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": "application/json",
                        "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazonaws.{prefix}/",
                        "Content-Length": str(len(body))}, body


def _parse_body(body: bytes) -> dict:
    try:
        doc = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        raise AwsError("SerializationException", "Start of structure or map found where not expected.") from None
    return doc if isinstance(doc, dict) else {}


def _scalar(shape: Shape, raw: str) -> Any:
    t = shape.type_name
    if t in ("integer", "long"):
        return int(raw)
    if t in ("float", "double"):
        return float(raw)
    if t == "boolean":
        return raw.lower() == "true"
    if t == "timestamp":
        try:
            return dt.datetime.fromtimestamp(float(raw), dt.timezone.utc)
        except ValueError:
            return dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return raw


def _from_json(shape: Shape, value: Any) -> Any:
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        return {n: _from_json(m, value[m.serialization.get("name", n)])
                for n, m in shape.members.items() if m.serialization.get("name", n) in value}
    if t == "list" and isinstance(value, list):
        return [_from_json(shape.member, v) for v in value]
    if t == "map" and isinstance(value, dict):
        return {k: _from_json(shape.value, v) for k, v in value.items()}
    if t == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if t == "timestamp":
        return _scalar(shape, str(value))
    return value


def _to_json(shape: Shape, value: Any) -> Any:
    t = shape.type_name
    if t == "structure":
        return {m.serialization.get("name", n): _to_json(m, value[n])
                for n, m in shape.members.items() if value.get(n) is not None}
    if t == "list":
        return [_to_json(shape.member, v) for v in value]
    if t == "map":
        return {k: _to_json(shape.value, v) for k, v in value.items()}
    if t == "blob":
        return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()
    if t == "timestamp":
        if shape.serialization.get("timestampFormat") == "iso8601":
            return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return value.timestamp()
    return value


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, (str, int, float)) else "[...]" if isinstance(value, list) else "{...}"


_PYTHON_TYPES = {"structure": dict, "map": dict, "list": list, "string": str, "boolean": bool,
                 "integer": int, "long": int, "float": (int, float), "double": (int, float)}


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    meta, t, where = shape.metadata, shape.type_name, path.rstrip(".")
    expected = None if meta.get("document") else _PYTHON_TYPES.get(t)  # a document member holds any JSON
    if expected and (not isinstance(value, expected) or (t not in ("boolean",) and isinstance(value, bool))):
        errors.append(f"Value {_show(value)} at '{where}' failed to satisfy constraint: Member must be of type {t}")
        return
    if t == "structure":
        for req in shape.required_members:
            if req not in value:
                errors.append(f"Value null at '{path + req}' failed to satisfy constraint: Member must not be null")
        for name, member in shape.members.items():
            if name in value:
                _check(member, value[name], f"{path}{name}.", errors)
        return
    prefix = f"Value {_show(value)} at '{where}' failed to satisfy constraint: Member must"
    if t in ("string", "list", "map", "blob"):
        if "min" in meta and len(value) < meta["min"]:
            errors.append(f"{prefix} have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{prefix} have length less than or equal to {meta['max']}")
    if t == "string":
        if "enum" in meta and value not in meta["enum"]:
            errors.append(f"{prefix} satisfy enum value set: [{', '.join(meta['enum'])}]")
        if meta.get("pattern"):
            try:
                ok = re.fullmatch(meta["pattern"], value, re.S) is not None
            except re.error:  # a Java-only construct: the service would know, we do not guess
                ok = True
            if not ok:
                errors.append(f"{prefix} satisfy regular expression pattern: {meta['pattern']}")
    if t in ("integer", "long", "float", "double"):
        if "min" in meta and value < meta["min"]:
            errors.append(f"{prefix} have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            errors.append(f"{prefix} have value less than or equal to {meta['max']}")
    if t == "list":
        for i, item in enumerate(value, 1):
            _check(shape.member, item, f"{path}{i}.member.", errors)
    if t == "map":
        for k, v in value.items():
            _check(shape.value, v, f"{path}{k}.", errors)


def _frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One message of the AWS event-stream binary framing (prelude, headers, payload, CRCs)."""
    head = b"".join(pack("!B", len(k.encode())) + k.encode() + b"\x07" + pack("!H", len(v.encode())) + v.encode()
                    for k, v in headers.items())
    prelude = pack("!II", 16 + len(head) + len(payload), len(head))
    prelude += pack("!I", crc32(prelude) & 0xFFFFFFFF)
    message = prelude + head + payload
    return message + pack("!I", crc32(message) & 0xFFFFFFFF)


def _event(stream: Shape, event: dict) -> bytes:
    (kind, body), = event.items()
    payload = json.dumps(_to_json(stream.members[kind], body)).encode()
    return _frame({":event-type": kind, ":content-type": "application/json", ":message-type": "event"}, payload)
