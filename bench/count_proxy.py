#!/usr/bin/env python3
"""An HTTP proxy that counts the API calls passing through it, by action, on their way to the
emulator. `GET /_count` answers the counts since the last `GET /_count` (as JSON) and resets them.

Usage: count_proxy.py UPSTREAM_URL   (prints "http://127.0.0.1:PORT" once listening)
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = urllib.parse.urlsplit(sys.argv[1])
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}
COUNTS: Counter[str] = Counter()
LOCK = threading.Lock()


def action(headers, body: bytes) -> str:
    """The API action: the query protocol's `Action=` (CloudFormation, STS) or the JSON
    protocol's `X-Amz-Target` (Organizations)."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    return fields.get("Action", ["?"])[0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/_count":
            with LOCK:
                payload = json.dumps(dict(sorted(COUNTS.items()))).encode()
                COUNTS.clear()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.forward()

    def do_POST(self) -> None:  # noqa: N802
        self.forward()

    def forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        with LOCK:
            COUNTS[action(self.headers, body)] += 1
        upstream = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=600)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        self.send_response(response.status)
        for k, v in response.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    def log_message(self, *args) -> None:
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
