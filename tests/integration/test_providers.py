"""LLM providers, failover, circuit breaker and cost (issue 6).

Every test starts its own fake LLM server (tests/fake/fake_llm.py: Bedrock
with SigV4 verification, Azure OpenAI, OpenAI-compatible) on a free port,
scripts its faults, stops the stack's worker and runs workers of its own
whose providers point at the fake (KARTOGRAF_* overrides; the stack's
worker is restarted afterwards).  Assertions use the fake's request log
(attempts, timing of the back-off), ai_calls, the projects, the breaker
hashes in Redis and the workers' logs.
"""
import re
import json
import os
import subprocess
import time
import uuid

import kgtest  # noqa: E402


HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(os.path.dirname(HERE), "fake", "fake_llm.py")
ACCESS_KEY = "AKIDKARTOGRAFTEST"
SECRET_KEY = "kartograf/fake+secret/EXAMPLEKEY0123456789"
BEDROCK_API_KEY = "kartograf-fake-bedrock-api-key"
AZURE_KEY = "kartograf-fake-azure-key"
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
PRICES = f"{MODEL}=0.003:0.015, gpt-4=0.03:0.06, llama3=0.0001:0.0002"
BREAKER_KEYS = ["kg:breaker:bedrock", "kg:breaker:azure", "kg:breaker:openai",
                "kg:breaker:bedrock:probe", "kg:breaker:azure:probe", "kg:breaker:openai:probe"]


class Fake:
    """The fake LLM server, one per test."""

    def __init__(self, ctx, *args):
        self.ctx = ctx
        tag = uuid.uuid4().hex[:8]
        port_file = os.path.join(ctx.tmpdir, f"fake-{tag}.port")
        self.log_path = os.path.join(ctx.tmpdir, f"fake-{tag}.log")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["/usr/bin/python3", FAKE, "--port-file", port_file, *args],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        port = ctx.wait_until(lambda: os.path.exists(port_file) and open(port_file).read().strip(),
                              timeout=10, what="fake LLM server")
        self.url = f"http://127.0.0.1:{port}"

    def script(self, **scripts):
        r = self.ctx.request(self.url, "POST", "/__script", scripts)
        assert r.status == 200, r

    def requests(self, provider=None):
        r = self.ctx.request(self.url, "GET", "/__log")
        assert r.status == 200, r
        reqs = r.json()["requests"]
        return [q for q in reqs if provider is None or q["provider"] == provider]

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        with open(self.log_path, errors="replace") as f:
            text = f.read()
        assert "Traceback" not in text, f"fake server failed: {text[-2000:]}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _env(fake, **over):
    e = {
        "KARTOGRAF_AI_PROVIDERS": "bedrock,azure",
        "KARTOGRAF_AI_PRICES": PRICES,
        "KARTOGRAF_AI_RETRY_BASE_MS": "200",
        "KARTOGRAF_AI_RETRY_MAX_MS": "400",
        "KARTOGRAF_AI_TIMEOUT_MS": "1500",
        "KARTOGRAF_AI_CONNECT_TIMEOUT_MS": "1000",
        "KARTOGRAF_AI_BREAKER_COOLDOWN_MS": "60000",
        "KARTOGRAF_BEDROCK_ENDPOINT": fake.url,
        "KARTOGRAF_BEDROCK_REGION": "eu-central-1",
        "KARTOGRAF_BEDROCK_ACCESS_KEY_ID": ACCESS_KEY,
        "KARTOGRAF_BEDROCK_SECRET_ACCESS_KEY": SECRET_KEY,
        "KARTOGRAF_AZURE_ENDPOINT": fake.url,
        "KARTOGRAF_AZURE_API_KEY": AZURE_KEY,
        "KARTOGRAF_AZURE_DEPLOYMENT": "gpt4-prod",
    }
    e.update(over)
    return e


def _reset_breakers(ctx):
    ctx.redis("DEL", *BREAKER_KEYS)


def _breaker(ctx, provider):
    raw = ctx.redis("--raw", "HGETALL", f"kg:breaker:{provider}").splitlines()
    return dict(zip(raw[0::2], raw[1::2]))


def _run(ctx, user, n, timeout=40, cap=None):
    """A batch of n projects generated to its end; returns (batch, projects)."""
    batch, projects = kgtest.db_batch(ctx, user, n)
    if cap is not None:
        ctx.psql(f"UPDATE batches SET cost_cap = {cap} WHERE id = '{batch}'")
    r = kgtest.post_generate(ctx, ctx.servers["lighttpd"], user, batch)
    assert r.status == 202 and r.json() == {"queued": n}, r
    kgtest.wait_batch_done(ctx, batch, timeout=timeout)
    return batch, projects


def _calls(ctx, batch, provider=None, stage=None):
    """ai_calls rows of a batch in order: dicts."""
    where = f"batch_id = '{batch}'"
    if provider:
        where += f" AND provider = '{provider}'"
    if stage:
        where += f" AND stage = '{stage}'"
    out = ctx.psql("SELECT row_to_json(c) FROM (SELECT provider, model, stage, attempt, tokens_in, "
                   "tokens_out, cost::float8 AS cost, latency_ms, outcome, fallback, error, project_id "
                   f"FROM ai_calls WHERE {where} ORDER BY id) c")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _api_cost(ctx, user, batch):
    r = ctx.request(ctx.servers["apache"], "GET", f"/api/batches/{batch}",
                    headers={"Authorization": "Bearer " + user["token"]})
    assert r.status == 200, r
    return float(r.json()["cost"])


def _db_cost(ctx, batch):
    return float(ctx.psql(f"SELECT coalesce(sum(cost), 0) FROM ai_calls WHERE batch_id = '{batch}'"))


def _projects(ctx, batch):
    out = ctx.psql(f"SELECT status, coalesce(provider, ''), coalesce(error, '') FROM projects "
                   f"WHERE batch_id = '{batch}' ORDER BY row_number")
    return [line.split("|", 2) for line in out.splitlines() if line.strip()]


# ------------------------------------------------------------------ tests

def test_providers_bedrock_signed_end_to_end(ctx):
    user = kgtest.worker_user(ctx)
    _reset_breakers(ctx)
    try:
        with Fake(ctx) as fake, kgtest.own_workers(ctx) as ws:
            fake.script(bedrock={"steps": [], "then": {"usage": [1000, 500]}})
            w = ws.start("prov-ok", _env(fake, KARTOGRAF_BEDROCK_SESSION_TOKEN="FQoGZXIvYXdzEXAMPLEtoken"))
            batch, _ = _run(ctx, user, 1)
            assert _projects(ctx, batch) == [["COMPLETED", "bedrock", ""]], _projects(ctx, batch)
            assert ctx.psql(f"SELECT DISTINCT s.provider FROM sections s JOIN projects p ON p.id = s.project_id "
                            f"WHERE p.batch_id = '{batch}'").split() == ["bedrock"]
            calls = _calls(ctx, batch)
            assert [(c["stage"], c["attempt"], c["outcome"], c["fallback"]) for c in calls] == [
                ("plan", 1, "ok", False), ("draft", 1, "ok", False), ("polish", 1, "ok", False)], calls
            for c in calls:
                assert c["model"] == MODEL and (c["tokens_in"], c["tokens_out"]) == (1000, 500), c
                assert abs(c["cost"] - 0.0105) < 1e-9, c
            # signed requests, the model id's ':' on the wire as %3A
            reqs = fake.requests("bedrock")
            assert [(q["status"], q["auth"], q["stage"]) for q in reqs] == [
                (200, "sigv4", "plan"), (200, "sigv4", "draft"), (200, "sigv4", "polish")], reqs
            assert all(q["path"] == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke"
                       for q in reqs), reqs
            assert fake.requests("azure") == []
            # the cost rows add up to the batch total of the API
            assert abs(_api_cost(ctx, user, batch) - 0.0315) < 1e-9
            assert abs(_db_cost(ctx, batch) - 0.0315) < 1e-9
            assert _breaker(ctx, "bedrock").get("state", "closed") == "closed"
            log = kgtest.proc_log(w)
            assert SECRET_KEY not in log and "FQoGZXIvYXdzEXAMPLEtoken" not in log
            kgtest.stop_proc(w)
    finally:
        kgtest.drop_worker_user(ctx, user)


def test_providers_rate_limit_honours_retry_after(ctx):
    user = kgtest.worker_user(ctx)
    _reset_breakers(ctx)
    try:
        with Fake(ctx) as fake, kgtest.own_workers(ctx) as ws:
            fake.script(bedrock=[{"status": 429, "retry_after": 1}])
            w = ws.start("prov-429", _env(fake))
            batch, _ = _run(ctx, user, 1)
            assert _projects(ctx, batch)[0][:2] == ["COMPLETED", "bedrock"]
            plan = _calls(ctx, batch, stage="plan")
            assert [(c["attempt"], c["outcome"]) for c in plan] == [(1, "rate_limited"), (2, "ok")], plan
            assert "HTTP 429 ThrottlingException" in plan[0]["error"], plan[0]
            reqs = fake.requests("bedrock")
            assert [q["status"] for q in reqs[:2]] == [429, 200], reqs
            gap = reqs[1]["t_start"] - reqs[0]["t_end"]
            assert gap >= 0.95, f"Retry-After: 1 not honoured, next attempt after {gap:.3f}s"
            assert gap < 2.0, f"waited too long: {gap:.3f}s"
            assert _breaker(ctx, "bedrock").get("failures", "0") == "0"
            kgtest.stop_proc(w)
    finally:
        kgtest.drop_worker_user(ctx, user)


def test_providers_5xx_backoff_breaker_opens_fallback_to_azure(ctx):
    user = kgtest.worker_user(ctx)
    _reset_breakers(ctx)
    try:
        with Fake(ctx) as fake, kgtest.own_workers(ctx) as ws:
            fake.script(bedrock={"steps": [{"status": 500}], "then": {"status": 503}})
            w = ws.start("prov-503", _env(fake))
            batch, _ = _run(ctx, user, 1)
            assert _projects(ctx, batch) == [["COMPLETED", "azure", ""]], _projects(ctx, batch)
            # three attempts on Bedrock, with full-jitter back-off: at most
            # base (200 ms), then at most min(max 400, 2 x base) between them.
            # The delays chosen are the worker's log; the fake saw the worker
            # wait at least that long (an upper bound on the wall-clock gap
            # would measure the machine's load, not the back-off)
            reqs = fake.requests("bedrock")
            assert [q["status"] for q in reqs] == [500, 503, 503], reqs
            delays = [int(d) for d in re.findall(
                r"\(bedrock\): HTTP 50[03][^\n]*; again in (\d+) ms", kgtest.proc_log(w))]
            assert len(delays) == 2 and delays[0] <= 200 and delays[1] <= 400, delays
            gaps = [reqs[i + 1]["t_start"] - reqs[i]["t_end"] for i in range(2)]
            assert all(g >= d / 1000 - 0.005 for g, d in zip(gaps, delays)), (gaps, delays)
            # the breaker opened after the third failure: visible in Redis and the log
            b = _breaker(ctx, "bedrock")
            assert b.get("state") == "open" and b.get("failures") == "3", b
            assert int(b["opened_at"]) > (time.time() - 60) * 1000, b
            assert "breaker bedrock: closed -> open after 3 consecutive failures" in kgtest.proc_log(w)
            # Azure took over: the plan's 4th call and the later stages, flagged as fallback;
            # Bedrock was not called again while the breaker is open
            calls = _calls(ctx, batch)
            got = [(c["provider"], c["stage"], c["attempt"], c["outcome"], c["fallback"]) for c in calls]
            assert got == [("bedrock", "plan", 1, "error", False), ("bedrock", "plan", 2, "error", False),
                           ("bedrock", "plan", 3, "error", False), ("azure", "plan", 1, "ok", True),
                           ("azure", "draft", 1, "ok", True), ("azure", "polish", 1, "ok", True)], got
            assert calls[1]["error"].startswith("HTTP 503"), calls[1]
            assert all(c["model"] == "gpt-4" for c in calls[3:]), calls
            assert [q["path"] for q in fake.requests("azure")] == [
                "/openai/deployments/gpt4-prod/chat/completions"] * 3
            assert "skipped (circuit open)" in kgtest.proc_log(w)
            assert abs(_api_cost(ctx, user, batch) - _db_cost(ctx, batch)) < 1e-9
            assert _db_cost(ctx, batch) > 0
            kgtest.stop_proc(w)
    finally:
        _reset_breakers(ctx)
        kgtest.drop_worker_user(ctx, user)


def test_providers_timeout_truncated_invalid_json(ctx):
    user = kgtest.worker_user(ctx)
    _reset_breakers(ctx)
    try:
        with Fake(ctx) as fake, kgtest.own_workers(ctx) as ws:
            fake.script(bedrock=[{"hang": 3}, {"truncate": True}, {"invalid_json": True}])
            w = ws.start("prov-faults", _env(fake))
            batch, _ = _run(ctx, user, 1)
            assert _projects(ctx, batch)[0][:2] == ["COMPLETED", "azure"]
            plan = _calls(ctx, batch, provider="bedrock", stage="plan")
            assert [(c["attempt"], c["outcome"]) for c in plan] == [
                (1, "timeout"), (2, "error"), (3, "error")], plan
            assert "no complete answer within 1500 ms" in plan[0]["error"], plan[0]
            assert 1400 <= plan[0]["latency_ms"] <= 2500, plan[0]
            assert "partial" in plan[1]["error"].lower(), plan[1]
            assert "invalid JSON" in plan[2]["error"], plan[2]
            assert _breaker(ctx, "bedrock").get("state") == "open"
            assert [c["provider"] for c in _calls(ctx, batch)][3:] == ["azure"] * 3
            kgtest.stop_proc(w)
    finally:
        _reset_breakers(ctx)
        kgtest.drop_worker_user(ctx, user)


def test_providers_invalid_output_is_a_failed_attempt(ctx):
    user = kgtest.worker_user(ctx)
    _reset_breakers(ctx)
    try:
        with Fake(ctx) as fake, kgtest.own_workers(ctx) as ws:
            # plan fine; the draft misses a section, then comes in English, then right
            fake.script(bedrock=[{}, {"missing_section": "risks"}, {"english": True}])
            w = ws.start("prov-invalid", _env(fake))
            batch, _ = _run(ctx, user, 1)
            assert _projects(ctx, batch)[0][:2] == ["COMPLETED", "bedrock"]
            draft = _calls(ctx, batch, stage="draft")
            assert [(c["provider"], c["attempt"], c["outcome"]) for c in draft] == [
                ("bedrock", 1, "invalid_output"), ("bedrock", 2, "invalid_output"),
                ("bedrock", 3, "ok")], draft
            assert "risks" in draft[0]["error"] and "not Polish" in draft[1]["error"], draft
            # we paid for the invalid answers: they carry tokens and cost
            assert draft[0]["tokens_out"] > 0 and draft[0]["cost"] > 0, draft[0]
            # a healthy service that answered badly does not trip the breaker
            assert _breaker(ctx, "bedrock").get("state", "closed") == "closed"
            assert fake.requests("azure") == []
            kgtest.stop_proc(w)
    finally:
        kgtest.drop_worker_user(ctx, user)


def test_providers_all_fail_then_retry_half_open(ctx):
    user = kgtest.worker_user(ctx)
    _reset_breakers(ctx)
    try:
        with Fake(ctx) as fake, kgtest.own_workers(ctx) as ws:
            fake.script(bedrock={"then": {"status": 500}}, azure={"then": {"status": 503}})
            w = ws.start("prov-allfail", _env(fake, KARTOGRAF_AI_BREAKER_COOLDOWN_MS="2500",
                                             KARTOGRAF_AI_RETRY_BASE_MS="50"))
            batch, projects = _run(ctx, user, 2)
            rows = _projects(ctx, batch)
            assert [r[0] for r in rows] == ["FAILED", "FAILED"], rows
            for status, provider, error in rows:
                assert error.startswith("plan: all AI providers failed: bedrock: "), error
                assert "; azure: " in error, error
            assert all("bedrock: HTTP 500: The server had an error" in r[2] for r in rows), rows
            assert any("HTTP 503" in r[2] for r in rows), rows
            assert kgtest.batch_status(ctx, batch) == "PARTIAL"
            assert _breaker(ctx, "bedrock")["state"] == "open"
            assert _breaker(ctx, "azure")["state"] == "open"
            opened = time.time()
            # the providers recover; after the cool-down a retry probes and closes the breakers
            fake.script(bedrock={"then": {}}, azure={"then": {}})
            time.sleep(max(0.0, 2.6 - (time.time() - opened)))
            r = kgtest.post_generate(ctx, ctx.servers["lighttpd"], user, batch)
            assert r.status == 202 and r.json() == {"queued": 2}, r
            kgtest.wait_batch_done(ctx, batch, timeout=30)
            assert kgtest.batch_status(ctx, batch) == "COMPLETED", _projects(ctx, batch)
            log = kgtest.proc_log(w)
            assert "breaker bedrock: open -> half-open (probe call by" in log, log[-3000:]
            assert "breaker bedrock: half-open -> closed" in log, log[-3000:]
            assert _breaker(ctx, "bedrock")["state"] == "closed"
            assert ctx.redis("EXISTS", "kg:breaker:bedrock:probe") == "0"
            kgtest.stop_proc(w)
    finally:
        _reset_breakers(ctx)
        kgtest.drop_worker_user(ctx, user)


def test_providers_wrong_signature_refused_not_retried(ctx):
    user = kgtest.worker_user(ctx)
    _reset_breakers(ctx)
    wrong = "not/the/right/secret/EXAMPLEKEY00000000000"
    try:
        with Fake(ctx) as fake, kgtest.own_workers(ctx) as ws:
            w = ws.start("prov-badsig", _env(fake, KARTOGRAF_BEDROCK_SECRET_ACCESS_KEY=wrong))
            batch, _ = _run(ctx, user, 1)
            assert _projects(ctx, batch)[0][:2] == ["COMPLETED", "azure"]
            reqs = fake.requests("bedrock")
            assert reqs and all(q["status"] == 403 for q in reqs), reqs
            assert "does not match" in reqs[0]["error"]["message"], reqs[0]
            bed = _calls(ctx, batch, provider="bedrock")
            # refused once per stage, never retried (403 cannot succeed), third one opens the breaker
            assert [(c["stage"], c["attempt"], c["outcome"]) for c in bed] == [
                ("plan", 1, "error"), ("draft", 1, "error"), ("polish", 1, "error")], bed
            assert bed[0]["error"].startswith(
                "HTTP 403 InvalidSignatureException: The request signature we calculated does not "
                "match the signature you provided."), bed[0]
            assert "Canonical" not in bed[0]["error"]
            assert wrong not in kgtest.proc_log(w)
            kgtest.stop_proc(w)
    finally:
        _reset_breakers(ctx)
        kgtest.drop_worker_user(ctx, user)


def test_providers_two_workers_share_one_breaker(ctx):
    user = kgtest.worker_user(ctx)
    _reset_breakers(ctx)
    try:
        with Fake(ctx) as fake, kgtest.own_workers(ctx) as ws:
            fake.script(bedrock={"then": {"status": 503}})
            a = ws.start("share-breaker-a", _env(fake))
            batch1, _ = _run(ctx, user, 1)
            assert _projects(ctx, batch1)[0][:2] == ["COMPLETED", "azure"]
            assert _breaker(ctx, "bedrock")["state"] == "open"
            assert _breaker(ctx, "bedrock")["by"].split(":")[1] == str(a.pid)
            kgtest.stop_proc(a)
            # another worker process sees the open breaker and never calls Bedrock
            b = ws.start("share-breaker-b", _env(fake))
            before = len(fake.requests("bedrock"))
            batch2, _ = _run(ctx, user, 1)
            assert _projects(ctx, batch2)[0][:2] == ["COMPLETED", "azure"]
            assert len(fake.requests("bedrock")) == before == 3
            assert "bedrock skipped (circuit open)" in kgtest.proc_log(b)
            assert all(c["fallback"] for c in _calls(ctx, batch2))
            # cool-down over (opened long ago): with two workers and five projects at once,
            # exactly one probe call reaches Bedrock before the breaker closes again
            c = ws.start("share-breaker-c", _env(fake))
            fake.script(bedrock=[{"latency_ms": 1200}])
            ctx.redis("HSET", "kg:breaker:bedrock", "opened_at", "1000")
            batch3, _ = _run(ctx, user, 5)
            assert kgtest.batch_status(ctx, batch3) == "COMPLETED", _projects(ctx, batch3)
            reqs = fake.requests("bedrock")[before:]
            probe = reqs[0]
            during = [q for q in reqs if q["t_start"] < probe["t_end"]]
            assert len(during) == 1, f"{len(during)} Bedrock calls while half-open"
            assert _breaker(ctx, "bedrock")["state"] == "closed"
            logs = kgtest.proc_log(b) + kgtest.proc_log(c)
            assert logs.count("breaker bedrock: open -> half-open") == 1, logs[-3000:]
            assert "breaker bedrock: half-open -> closed" in logs
            assert "GENERATING" in kgtest.proc_log(c) or "GENERATING" in kgtest.proc_log(b)
            # while the probe ran the other projects went to Azure
            assert any(c_["provider"] == "azure" and c_["fallback"] for c_ in _calls(ctx, batch3))
            kgtest.stop_proc(b)
            kgtest.stop_proc(c)
    finally:
        _reset_breakers(ctx)
        kgtest.drop_worker_user(ctx, user)


def test_providers_cost_cap_stops_calls(ctx):
    user = kgtest.worker_user(ctx)
    _reset_breakers(ctx)
    try:
        with Fake(ctx) as fake, kgtest.own_workers(ctx) as ws:
            # every call costs 1000 x 0.003/1k + 1000 x 0.015/1k = 0.018
            fake.script(bedrock={"then": {"usage": [1000, 1000]}})
            w = ws.start("prov-cap", _env(fake, KARTOGRAF_WORKER_CONCURRENCY="1"))
            batch, _ = _run(ctx, user, 3, cap="0.03")
            rows = _projects(ctx, batch)
            assert [r[0] for r in rows] == ["FAILED"] * 3, rows
            for r in rows:
                assert r[2].startswith("cost cap reached: the batch has spent 0.036000 of its cap "
                                       "of 0.030000"), r
            assert kgtest.batch_status(ctx, batch) == "PARTIAL"
            calls = _calls(ctx, batch)
            assert [(c["stage"], c["outcome"]) for c in calls] == [("plan", "ok"), ("draft", "ok")], calls
            assert len(fake.requests("bedrock")) == 2
            assert abs(_api_cost(ctx, user, batch) - 0.036) < 1e-9
            assert abs(_db_cost(ctx, batch) - 0.036) < 1e-9
            kgtest.stop_proc(w)
    finally:
        kgtest.drop_worker_user(ctx, user)


def test_providers_azure_retry_after_ms_openai_and_bedrock_api_key(ctx):
    user = kgtest.worker_user(ctx)
    _reset_breakers(ctx)
    try:
        with Fake(ctx, "--openai-key", "sk-local-test") as fake, kgtest.own_workers(ctx) as ws:
            # Azure alone: 429 with retry-after-ms honoured
            fake.script(azure=[{"status": 429, "retry_after_ms": 700}])
            w = ws.start("prov-azure", _env(fake, KARTOGRAF_AI_PROVIDERS="azure"))
            batch, _ = _run(ctx, user, 1)
            assert _projects(ctx, batch)[0][:2] == ["COMPLETED", "azure"]
            reqs = fake.requests("azure")
            assert [q["status"] for q in reqs] == [429, 200, 200, 200], reqs
            assert reqs[1]["t_start"] - reqs[0]["t_end"] >= 0.68, reqs[:2]
            assert [c["outcome"] for c in _calls(ctx, batch)] == ["rate_limited", "ok", "ok", "ok"]
            kgtest.stop_proc(w)
            # an OpenAI-compatible server (llama.cpp, Ollama) with a bearer key
            w = ws.start("prov-openai", _env(fake, KARTOGRAF_AI_PROVIDERS="openai",
                                             KARTOGRAF_OPENAI_BASE_URL=fake.url + "/v1",
                                             KARTOGRAF_OPENAI_API_KEY="sk-local-test",
                                             KARTOGRAF_OPENAI_MODEL="llama3"))
            batch, _ = _run(ctx, user, 1)
            assert _projects(ctx, batch)[0][:2] == ["COMPLETED", "openai"]
            reqs = fake.requests("openai")
            assert [(q["status"], q["model"], q["path"]) for q in reqs] == [
                (200, "llama3", "/v1/chat/completions")] * 3, reqs
            assert {c["model"] for c in _calls(ctx, batch)} == {"llama3"}
            kgtest.stop_proc(w)
            # Bedrock with an API key (bearer) instead of SigV4
            w = ws.start("prov-bedrock-key", _env(fake, KARTOGRAF_AI_PROVIDERS="bedrock",
                                                  KARTOGRAF_BEDROCK_API_KEY=BEDROCK_API_KEY))
            batch, _ = _run(ctx, user, 1)
            assert _projects(ctx, batch)[0][:2] == ["COMPLETED", "bedrock"]
            assert {(q["auth"], q["status"]) for q in fake.requests("bedrock")} == {("bearer", 200)}
            kgtest.stop_proc(w)
    finally:
        kgtest.drop_worker_user(ctx, user)
