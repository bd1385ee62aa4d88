#!/usr/bin/python3
"""Fake LLM server for Kartograf's tests: Bedrock, Azure OpenAI, OpenAI.

Speaks, on loopback, the three protocols the worker's network providers use:

  POST /model/{modelId}/invoke                     AWS Bedrock InvokeModel
       SigV4 (verified by tests/fake/sigv4_verify.py, written from AWS's
       rules, not from the C signer) or "Authorization: Bearer <api key>".
       A bad signature -> 403 {"message": "The request signature we
       calculated does not match..."} + x-amzn-ErrorType:
       InvalidSignatureException, as AWS answers.
  POST /openai/deployments/{dep}/chat/completions?api-version=...
       Azure OpenAI; the api-key header must be AZURE_KEY (else 401).
  POST {anything}/chat/completions                 OpenAI-compatible;
       bearer key checked only when started with --openai-key.

Answers are realistic for each pipeline stage, derived from the prompt:
the section keys and word ranges come from the prompt's section list
("- key (Title, 60-180 słów): ..."), so the worker's stage validation
(lib/kg_stage.c) accepts them: plan -> {"facts", "outline"}, draft and
polish -> {"sections": {key: Polish text within the range}}.

Fault scripts, per provider, set by the test:
  POST /__script {"bedrock": [step, ...] | {"steps": [...], "then": step},
                  "azure": ..., "openai": ...}
Each request takes the provider's next step; when the steps run out it
uses "then" (default: a normal answer).  A step is an object with any of:
  {"latency_ms": 300}               answer after a delay
  {"status": 429, "retry_after": 1} (or 500, 503, 400, ...) an error answer;
  {"retry_after_ms": 800}           Azure's header, with a status
  {"hang": 5}                       send nothing for 5 s, then close
  {"truncate": true}                200 whose body stops half-way
  {"invalid_json": true}            200 with a body that is not JSON
  {"missing_section": "risks"}      valid JSON without that section
  {"english": true}                 sections in English
  {"usage": [1000, 500]}            the usage block's token counts
POST /__reset clears scripts and the log; GET /__log returns
{"requests": [{"provider", "t_start", "t_end", "status", "stage", "step",
"path", "auth", "model"}, ...]} (times: time.time()); GET /__health.

Test credentials (fixed): AWS access key AKIDKARTOGRAFTEST with secret
SECRET_KEY below, Bedrock API key BEDROCK_API_KEY, Azure key AZURE_KEY.

Usage: fake_llm.py [--port 0] [--port-file F] [--latency-ms 0]
                   [--openai-key KEY]
Latencies (--latency-ms plus a step's) count from the request's arrival:
the fake's own work (SigV4, the answer) is inside them, not added.
Python 3 standard library only.
"""
import argparse
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4_verify  # noqa: E402

ACCESS_KEY = "AKIDKARTOGRAFTEST"
SECRET_KEY = "kartograf/fake+secret/EXAMPLEKEY0123456789"
BEDROCK_API_KEY = "kartograf-fake-bedrock-api-key"
AZURE_KEY = "kartograf-fake-azure-key"

DEFAULT_SECTIONS = [("summary", 60, 180), ("objectives", 80, 300),
                    ("target_group", 60, 250), ("activities", 100, 350),
                    ("schedule", 40, 200), ("budget", 40, 200),
                    ("outcomes", 60, 250), ("risks", 40, 200)]
SPEC_RE = re.compile(r"^- ([a-z_][a-z0-9_]*) \((.+?), (\d+)-(\d+) s\u0142\u00f3w\)",
                     re.M)

POLISH = [
    "Projekt „{name}” odpowiada na potrzeby zgłaszane przez mieszkańców "
    "i został zaplanowany z myślą o trwałych efektach.",
    "Wnioskodawca ma doświadczenie w prowadzeniu podobnych działań oraz "
    "współpracuje z lokalnymi instytucjami i organizacjami.",
    "Działania będą prowadzone w przystępnej formie, tak aby mogły z nich "
    "skorzystać także osoby o ograniczonych możliwościach.",
    "Zespół projektu będzie na bieżąco zbierał opinie uczestników i "
    "dostosowywał sposób pracy do ich oczekiwań.",
    "Rezultaty zostaną upowszechnione wśród partnerów, dzięki czemu dobre "
    "praktyki posłużą również innym społecznościom.",
    "Przebieg realizacji będzie dokumentowany, a postęp prac regularnie "
    "sprawdzany przez koordynatora projektu.",
    "Szczególna uwaga zostanie zwrócona na jakość zajęć, bezpieczeństwo "
    "uczestników i przejrzystość wydatków.",
]
ENGLISH = [
    "The project {name} will address the needs of the local community "
    "and is designed with lasting results in mind.",
    "The applicant has experience with similar activities and works "
    "with local institutions and organisations.",
    "The team will collect feedback from the participants and adapt "
    "the work to their expectations.",
    "The results will be shared with partners so that good practice "
    "is available to other communities as well.",
]


def section_specs(prompt):
    found = [(m.group(1), int(m.group(3)), int(m.group(4)))
             for m in SPEC_RE.finditer(prompt)]
    return found or DEFAULT_SECTIONS


def project_name(prompt):
    marker = "Dane projektu (JSON):"
    i = prompt.find(marker)
    if i >= 0:
        j = prompt.find("{", i)
        try:
            obj, _ = json.JSONDecoder().raw_decode(prompt[j:])
            name = obj.get("name")
            if isinstance(name, str) and "{" not in name and "}" not in name:
                return name
        except ValueError:
            pass
    return "Nasz projekt"


def stage_of(prompt):
    # The draft and polish prompts quote the earlier stages' output, so
    # look at the instructions of sql/003_generation.sql, not at JSON keys.
    if "Zredaguj" in prompt:
        return "polish"
    if "Przygotuj plan" in prompt:
        return "plan"
    return "draft"


def text_of(words_wanted, pool, name):
    out, n, i = [], 0, 0
    while n < words_wanted:
        s = pool[i % len(pool)].format(name=name)
        out.append(s)
        n += len(s.split())
        i += 1
    return " ".join(out)


def make_answer(prompt, step):
    stage = stage_of(prompt)
    specs = section_specs(prompt)
    name = project_name(prompt)
    if stage == "plan":
        body = {"facts": {"name": name},
                "outline": {k: ["Najważniejsze tezy sekcji", "Fakty z danych"]
                            for k, _, _ in specs}}
        return stage, json.dumps(body, ensure_ascii=False)
    pool = ENGLISH if step.get("english") else POLISH
    sections = {k: text_of((lo + hi) // 2, pool, name) for k, lo, hi in specs}
    missing = step.get("missing_section")
    if missing:
        sections.pop(missing if missing in sections else specs[-1][0], None)
    return stage, json.dumps({"sections": sections}, ensure_ascii=False)


class State:
    def __init__(self, latency_ms, openai_key):
        self.lock = threading.Lock()
        self.scripts = {}
        self.log = []
        self.latency_ms = latency_ms
        self.openai_key = openai_key

    def next_step(self, provider):
        with self.lock:
            sc = self.scripts.get(provider)
            if not sc:
                return {}
            if sc["steps"]:
                return sc["steps"].pop(0)
            return dict(sc["then"])

    def set_scripts(self, obj):
        with self.lock:
            for provider, sc in obj.items():
                if isinstance(sc, list):
                    sc = {"steps": sc, "then": {}}
                self.scripts[provider] = {"steps": list(sc.get("steps", [])),
                                          "then": sc.get("then", {}) or {}}

    def record(self, entry):
        with self.lock:
            self.log.append(entry)


STATE = None


def wait_until(t):
    """Sleep until time.time() reaches t (at once if it has)."""
    left = t - time.time()
    if left > 0:
        time.sleep(left)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeLLM/1.0"
    # headers and body go out in two writes: without TCP_NODELAY, Nagle plus
    # the client's delayed ACK add ~40 ms to every keep-alive answer
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: tests read /__log
        pass

    # ------------------------------------------------------------ replies
    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_raw(status, data, headers)

    def send_raw(self, status, data, headers=None, declared_len=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(declared_len if declared_len is not None
                                               else len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ------------------------------------------------------------ routing
    def do_GET(self):
        if self.path == "/__log":
            with STATE.lock:
                entries = list(STATE.log)
            self.send_json(200, {"requests": entries})
        elif self.path == "/__health":
            self.send_json(200, {"ok": True})
        else:
            self.send_json(404, {"message": "not found"})

    def do_POST(self):
        t_start = time.time()
        body = self.read_body()
        path, _, query = self.path.partition("?")
        if path == "/__script":
            STATE.set_scripts(json.loads(body or b"{}"))
            return self.send_json(200, {"ok": True})
        if path == "/__reset":
            with STATE.lock:
                STATE.scripts.clear()
                STATE.log.clear()
            return self.send_json(200, {"ok": True})
        m = re.fullmatch(r"/model/([^/]+)/invoke", path)
        if m:
            return self.serve("bedrock", urllib.parse.unquote(m.group(1)), path, query,
                              body, t_start)
        m = re.fullmatch(r"/openai/deployments/([^/]+)/chat/completions", path)
        if m:
            return self.serve("azure", urllib.parse.unquote(m.group(1)), path, query,
                              body, t_start)
        if path.endswith("/chat/completions"):
            return self.serve("openai", None, path, query, body, t_start)
        self.send_json(404, {"message": "unknown route %s" % path})

    # ------------------------------------------------------------ auth
    def check_auth(self, provider, path, query, body):
        """None when allowed, else (status, json body, headers, auth kind)."""
        auth = self.headers.get("Authorization") or ""
        if provider == "bedrock":
            if auth.startswith("Bearer "):
                if auth[7:] == BEDROCK_API_KEY:
                    return None, "bearer"
                return (403, {"message": "Invalid API Key format: Must start with "
                              "pre-defined prefix"},
                        {"x-amzn-ErrorType": "UnrecognizedClientException:"}), "bearer"
            ok, reason = sigv4_verify.verify(
                "POST", path, query, self.headers, body,
                {ACCESS_KEY: SECRET_KEY}.get, False, service="bedrock")
            if ok:
                return None, "sigv4"
            etype = "InvalidSignatureException"
            if "security token" in reason:
                etype = "UnrecognizedClientException"
            return (403, {"message": reason},
                    {"x-amzn-ErrorType": etype + ":http://internal.amazon.com/"
                     "coral/com.amazon.coral.service/"}), "sigv4"
        if provider == "azure":
            if "api-version=" not in (query or ""):
                return (404, {"error": {"code": "404", "message": "Resource not found"}},
                        {}), "api-key"
            if self.headers.get("api-key") != AZURE_KEY:
                return (401, {"error": {"code": "401", "message":
                              "Access denied due to invalid subscription key or wrong "
                              "API endpoint. Make sure to provide a valid key for an "
                              "active subscription and use a correct regional API "
                              "endpoint for your resource."}}, {}), "api-key"
            return None, "api-key"
        if STATE.openai_key and auth != "Bearer " + STATE.openai_key:
            return (401, {"error": {"message": "Incorrect API key provided",
                                    "type": "invalid_request_error",
                                    "code": "invalid_api_key"}}, {}), "bearer"
        return None, "bearer" if auth else "none"

    # ------------------------------------------------------------ answers
    @staticmethod
    def error_body(provider, status):
        msg = {429: "Too many requests, please wait before trying again.",
               500: "The server had an error while processing your request.",
               503: "The service is temporarily unavailable."}.get(status, "Error")
        if provider == "bedrock":
            return {"message": msg}
        return {"error": {"code": str(status), "message": msg}}

    @staticmethod
    def ok_body(provider, model, text, tin, tout):
        if provider == "bedrock":
            return {"id": "msg_fake", "type": "message", "role": "assistant",
                    "model": "claude-3-5-sonnet-20240620",
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": tin, "output_tokens": tout}}
        return {"id": "chatcmpl-fake", "object": "chat.completion",
                "created": int(time.time()), "model": model or "gpt-4",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": tin, "completion_tokens": tout,
                          "total_tokens": tin + tout}}

    def serve(self, provider, model, path, query, body, t_start):
        entry = {"provider": provider, "t_start": t_start, "path": path,
                 "model": model, "stage": None, "step": {}}
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        prompt = ""
        msgs = req.get("messages") or []
        if msgs:
            content = msgs[-1].get("content", "")
            if isinstance(content, list):
                content = " ".join(c.get("text", "") for c in content
                                   if isinstance(c, dict))
            prompt = content if isinstance(content, str) else ""
        if provider == "openai":
            entry["model"] = model = req.get("model")
        denied, entry["auth"] = self.check_auth(provider, path, query, body)
        if denied:
            status, obj, headers = denied
            entry.update(status=status, t_end=time.time(), error=obj)
            STATE.record(entry)
            return self.send_json(status, obj, headers)

        step = STATE.next_step(provider)
        entry["step"] = step
        entry["stage"] = stage_of(prompt)
        # the latency counts from the request's arrival (t_start): the
        # fake's own work (reading the body, SigV4, the answer) is inside
        # it, as a real service's is, not added to it
        deadline = t_start + (STATE.latency_ms + int(step.get("latency_ms", 0))) / 1000.0
        if step.get("hang"):
            wait_until(deadline)
            entry.update(status=0, t_end=time.time())
            STATE.record(entry)
            time.sleep(float(step["hang"]))
            self.close_connection = True
            return
        status = int(step.get("status", 200))
        if status != 200:
            wait_until(deadline)
            headers = {}
            if "retry_after" in step:
                headers["Retry-After"] = step["retry_after"]
            if "retry_after_ms" in step:
                headers["retry-after-ms"] = step["retry_after_ms"]
            if provider == "bedrock" and status == 429:
                headers["x-amzn-ErrorType"] = "ThrottlingException:"
            entry.update(status=status, t_end=time.time())
            STATE.record(entry)
            return self.send_json(status, self.error_body(provider, status), headers)
        if step.get("invalid_json"):
            wait_until(deadline)
            entry.update(status=200, t_end=time.time())
            STATE.record(entry)
            return self.send_raw(200, b'{"id": "x", "content": [{"type": "text", "te')
        _, text = make_answer(prompt, step)
        usage = step.get("usage") or [max(1, len(prompt) // 4), max(1, len(text) // 4)]
        data = json.dumps(self.ok_body(provider, model, text, int(usage[0]), int(usage[1])),
                          ensure_ascii=False).encode("utf-8")
        wait_until(deadline)
        entry.update(status=200, t_end=time.time(), usage=usage)
        STATE.record(entry)
        if step.get("truncate"):
            self.close_connection = True
            return self.send_raw(200, data[: len(data) // 2], declared_len=len(data))
        self.send_raw(200, data)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # a client that timed out and closed (hang, truncate) is normal here
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main(argv):
    global STATE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--openai-key")
    a = ap.parse_args(argv)
    STATE = State(a.latency_ms, a.openai_key)
    srv = Server((a.host, a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, a.port_file)
    print("fake_llm listening on http://%s:%d" % (a.host, port), flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
