"""A loopback HTTP server that plays Cloudinary's upload, download, destroy and listing API.

It checks what the real service checks: every Upload API request and download link is
signed with the API secret (SHA-256, the SDK's "version 2" string to sign, recomputed
here independently of the SDK), download links expire, and the Admin API wants the key
and secret as basic authentication. It keeps the raw bodies it received so that tests can
assert that only ciphertext ever reached it, and it can be told to fail: answer 500, or
hang past the client's timeout.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


def signature(params: dict[str, str], secret: str) -> str:
    to_sign = "&".join(
        sorted(f"{k}={v}".replace("&", "%26") for k, v in params.items() if v not in ("", None))
    )
    return hashlib.sha256((to_sign + secret).encode()).hexdigest()


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """multipart/form-data fields (by bytes, not the email parser: a 2 MB page stays fast)."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields: dict[str, bytes] = {}
    for part in body.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.partition(b"\r\n\r\n")
        match = re.search(rb'name="([^"]*)"', head)
        if match:
            fields[match.group(1).decode()] = value[:-2] if value.endswith(b"\r\n") else value
    return fields


class FakeCloudinary:
    def __init__(
        self, cloud_name="alko-test", api_key="123456789012345", api_secret="s3cr3t-api-secret"
    ):
        self.cloud_name = cloud_name
        self.api_key = api_key
        self.api_secret = api_secret
        self.assets: dict[str, bytes] = {}  # public id -> bytes as received
        self.bodies: list[bytes] = []  # every request body, raw
        self.uploads: list[str] = []  # public ids, one per accepted upload
        self.destroyed: list[tuple[str, str]] = []  # (public id, invalidate)
        self.rejected: list[str] = []  # why requests were refused
        self.mode = "ok"  # "ok", "error500", "hang"
        self.hang_seconds = 3.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- life --------------------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeCloudinary:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                fake._handle(self, "POST")

            def do_GET(self):
                fake._handle(self, "GET")

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- requests ----------------------------------------------------------------------------
    def _reply(self, handler, status: int, payload, content_type="application/json") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _refuse(self, handler, status: int, why: str) -> None:
        self.rejected.append(why)
        self._reply(handler, status, {"error": {"message": why}})

    def _signed(self, params: dict[str, str]) -> bool:
        given = params.pop("signature", "")
        key = params.pop("api_key", "")
        return key == self.api_key and given == signature(params, self.api_secret)

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        self.bodies.append(body)
        if self.mode == "hang":
            time.sleep(self.hang_seconds)
        if self.mode == "error500":
            self._reply(handler, 500, b"<html>Internal Server Error</html>", "text/html")
            return
        parts = urlsplit(handler.path)
        path = parts.path.strip("/").split("/")
        # v1_1/<cloud>/raw/upload, v1_1/<cloud>/raw/download, v1_1/<cloud>/resources/raw/...
        if len(path) < 4 or path[0] != "v1_1" or path[1] != self.cloud_name:
            self._refuse(handler, 404, "unknown path")
            return
        action = "/".join(path[2:])
        if method == "POST" and action in ("raw/upload", "raw/destroy"):
            fields = parse_multipart(handler.headers["Content-Type"], body)
            file = fields.pop("file", None)
            params = {k: v.decode() for k, v in fields.items()}
            if not self._signed(params):
                self._refuse(handler, 401, "Invalid Signature")
                return
            public_id = params["public_id"]
            if action == "raw/upload":
                if params.get("type") != "authenticated":
                    self._refuse(handler, 400, "expected type=authenticated")
                    return
                self.assets[public_id] = file or b""
                self.uploads.append(public_id)
                self._reply(
                    handler,
                    200,
                    {
                        "public_id": public_id,
                        "resource_type": "raw",
                        "type": "authenticated",
                        "bytes": len(file or b""),
                        "version": int(time.time()),
                    },
                )
            else:
                self.destroyed.append((public_id, params.get("invalidate", "")))
                found = self.assets.pop(public_id, None) is not None
                self._reply(handler, 200, {"result": "ok" if found else "not found"})
            return
        if method == "GET" and action == "raw/download":
            params = dict(parse_qsl(parts.query))
            if not self._signed(params):
                self._refuse(handler, 401, "Invalid Signature")
                return
            if int(params.get("expires_at", "0")) < time.time():
                self._refuse(handler, 401, "Link expired")
                return
            data = self.assets.get(params["public_id"])
            if data is None:
                self._refuse(handler, 404, "Resource not found")
                return
            self._reply(handler, 200, data, "application/octet-stream")
            return
        if method == "GET" and action == "resources/raw/authenticated":
            expected = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
            if handler.headers.get("Authorization") != f"Basic {expected}":
                self._refuse(handler, 401, "Invalid credentials")
                return
            query = dict(parse_qsl(parts.query))
            prefix = query.get("prefix", "")
            ids = sorted(p for p in self.assets if p.startswith(prefix))
            self._reply(handler, 200, {"resources": [{"public_id": p} for p in ids]})
            return
        self._refuse(handler, 404, f"unknown action {action}")
