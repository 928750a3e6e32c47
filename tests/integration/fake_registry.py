#!/usr/bin/env python3
"""A fake Confluent schema registry for tests, on 127.0.0.1.

Implements the part of the REST API that hirefire uses:
  GET  /schemas/ids/{id}             -> {"schema": "..."}, or 404
                                        {"error_code": 40403, "message": "Schema {id} not found"}
  POST /subjects/{subject}/versions  {"schema": "..."} -> {"id": N}; the same
                                        schema text gets the same id again;
                                        422 {"error_code": 42201, ...} when the
                                        body or schema is not JSON
and, for tests only:
  GET  /_count                       -> {"requests": N, "paths": {"GET /schemas/ids/7": 2, ...}}
                                        (every request except /_count itself)

Options:
  --port-file F       write the chosen port (a free one) to F once listening
  --schema ID=FILE    preload a schema (repeatable)
  --auth USER:PASS    require HTTP basic auth (401, error_code 40101 otherwise)
  --slow-id ID        GET /schemas/ids/ID waits 3 s before answering
  --lifetime S        exit after S seconds (default 300), so a dead test leaks nothing
  --exit-on-eof       exit when standard input reaches its end (the parent closed
                      its end of a pipe, or died)

Usable as a module too: FakeRegistry(...).start() / .stop().
"""
import argparse
import base64
import json
import os
import re
import sys
import threading
import time
from urllib.parse import unquote
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class State:
    def __init__(self, auth=None, slow_ids=()):
        self.lock = threading.Lock()
        self.schemas = {}  # id -> schema text
        self.subjects = {}  # subject -> [ids]
        self.count = 0
        self.paths = {}
        self.auth = auth
        self.slow_ids = set(slow_ids)

    def add(self, text, wanted_id=None):
        for sid, t in self.schemas.items():
            if t == text:
                return sid
        sid = wanted_id if wanted_id is not None else max(self.schemas, default=0) + 1
        self.schemas[sid] = text
        return sid


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set by FakeRegistry

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def counted(self):
        st = self.state
        key = f"{self.command} {self.path}"
        with st.lock:
            st.count += 1
            st.paths[key] = st.paths.get(key, 0) + 1

    def authorised(self):
        st = self.state
        if st.auth is None:
            return True
        want = "Basic " + base64.b64encode(st.auth.encode()).decode()
        if self.headers.get("Authorization") == want:
            return True
        self.reply(401, {"error_code": 40101, "message": "Unauthorized"})
        return False

    def do_GET(self):
        st = self.state
        if self.path == "/_count":
            with st.lock:
                self.reply(200, {"requests": st.count, "paths": dict(st.paths)})
            return
        self.counted()
        if not self.authorised():
            return
        m = re.fullmatch(r"/schemas/ids/(-?\d+)", self.path)
        if not m:
            self.reply(404, {"error_code": 404, "message": "HTTP 404 Not Found"})
            return
        sid = int(m.group(1))
        if sid in st.slow_ids:
            time.sleep(3)
        with st.lock:
            text = st.schemas.get(sid)
        if text is None:
            self.reply(404, {"error_code": 40403, "message": f"Schema {sid} not found"})
        else:
            self.reply(200, {"schema": text})

    def do_POST(self):
        st = self.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        self.counted()
        if not self.authorised():
            return
        m = re.fullmatch(r"/subjects/([^/]+)/versions", self.path)
        if not m:
            self.reply(404, {"error_code": 404, "message": "HTTP 404 Not Found"})
            return
        try:
            text = json.loads(raw)["schema"]
            json.loads(text)
        except (ValueError, KeyError, TypeError):
            self.reply(422, {"error_code": 42201, "message": "Invalid schema"})
            return
        subject = unquote(m.group(1))
        with st.lock:
            sid = st.add(text)
            ids = st.subjects.setdefault(subject, [])
            if sid not in ids:
                ids.append(sid)
        self.reply(200, {"id": sid})


class FakeRegistry:
    def __init__(self, auth=None, slow_ids=()):
        self.state = State(auth=auth, slow_ids=slow_ids)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file")
    ap.add_argument("--schema", action="append", default=[], metavar="ID=FILE")
    ap.add_argument("--auth")
    ap.add_argument("--slow-id", action="append", type=int, default=[])
    ap.add_argument("--lifetime", type=float, default=300)
    ap.add_argument("--exit-on-eof", action="store_true")
    args = ap.parse_args()
    reg = FakeRegistry(auth=args.auth, slow_ids=args.slow_id)
    for spec in args.schema:
        sid, path = spec.split("=", 1)
        with open(path, encoding="utf-8") as f:
            reg.state.add(f.read(), int(sid))
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{reg.port}\n")
        os.replace(tmp, args.port_file)
    timer = threading.Timer(args.lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    if args.exit_on_eof:
        def watch():
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    try:
        reg.server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
