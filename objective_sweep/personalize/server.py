"""The HTTP face of the local Personalize: one 127.0.0.1 URL speaking the control plane (JSON 1.1,
`X-Amz-Target: AmazonPersonalize.<Operation>`), personalize-runtime (REST-JSON) and the fault admin route."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from objective_sweep.localcloud.authorizer import Authorizer
from objective_sweep.personalize.faults import Faults
from objective_sweep.personalize.protocol import ApiError
from objective_sweep.personalize.service import PersonalizeService

LOG = logging.getLogger(__name__)
TARGET_PREFIX = "AmazonPersonalize."
FAULTS_PATH = "/_local/faults"
DEFAULT_REGION = "us-east-1"
_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([a-z0-9-]+)/")
# Request bodies beyond this are refused before reading: Personalize's largest request (a schema)
# is 20 KB, a ranking input list a few more.
MAX_BODY = 1 << 20
# A client that sends nothing for this long (mid-request, or idle on a kept-alive connection) is
# disconnected, so slow or stalled clients cannot hold the server's threads.
CLIENT_TIMEOUT = 30.0
# The fault route changes how the endpoint behaves: it answers only requests addressed to a loopback
# name (a web page cannot reach it through DNS rebinding) and, for POST, JSON bodies (a cross-site form
# or a "simple" fetch cannot send application/json without a CORS preflight, which this server refuses).
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_RUNTIME_ROUTES = {"/recommendations": "GetRecommendations", "/personalize-ranking": "GetPersonalizedRanking"}


class _Server(ThreadingHTTPServer):
    # Handler threads are joined by server_close(), so stop() leaves none behind.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = False

    def __init__(self, address: tuple[str, int], service: PersonalizeService, client_timeout: float) -> None:
        super().__init__(address, _Handler)
        self.service = service
        self.client_timeout = client_timeout
        # Set when the server stops: an answer held back by a fault rule is given up at once.
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        # Keep-alive clients would otherwise hold a handler thread open after stop().
        with self._connections_lock:
            open_sockets = list(self._connections)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _BadRequest(Exception):
    """A request the server cannot read as HTTP (not an API error): answered 400 and disconnected."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Every read waits at most this long; the base class then disconnects the client.
        self.connection.settimeout(self.server.client_timeout)
        # Headers and body go out in separate writes; without NODELAY, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every keep-alive response.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s %s", self.address_string(), format % args)

    def handle_one_request(self) -> None:
        # The base class already disconnects a client whose read timed out (TimeoutError).
        try:
            super().handle_one_request()
        except _BadRequest as bad:
            self._send(400, {"message": f"Bad request: {bad}"}, "application/json", {"Connection": "close"})
            self.close_connection = True

    def _body(self) -> Any:
        declared = self.headers.get("Content-Length", "0")
        # Digits only (HTTP's 1*DIGIT): int() would also take "+5", " 5" or "5_0".
        if not declared.isascii() or not declared.isdigit():
            raise _BadRequest("Content-Length must be a whole number of bytes")
        length = int(declared)
        if length > MAX_BODY:
            raise ApiError("InvalidInputException", f"The request body is larger than {MAX_BODY} bytes.")
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            # The client closed its side before sending what it declared.
            raise _BadRequest("the request body is shorter than its Content-Length")
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError("SerializationException", f"The request body is not valid JSON: {exc}") from None

    def _send(
        self, status: int, payload: Any, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _region(self) -> str:
        match = _CREDENTIAL.search(self.headers.get("Authorization", ""))
        return match.group(2) if match else DEFAULT_REGION

    def _caller(self) -> str | None:
        """The access key the request was signed with (signatures themselves are not verified)."""
        match = _CREDENTIAL.search(self.headers.get("Authorization", ""))
        return match.group(1) if match else None

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == FAULTS_PATH:
            self._faults("POST")
        elif path in _RUNTIME_ROUTES:
            self._runtime(_RUNTIME_ROUTES[path])
        else:
            self._control_plane()

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == FAULTS_PATH:
            self._faults("GET")
        else:
            self._send(404, {"message": f"No route for GET {self.path}"}, "application/json")

    def do_DELETE(self) -> None:
        if self.path.split("?", 1)[0] == FAULTS_PATH:
            self._faults("DELETE")
        else:
            self._send(404, {"message": f"No route for DELETE {self.path}"}, "application/json")

    def _control_plane(self) -> None:
        content_type = "application/x-amz-json-1.1"
        target = self.headers.get("X-Amz-Target", "")
        try:
            body = self._body()
            if not target.startswith(TARGET_PREFIX):
                raise ApiError(
                    "UnknownOperationException",
                    f"Missing or foreign X-Amz-Target {target!r}; expected {TARGET_PREFIX}<Operation>.",
                )
            operation = target[len(TARGET_PREFIX) :]
            result = self.server.service.call(operation, body, self._region(), caller=self._caller())
        except ApiError as exc:
            self._send(400, {"__type": exc.code, "message": exc.message}, content_type)
            return
        except (_BadRequest, TimeoutError):
            raise
        except Exception:
            LOG.exception("%s failed", target)
            self._send(
                500, {"__type": "ServiceUnavailableException", "message": "internal error"}, content_type
            )
            return
        if not self._lose_answer(operation):
            self._send(200, result, content_type)

    def _runtime(self, operation: str) -> None:
        content_type = "application/json"
        try:
            body = self._body()
            result = self.server.service.call_runtime(operation, body, self._region(), caller=self._caller())
        except ApiError as exc:
            self._send(
                exc.runtime_status(), {"message": exc.message}, content_type, {"x-amzn-ErrorType": exc.code}
            )
            return
        except (_BadRequest, TimeoutError):
            raise
        except Exception:
            LOG.exception("%s failed", operation)
            self._send(
                500, {"message": "internal error"}, content_type, {"x-amzn-ErrorType": "InternalFailure"}
            )
            return
        if not self._lose_answer(operation):
            self._send(200, result, content_type)

    def _lose_answer(self, operation: str) -> bool:
        """Whether a fault rule loses this successful call's answer: the work is done, and the client
        gets no response — the connection is held for the rule's seconds (past a client's read timeout)
        and then closed, as when a network path drops an answer."""
        hold = self.server.service.faults.lost_answer(operation)
        if hold is None:
            return False
        LOG.info("%s: answer lost (fault rule), connection held %.1f s and closed", operation, hold)
        self.server.stopping.wait(hold)
        self.close_connection = True
        return True

    def _faults(self, method: str) -> None:
        faults = self.server.service.faults
        refusal = self._fault_route_refusal(method)
        if refusal is not None:
            self._send(403, {"__type": "AccessDeniedException", "message": refusal}, "application/json")
            return
        try:
            if method == "POST":
                faults.add(self._body())
            elif method == "DELETE":
                faults.clear()
        except ApiError as exc:
            self._send(400, {"__type": exc.code, "message": exc.message}, "application/json")
            return
        self._send(200, faults.describe(), "application/json")

    def _fault_route_refusal(self, method: str) -> str | None:
        host = self.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.lower() not in _LOOPBACK_HOSTS:
            return f"{FAULTS_PATH} answers only requests addressed to 127.0.0.1, localhost or [::1]"
        media_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if method == "POST" and media_type != "application/json":
            return f"{FAULTS_PATH} takes rules as Content-Type: application/json"
        return None


class LocalPersonalize:
    """A Personalize-compatible endpoint on 127.0.0.1, for embedding and for `sweep personalize serve`.

    `with LocalPersonalize(port=0) as lp:` then point boto3 at `lp.url` for both `personalize` and
    `personalize-runtime`. `faults` takes the same JSON object as `POST /_local/faults`. With an
    `authorizer` (the local cloud's), every call is authorized against the caller's IAM role.
    `status_delay` is how long each intermediate status stays observable, in seconds; a client that
    sends nothing for `client_timeout` seconds is disconnected."""

    def __init__(
        self,
        port: int = 0,
        s3_endpoint_url: str | None = None,
        *,
        faults: dict[str, Any] | None = None,
        status_delay: float = 0.05,
        training_workers: int = 2,
        authorizer: Authorizer | None = None,
        client_timeout: float = CLIENT_TIMEOUT,
    ) -> None:
        self._port = port
        self._client_timeout = client_timeout
        self._authorizer = authorizer
        self._s3_endpoint_url = s3_endpoint_url
        self._initial_faults = faults
        self._status_delay = status_delay
        self._training_workers = training_workers
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.faults = Faults()
        self.service: PersonalizeService | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalPersonalize is not running; call start() or use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def computing(self) -> bool:
        """Whether an import, a training or another job's real work is running now (not an injected delay)."""
        service = self.service
        return service is not None and service.computing()

    def start(self) -> LocalPersonalize:
        if self._server is not None:
            return self
        if self._initial_faults:
            self.faults.add(self._initial_faults)
        self.service = PersonalizeService(
            s3_endpoint_url=self._s3_endpoint_url,
            faults=self.faults,
            status_delay=self._status_delay,
            training_workers=self._training_workers,
            authorizer=self._authorizer,
        )
        self._server = _Server(("127.0.0.1", self._port), self.service, self._client_timeout)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="local-personalize",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end background work, close the port; returns when nothing is left running."""
        server, thread, service = self._server, self._thread, self.service
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join()
        if service is not None:
            service.shutdown()
        self._server = self._thread = None

    def __enter__(self) -> LocalPersonalize:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
