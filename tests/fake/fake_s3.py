#!/usr/bin/python3
"""A small fake S3 for Kartograf's tests: PUT/GET/HEAD/DELETE Object, path-style
(http://127.0.0.1:PORT/<bucket>/<key>), every request's AWS Signature
Version 4 checked by sigv4_verify.py (S3 rules: the path encoded once,
x-amz-content-sha256 signed and matching the body).  A bad signature gets
403 SignatureDoesNotMatch and nothing is stored, as on AWS.  Objects are
files under --dir/<bucket>/<key>.  Python 3 standard library only.

    fake_s3.py --dir DIR --bucket B --access-key AK --secret-key SK
               [--port 0] [--port-file FILE]

GET /_fake/log returns the requests seen so far as JSON lines
(method, path, status, reason) so tests can check what was refused.

A plan makes the fake slow or failing, for the PUTs whose path contains
"match" (default: every PUT), after their signature was checked:
    POST /_fake/plan {"match": "exports/", "hold": true}
        each such PUT waits (the client sees no answer) until
        POST /_fake/release, or "hold_max_s" (default 60) seconds
    POST /_fake/plan {"delay_ms": 500}      each such PUT answers late
    POST /_fake/plan {"fail": [503, 500]}   the next such PUTs answer
        these statuses in turn (InternalError / SlowDown), nothing stored
    POST /_fake/plan {}                      back to normal (and release)
GET /_fake/pending says how many PUTs are being held or delayed now
({"pending": n}), so a test can wait for a PUT to be in flight.
"""
import argparse
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4_verify  # noqa: E402

LOG = []
LOCK = threading.Lock()
PLAN = {}                 # the current plan (see the docstring)
RELEASE = threading.Event()
PENDING = [0]


def error_xml(code, message):
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
            "<Message>%s</Message></Error>" % (code, message.replace("&", "&amp;")
                                                .replace("<", "&lt;"))).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeS3/1"

    def log_message(self, fmt, *args):  # quiet: the test log is enough
        pass

    def _answer(self, status, body=b"", ctype="application/xml", reason="ok"):
        with LOCK:
            LOG.append({"method": self.command, "path": self.path,
                        "status": status, "reason": reason.splitlines()[0] if reason else ""})
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if status == 200 and self.command in ("PUT",):
            self.send_header("ETag", '"fake"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _object_path(self):
        raw = self.path.split("?", 1)[0]
        parts = raw.lstrip("/").split("/", 1)
        if len(parts) != 2 or parts[0] != self.server.bucket or not parts[1]:
            return None, "NoSuchBucket"
        key = urllib.parse.unquote(parts[1])
        segs = key.split("/")
        if any(s in ("", ".", "..") for s in segs) or "\\" in key or "\0" in key:
            return None, "InvalidKey"
        return os.path.join(self.server.root, self.server.bucket, *segs), None

    def _json(self, obj):
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _control(self, body):
        """The test's knobs: True when the request was one of them."""
        if self.path == "/_fake/plan" and self.command == "POST":
            plan = json.loads(body or b"{}")
            with LOCK:
                PLAN.clear()
                PLAN.update(plan)
                PLAN["fail"] = list(plan.get("fail", []))
                if plan.get("hold"):
                    RELEASE.clear()
                else:
                    RELEASE.set()
            self._json({"ok": True})
        elif self.path == "/_fake/release" and self.command == "POST":
            with LOCK:
                PLAN.pop("hold", None)
                RELEASE.set()
            self._json({"ok": True})
        elif self.path == "/_fake/pending" and self.command == "GET":
            with LOCK:
                self._json({"pending": PENDING[0]})
        else:
            return False
        return True

    def _planned(self):
        """A planned failure status for this PUT (None: store it), after
        its planned wait."""
        with LOCK:
            if self.command != "PUT" or PLAN.get("match", "") not in self.path:
                return None
            hold, delay = PLAN.get("hold"), PLAN.get("delay_ms", 0)
            status = PLAN["fail"].pop(0) if PLAN.get("fail") else None
            PENDING[0] += 1
        try:
            if hold:
                RELEASE.wait(PLAN.get("hold_max_s", 60))
            elif delay:
                time.sleep(delay / 1000.0)
        finally:
            with LOCK:
                PENDING[0] -= 1
        return status

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/_fake/") and self._control(body):
            return
        if self.path == "/_fake/log" and self.command == "GET":
            with LOCK:
                data = "".join(json.dumps(e) + "\n" for e in LOG).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        ok, reason = sigv4_verify.verify(
            self.command, self.path, None, self.headers, body,
            {self.server.access_key: self.server.secret_key}.get, True)
        if not ok:
            code = ("InvalidAccessKeyId" if "unknown" in reason.lower()
                    else "SignatureDoesNotMatch")
            return self._answer(403, error_xml(code, reason), reason=reason)
        path, problem = self._object_path()
        if problem:
            return self._answer(404 if problem == "NoSuchBucket" else 400,
                                error_xml(problem, self.path), reason=problem)
        failing = self._planned()
        if failing:
            code = "SlowDown" if failing == 503 else "InternalError"
            return self._answer(failing, error_xml(code, "planned failure"),
                                reason=code)
        if self.command == "PUT":
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".part"
            with open(tmp, "wb") as f:
                f.write(body)
            os.replace(tmp, path)
            return self._answer(200, b"")
        if self.command == "DELETE":
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
            return self._answer(204, b"")
        if not os.path.isfile(path):
            return self._answer(404, error_xml("NoSuchKey", "no such key"),
                                reason="NoSuchKey")
        with open(path, "rb") as f:
            data = f.read()
        return self._answer(200, data, "application/octet-stream")

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _handle


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.root, srv.bucket = a.dir, a.bucket
    srv.access_key, srv.secret_key = a.access_key, a.secret_key
    os.makedirs(os.path.join(a.dir, a.bucket), exist_ok=True)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.replace(tmp, a.port_file)
    print("fake S3 on 127.0.0.1:%d, bucket %s" % (srv.server_address[1], a.bucket),
          flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
