"""`python -m helpers offline-aws --port PORT`: the offline account on 127.0.0.1 for other processes.

Point any AWS client at it with AWS_ENDPOINT_URL=http://127.0.0.1:PORT (botocore >= 1.31 reads it). Requests
signed for `bedrock` go to the lab's emulator; everything else (S3, IAM, STS, SageMaker) to moto, in this
process. The Bedrock state is the same on-disk state in-process kernels use.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .service import Emulator
from .state import StateError

_SCOPE = re.compile(r"Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/([a-z0-9-]+)/")
GLOBAL_HOSTS = {"iam": "iam.amazonaws.com", "sts": "sts.amazonaws.com"}
# Bounds every HTTP server sets, so a stalled or oversized upload ties up one thread for a bounded time:
READ_TIMEOUT = 30.0          # seconds a read of the request line, a header or a piece of the body may wait
BODY_SECONDS = 300.0         # seconds a whole request body may take
MAX_BODY = 512 * 1024 ** 2   # bytes; the largest file the lab's notebooks upload is a few MB


class BodyError(Exception):
    """The request body broke a bound: answered with its HTTP status and never read further."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def moto_host(service: str, region: str) -> str:
    """Return the AWS host moto recognises for a signing service name."""
    if service in GLOBAL_HOSTS:
        return GLOBAL_HOSTS[service]
    if service == "sagemaker":
        return f"api.sagemaker.{region}.amazonaws.com"
    return f"{service}.{region}.amazonaws.com"


def _start_moto():
    """Start moto in this process (it leaves bedrock to the emulator); return the mock, so it can be stopped."""
    from moto import mock_aws
    from moto.moto_api._internal import mock_random

    from .hook import MOTO_PASSTHROUGH
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ[name] = "testing"
    os.environ.pop("AWS_ENDPOINT_URL", None)  # the emulator's own S3/IAM clients talk to moto in-process
    mock_random.seed(42)
    mock = mock_aws(config={"core": {"mock_credentials": True, "reset_boto3_session": True, "service_whitelist": None,
                                     "passthrough": {"urls": [], "services": MOTO_PASSTHROUGH}}})
    mock.start()
    return mock


def make_handler(emulator: Emulator, verbose: bool = False, *, read_timeout: float = READ_TIMEOUT,
                 body_seconds: float = BODY_SECONDS, max_body: int = MAX_BODY):
    """Return the request handler class serving one emulator and the in-process moto."""
    from botocore.awsrequest import AWSPreparedRequest
    from moto.core.models import botocore_stubber

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = read_timeout  # socketserver applies it to every read, the request line and headers included

        def _read(self, size: int, deadline: float) -> bytes:
            out = bytearray()
            while len(out) < size:
                if time.monotonic() > deadline:
                    raise BodyError(408, f"the request body took longer than {body_seconds:g} s")
                piece = self.rfile.read1(min(size - len(out), 1 << 20))
                if not piece:
                    raise BodyError(400, "the connection closed before the whole request body arrived")
                out += piece
            return bytes(out)

        def _body(self) -> bytes:
            deadline = time.monotonic() + body_seconds
            too_big = BodyError(413, f"the request body is larger than the offline server's limit of "
                                     f"{max_body:,} bytes")
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                out = b""
                while (size := int(self.rfile.readline(64).split(b";")[0].strip() or b"0", 16)):
                    if len(out) + size > max_body:
                        raise too_big
                    out += self._read(size, deadline)
                    self.rfile.readline(64)
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return out
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise BodyError(400, "the Content-Length header is not a number") from None
            if length > max_body:
                raise too_big
            return self._read(length, deadline)

        def _refuse(self, error: BodyError) -> None:
            """Answer a broken bound and close the connection (the rest of the body is never read)."""
            payload = f"offline-aws: {error.message}".encode()
            self.close_connection = True
            self.send_response(error.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

        def _answer(self) -> None:
            try:
                body = self._body()
            except BodyError as error:
                return self._refuse(error)
            except (TimeoutError, ConnectionError):  # a stalled or vanished client: drop it, serve the others
                self.close_connection = True
                return None
            scope = _SCOPE.search(self.headers.get("Authorization", ""))
            region, service = scope.groups() if scope else ("us-east-1", "s3")
            headers = {k: v for k, v in self.headers.items()}
            status, out_headers, payload = None, {}, b""
            if service == "bedrock":
                for name in ("bedrock", "bedrock-runtime"):
                    op, _ = emulator.codecs[name].route(self.command, urlsplit(self.path).path)
                    if op is None:
                        continue
                    try:
                        status, out_headers, payload = emulator.handle(name, None, self.command,
                                                                       f"http://127.0.0.1{self.path}", headers, body)
                    except Exception as exc:  # an emulator bug: answer as the service would, not drop the line
                        status, out_headers, payload = emulator.codecs[name].error(
                            "InternalServerException", f"offline emulator error: {type(exc).__name__}: {exc}", 500)
                    break
            else:
                host = moto_host(service, region)
                headers["Host"] = host
                request = AWSPreparedRequest(self.command, f"https://{host}{self.path}", headers, body, False)
                answer = botocore_stubber.process_request(request)
                if answer is not None:
                    status, out_headers, payload = answer
            if status is None:
                status, payload = 404, f"the offline account has no {service} operation at {self.path}".encode()
                out_headers = {"Content-Type": "text/plain"}
            payload = payload.encode() if isinstance(payload, str) else (payload or b"")
            self.send_response(status)
            for key, value in dict(out_headers).items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, str(value))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _answer

        def log_message(self, fmt: str, *args) -> None:
            if verbose:
                sys.stderr.write(f"offline-aws: {fmt % args}\n")

    return Handler


def serve(port: int = 0, *, emulator: Emulator | None = None, verbose: bool = False,
          **bounds: float) -> tuple[ThreadingHTTPServer, str]:
    """Start moto and the emulator on 127.0.0.1:port in a daemon thread; return (server, endpoint URL).
    bounds: read_timeout, body_seconds, max_body (see make_handler). Stop it with server.shutdown() and
    server.moto.stop()."""
    mock = _start_moto()
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(emulator or Emulator(), verbose, **bounds))
    server.daemon_threads = True
    server.moto = mock
    threading.Thread(target=server.serve_forever, name="offline-aws", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def port_number(text: str) -> int:
    """argparse type: a TCP port, 0 (any free one) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port: use 1-65535, or 0 for any free port")
    return port


def kept_state(emulator: Emulator) -> str:
    """One line saying what a (re)started server kept on disk and what starts empty."""
    with emulator.store.transaction() as doc:
        jobs, models = len(doc["jobs"]), len(doc["models"])
    return (f"state: {jobs} customization jobs and {models} custom models kept in {emulator.store.root}; S3 buckets "
            "and IAM roles live in this process's memory and start empty: create them again after a restart")


def main(argv: list[str]) -> int:
    """Serve the offline account until interrupted; print the endpoint to export."""
    parser = argparse.ArgumentParser(prog="python -m helpers offline-aws", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=port_number, default=4566, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    emulator = Emulator()
    try:
        line = kept_state(emulator)
    except StateError as exc:
        print(f"offline-aws: {exc}", file=sys.stderr)
        return 2
    try:
        server, url = serve(args.port, emulator=emulator, verbose=args.verbose)
    except OSError as exc:
        print(f"offline-aws: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"offline AWS (S3, IAM, STS, SageMaker via moto; Bedrock via the lab's emulator) on {url}\n{line}\n"
          f"use it from another shell:  export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing "
          "AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0
