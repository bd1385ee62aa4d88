"""Export (issue 9): .docx cards, batch .zip with podsumowanie.xlsx, local and
S3 storage, export_history - through both web servers.

The s3 tests run the export program and a worker of their own with
KARTOGRAF_STORAGE_* overrides against tests/fake/fake_s3.py (kgstack
component fakes3), and put the stack's own processes back afterwards.
"""
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
import zipfile
from kgtest import (batch_events, db_batch, drop_users, new_user, proc_log,  # noqa: E402
                    start_worker, stop_proc, wait_batch_done, worker_user)

PASSWORD = "export pass 42"
TITLES = ["Podsumowanie projektu", "Cel i uzasadnienie", "Grupa docelowa", "Zakres działań",
          "Harmonogram", "Budżet", "Rezultaty i wskaźniki", "Ryzyka i sposoby ich ograniczania"]
INPUT = {"name": "Park kieszonkowy", "description": "Budowa parku kieszonkowego.",
         "organization": "Fundacja Łąka", "budget": 125000, "location": "Łódź",
         "start_date": "2026-03-01", "end_date": "2026-12-31",
         "target_group": "mieszkańcy osiedla"}
DOCX_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
NBSP = "\u00a0"
SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
S3_ENV = {"KARTOGRAF_STORAGE_BACKEND": "s3", "KARTOGRAF_STORAGE_S3_BUCKET": "kartograf",
          "KARTOGRAF_STORAGE_S3_REGION": "eu-central-1",
          "KARTOGRAF_STORAGE_S3_PATH_STYLE": "true",
          "KARTOGRAF_STORAGE_S3_ACCESS_KEY": "KGFAKEACCESSKEY",
          "KARTOGRAF_STORAGE_S3_SECRET_KEY": "kgfake-secret-key",
          "KARTOGRAF_STORAGE_S3_TIMEOUT_MS": "5000"}


# ---------------------------------------------------------------- helpers

def _user(ctx):
    return new_user(ctx, "ex", password=PASSWORD)


_drop = drop_users


def _q(s):
    """SQL dollar-quoted literal."""
    assert "$kg$" not in s
    return f"$kg${s}$kg$"


def _batch(ctx, email, name="Nabór testowy", rows=1):
    return ctx.psql(f"INSERT INTO batches (owner_id, name, row_count) SELECT id, {_q(name)}, {rows} "
                    f"FROM users WHERE email = {_q(email)} RETURNING id").splitlines()[0].strip()


def _project(ctx, email, status="COMPLETED", name="Park kieszonkowy", bodies=None, batch=None,
             row=2, provider="offline"):
    """A project with its 8 sections written directly (bodies: key -> text)."""
    batch = batch or _batch(ctx, email)
    done = status == "COMPLETED"
    extra = {"FAILED": ("'brak odpowiedzi'", "now()")}.get(status, ("NULL", "now()" if done else "NULL"))
    inp = dict(INPUT, name=name)
    pid = ctx.psql(f"""
        INSERT INTO projects (batch_id, row_number, name, input, status, progress, quality_score,
                              quality, provider, error, started_at, finished_at)
        VALUES ('{batch}', {row}, {_q(name)}, {_q(json.dumps(inp))}::jsonb, '{status}',
                {100 if done else 40}, {72 if done else 'NULL'}, {"'{}'::jsonb" if done else 'NULL'},
                '{provider}', {extra[0]}, now(), {extra[1]})
        RETURNING id""").splitlines()[0].strip()
    bodies = bodies or {}
    ctx.psql(f"""
        INSERT INTO sections (project_id, key, body, origin, reviewed, provider)
        SELECT '{pid}', d.key, coalesce(b.body, 'Sekcja ' || d.title || ' projektu. Zadanie w gminie '
               || 'realizuje Fundacja Łąka, a środki wynoszą 125 000 zł.'), 'ai', false, '{provider}'
        FROM section_defs d LEFT JOIN (SELECT * FROM jsonb_each_text({_q(json.dumps(bodies))}::jsonb))
             AS b(key, body) ON b.key = d.key""")
    return pid


def _history(ctx, where):
    out = ctx.psql("SELECT user_id, coalesce(project_id::text, ''), coalesce(batch_id::text, ''), "
                   "format, coalesce(project_version, 0), size_bytes, sha256, storage_backend, "
                   f"storage_key FROM export_history WHERE {where} ORDER BY created_at")
    return [line.split("|") for line in out.splitlines() if line]


def _check_docx(ctx, data, expect_headings=8):
    path = os.path.join(ctx.tmpdir, f"card-{uuid.uuid4().hex[:8]}.docx")
    with open(path, "wb") as f:
        f.write(data)
    p = subprocess.run(["/usr/bin/python3", os.path.join(ctx.root, "tests", "integration", "check_docx.py"),
                        path, "--expect-headings", str(expect_headings)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"check_docx failed: {p.stdout[-500:]} {p.stderr[-500:]}"
    info = json.loads(p.stdout)
    info["path"] = path
    return info


def _plain(texts):
    """Texts with the typography's no-break spaces as plain spaces."""
    return [t.replace(NBSP, " ") for t in texts]


def _disposition(value):
    """(ascii filename, utf-8 filename*) of a Content-Disposition value."""
    assert value.startswith("attachment;"), value
    assert "\r" not in value and "\n" not in value, value
    m = re.search(r'filename="([^"\\]*)"', value)
    m2 = re.search(r"filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]+)$", value)
    assert m and m2, value
    assert all(0x20 < ord(c) < 0x7f for c in m.group(1)), value
    return m.group(1), urllib.parse.unquote(m2.group(1), encoding="utf-8", errors="strict")


def _export(ctx, base, auth, kind, oid, timeout=60):
    return ctx.request(base, "GET", f"/api/export/{kind}/{oid}", headers=auth, timeout=timeout)


# ---------------------------------------------------------------- docx flow

def test_docx_download_history_and_reuse(ctx):
    email, auth = _user(ctx)
    try:
        def check(name, base):
            pid = _project(ctx, email, name="Park kieszonkowy „Zielona Łąka”",
                           bodies={"summary": "Projekt w Łodzi realizuje Fundacja Łąka.\n\n"
                                              "Drugi akapit z żółwiem i źdźbłem."})
            r = _export(ctx, base, auth, "project", pid)
            assert r.status == 200, r
            assert r.header("content-type") == DOCX_CT, r.headers
            assert r.header("x-kartograf-export") == "built", r.headers
            # Apache may re-frame the body (chunked): then no Content-Length
            assert int(r.header("content-length", len(r.body))) == len(r.body), r.headers
            ascii_name, utf8_name = _disposition(r.header("content-disposition"))
            assert ascii_name == "Park_kieszonkowy_Zielona_Laka.docx", ascii_name
            assert utf8_name == "Park kieszonkowy „Zielona Łąka”.docx", utf8_name

            info = _check_docx(ctx, r.body)
            assert info["title"] == ["Park kieszonkowy „Zielona Łąka”"], info["title"]
            assert _plain(info["headings"]) == TITLES, info["headings"]
            assert info["default_lang"] == "pl-PL"
            text = "\n".join(p["text"] for p in info["paragraphs"])
            assert "Drugi akapit z" + NBSP + "żółwiem i" + NBSP + "źdźbłem." in text, text[:600]
            facts = {row[0]: row[1] for row in info["tables"][0]}
            assert facts["Wnioskodawca"] == "Fundacja Łąka", facts
            assert facts["Budżet"] == f"125{NBSP}000,00{NBSP}zł", facts
            assert facts["Data rozpoczęcia"] == "01.03.2026" and facts["Data zakończenia"] == "31.12.2026"
            assert facts["Lokalizacja"] == "Łódź" and facts["Ocena jakości"] == "72/100", facts
            assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", facts["Data wygenerowania"]), facts
            assert any("Park kieszonkowy" in h for h in info["header"]), info["header"]
            assert any("offline" in f for f in info["footer"]), info["footer"]

            rows = _history(ctx, f"project_id = '{pid}'")
            assert len(rows) == 1, rows
            user, proj, batch, fmt, ver, size, sha, backend, key = rows[0]
            assert proj == pid and batch == "" and fmt == "docx" and ver == "1", rows
            assert user == ctx.psql(f"SELECT id FROM users WHERE email = '{email}'").strip()
            assert int(size) == len(r.body) and sha == hashlib.sha256(r.body).hexdigest(), rows
            assert backend == "local" and re.fullmatch(rf"exports/{pid}/v1-{sha[:16]}\.docx", key), key
            with open(os.path.join(ctx.state, "files", key), "rb") as f:
                assert f.read() == r.body
            assert r.header("etag") == f'"{sha}"'

            # unchanged project: the stored file, no worker, no new row
            r2 = _export(ctx, base, auth, "project", pid)
            assert r2.status == 200 and r2.body == r.body, r2
            assert r2.header("x-kartograf-export") == "reused", r2.headers
            assert len(_history(ctx, f"project_id = '{pid}'")) == 1

            # an edit makes a new version: a new file and a new row
            e = ctx.request(base, "PATCH", f"/api/projects/{pid}",
                            {"version": 1, "sections": {"risks": {"body": "Nowe ryzyka."}}}, auth)
            assert e.status == 200, e
            r3 = _export(ctx, base, auth, "project", pid)
            assert r3.status == 200 and r3.header("x-kartograf-export") == "built", r3
            rows = _history(ctx, f"project_id = '{pid}'")
            assert [row[4] for row in rows] == ["1", "2"], rows
            assert rows[1][8].startswith(f"exports/{pid}/v2-") and rows[1][8] != rows[0][8]
            assert "Nowe ryzyka." in "\n".join(p["text"] for p in _check_docx(ctx, r3.body)["paragraphs"])
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_docx_hostile_text(ctx):
    email, auth = _user(ctx)
    long_text = ("Żółć " * 4000)[:20000]
    hostile = {
        "summary": "Tekst </w:t></w:r><w:r><w:t>wstrzyknięty & <script>alert(1)</script> \"cudzysłów\"",
        "objectives": "C1: \u0085 i \u009f, niedozwolone: \ufffe\uffff, tab:\tkoniec",
        "budget": long_text,
        "risks": "]]> <![CDATA[ x ]]> &amp; &#0; &lt;",
    }
    try:
        def check(name, base):
            pid = _project(ctx, email, name='../../etc/passwd "x"\r\nX-Evil: 1', bodies=hostile)
            r = _export(ctx, base, auth, "project", pid)
            assert r.status == 200, r
            assert "x-evil" not in r.headers, r.headers
            ascii_name, utf8_name = _disposition(r.header("content-disposition"))
            assert ascii_name == "etc_passwd_x_X-Evil_1.docx", ascii_name
            assert utf8_name == "etc passwd x X-Evil 1.docx", utf8_name
            info = _check_docx(ctx, r.body)
            text = "\n".join(p["text"] for p in info["paragraphs"])
            assert "</w:t></w:r><w:r><w:t>wstrzyknięty & <script>alert(1)</script>" in text, text[:400]
            assert "\u0085" not in text and "\ufffe" not in text
            assert text.count("Żółć") >= 3999, text.count("Żółć")
            assert "&amp; &#0; &lt;" in text
            key = _history(ctx, f"project_id = '{pid}'")[0][8]
            assert re.fullmatch(rf"exports/{pid}/v1-[0-9a-f]{{16}}\.docx", key), key
            # nothing was written outside the storage directory
            assert not os.path.exists(os.path.join(ctx.state, "etc"))
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_export_refusals(ctx):
    email, auth = _user(ctx)
    other, other_auth = _user(ctx)
    try:
        def check(name, base):
            pid = _project(ctx, email)
            gen = _project(ctx, email, status="GENERATING")
            r = _export(ctx, base, other_auth, "project", pid)
            assert r.status == 404 and r.json()["error"] == "not_found", r
            r = _export(ctx, base, auth, "project", str(uuid.uuid4()))
            assert r.status == 404, r
            r = _export(ctx, base, auth, "project", "not-a-uuid")
            assert r.status == 404, r
            r = _export(ctx, base, {}, "project", pid)
            assert r.status == 401, r
            r = _export(ctx, base, auth, "project", gen)
            assert r.status == 409 and r.json()["error"] == "not_completed", r
            r = ctx.request(base, "POST", f"/api/export/project/{pid}", b"", auth)
            assert r.status == 405, r
            batch = ctx.psql(f"SELECT batch_id FROM projects WHERE id = '{gen}'").strip()
            r = _export(ctx, base, auth, "batch", batch)
            assert r.status == 409 and r.json()["error"] == "nothing_to_export", r
            r = _export(ctx, base, other_auth, "batch", batch)
            assert r.status == 404, r
            assert not _history(ctx, f"project_id IN ('{pid}', '{gen}') OR batch_id = '{batch}'")
        ctx.check_servers(check)
    finally:
        _drop(ctx, email, other)


# ---------------------------------------------------------------- batch zip

def test_batch_zip(ctx):
    import openpyxl
    email, auth = _user(ctx)
    try:
        def check(name, base):
            batch = _batch(ctx, email, name="Nabór 2026: „Zielone podwórka”", rows=4)
            a = _project(ctx, email, batch=batch, row=2, name="Park kieszonkowy")
            b = _project(ctx, email, batch=batch, row=3, name="park kieszonkowy")
            c = _project(ctx, email, batch=batch, row=4, name="Ogród/../../społeczny")
            _project(ctx, email, batch=batch, row=5, name="Nieudany", status="FAILED")
            ctx.psql(f"INSERT INTO ai_calls (batch_id, project_id, provider, model, stage, cost, outcome) "
                     f"VALUES ('{batch}', '{a}', 'bedrock', 'm', 'draft', 0.0125, 'ok')")
            r = _export(ctx, base, auth, "batch", batch)
            assert r.status == 200, r
            assert r.header("content-type") == "application/zip", r.headers
            ascii_name, utf8_name = _disposition(r.header("content-disposition"))
            assert utf8_name == "Nabór 2026 „Zielone podwórka”.zip", utf8_name
            assert ascii_name == "Nabor_2026_Zielone_podworka.zip", ascii_name
            z = zipfile.ZipFile(io.BytesIO(r.body))
            assert z.testzip() is None
            names = z.namelist()
            assert names == ["Park kieszonkowy.docx", "park kieszonkowy (2).docx",
                             "Ogród .. .. społeczny.docx", "podsumowanie.xlsx"], names
            for n in names[:3]:
                info = _check_docx(ctx, z.read(n))
                assert _plain(info["headings"]) == TITLES
            wb = openpyxl.load_workbook(io.BytesIO(z.read("podsumowanie.xlsx")))
            rows = list(wb.active.iter_rows(values_only=True))
            assert rows[0] == ("Lp.", "Nazwa projektu", "Status", "Jakość", "Koszt AI",
                               "Data eksportu", "Plik"), rows[0]
            assert [row[1] for row in rows[1:]] == ["Park kieszonkowy", "park kieszonkowy",
                                                   "Ogród/../../społeczny", "Nieudany"], rows
            assert [row[2] for row in rows[1:]] == ["Gotowe", "Gotowe", "Gotowe", "Błąd"], rows
            assert rows[1][3] == 72 and rows[4][3] is None, rows
            assert abs(rows[1][4] - 0.0125) < 1e-9 and rows[2][4] == 0, rows
            assert all(row[5] is not None for row in rows[1:]), rows
            assert rows[3][6] == "Ogród .. .. społeczny.docx" and rows[4][6] is None, rows
            hist = _history(ctx, f"batch_id = '{batch}'")
            assert len(hist) == 1, hist
            _, proj, hb, fmt, ver, size, sha, backend, key = hist[0]
            assert proj == "" and hb == batch and fmt == "zip" and ver == "0", hist
            assert int(size) == len(r.body) and sha == hashlib.sha256(r.body).hexdigest()
            assert re.fullmatch(rf"exports/batches/{batch}/\d{{8}}T\d{{6}}Z-{sha[:16]}\.zip", key), key
            assert not _history(ctx, f"project_id IN ('{a}', '{b}', '{c}')")
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


# ---------------------------------------------------------------- storage backends

def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _log_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


class own_export_stack:
    """For the block: the stack's worker (and, with fcgi=True, its export
    program) replaced by ones started with extra environment; put back after."""

    def __init__(self, ctx, env, fcgi=False, worker=True, programs=("export",)):
        self.ctx, self.env, self.fcgi, self.worker = ctx, env, fcgi, worker
        self.programs = programs if fcgi else ()
        self.procs = []

    def _replace(self, prog):
        """The stack's FastCGI program `prog` stopped, one with our env on its socket."""
        run = os.path.join(self.ctx.state, "run")
        pf = os.path.join(run, f"fcgi-{prog}.pid")
        with open(pf) as f:
            pid = int(f.read().split()[0])
        os.kill(pid, signal.SIGTERM)
        self.ctx.wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                            open(f"/proc/{pid}/stat").read().split()[2] == "Z",
                            timeout=20, what=f"{prog} program stopped")
        sock = os.path.join(run, f"{prog}.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        self._spawn(["spawn-fcgi", "-n", "-s", sock, "-M", "0666", "--",
                     os.path.join(self.ctx.build, "cgi-bin", f"{prog}.fcgi")], f"{prog}.log", pf)
        self.ctx.wait_until(lambda: os.path.exists(sock), timeout=15, what=f"{prog} socket")

    def _spawn(self, args, log_name, pidfile=None):
        e = dict(os.environ, KARTOGRAF_CONFIG=self.ctx.config_path, **self.env)
        log_path = os.path.join(self.ctx.state, "log", log_name)
        log = open(log_path, "ab")
        p = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=e)
        log.close()
        p.log_path = log_path
        if pidfile:
            with open(pidfile, "w") as f:
                f.write(f"{p.pid}\n")
        self.procs.append(p)
        return p

    def __enter__(self):
        self.ctx.stack("stop", "worker")
        for prog in self.programs:
            self._replace(prog)
        if self.worker:
            w = self._spawn([os.path.join(self.ctx.build, "worker", "kartograf-worker")],
                            "worker-export-test.log")
            self.ctx.wait_until(lambda: "started as" in _log_text(w.log_path), timeout=15,
                                what="export test worker")
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for prog in self.programs:
            pf = os.path.join(self.ctx.state, "run", f"fcgi-{prog}.pid")
            if os.path.exists(pf):
                os.unlink(pf)
        if self.programs:
            self.ctx.stack("start", "fcgi")
        self.ctx.stack("start", "worker")
        return False


def test_storage_unreachable_503_nothing_recorded(ctx):
    email, auth = _user(ctx)
    env = dict(S3_ENV, KARTOGRAF_STORAGE_S3_ENDPOINT=f"http://127.0.0.1:{_closed_port()}")
    try:
        with own_export_stack(ctx, env):
            def check(name, base):
                pid = _project(ctx, email)
                t0 = time.monotonic()
                r = _export(ctx, base, auth, "project", pid)
                assert r.status == 503, r
                assert r.json()["error"] == "storage_unavailable", r
                assert time.monotonic() - t0 < 15
                assert not _history(ctx, f"project_id = '{pid}'")
                batch = ctx.psql(f"SELECT batch_id FROM projects WHERE id = '{pid}'").strip()
                r = _export(ctx, base, auth, "batch", batch)
                assert r.status == 503 and r.json()["error"] == "storage_unavailable", r
                assert not _history(ctx, f"batch_id = '{batch}'")
            ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_no_worker_504_and_stale_task_dropped(ctx):
    email, auth = _user(ctx)
    pid = _project(ctx, email)
    try:
        with own_export_stack(ctx, {"KARTOGRAF_EXPORT_WAIT_TIMEOUT": "2"}, fcgi=True, worker=False):
            t0 = time.monotonic()
            r = _export(ctx, ctx.servers["lighttpd"], auth, "project", pid)
            assert r.status == 504 and r.json()["error"] == "export_timeout", r
            took = time.monotonic() - t0
            assert 1.5 < took < 10, took
        # the stack's worker is back: the task nobody waits for is dropped, not built
        ctx.wait_until(lambda: ctx.redis("LLEN", "kg:queue:export") == "0", timeout=10,
                       what="export queue drained")
        time.sleep(0.5)
        assert not _history(ctx, f"project_id = '{pid}'"), "a task nobody waited for was built"
    finally:
        _drop(ctx, email)


def _fake_s3(ctx):
    ctx.stack("start", "fakes3")
    with open(os.path.join(ctx.state, "run", "fakes3.port")) as f:
        return int(f.read().strip())


def test_s3_refuses_wrong_signature(ctx):
    port = _fake_s3(ctx)
    base = f"http://127.0.0.1:{port}"
    day = time.strftime("%Y%m%d", time.gmtime())
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    body = b"forged"
    headers = {"x-amz-date": stamp, "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
               "Authorization": f"AWS4-HMAC-SHA256 Credential=KGFAKEACCESSKEY/{day}/eu-central-1/s3/"
                                f"aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                                f"Signature={'0' * 64}"}
    r = ctx.request(base, "PUT", "/kartograf/exports/forged.docx", body, headers)
    assert r.status == 403 and b"SignatureDoesNotMatch" in r.body, r
    r = ctx.request(base, "PUT", "/kartograf/exports/forged.docx", body, {})
    assert r.status == 403, r
    assert not os.path.exists(os.path.join(ctx.state, "s3", "kartograf", "exports", "forged.docx"))


def test_s3_round_trip(ctx):
    port = _fake_s3(ctx)
    email, auth = _user(ctx)
    env = dict(S3_ENV, KARTOGRAF_STORAGE_S3_ENDPOINT=f"http://127.0.0.1:{port}")
    try:
        with own_export_stack(ctx, env, fcgi=True):
            def check(name, base):
                pid = _project(ctx, email, name="Świetlica w Żabiej Woli")
                r = _export(ctx, base, auth, "project", pid)
                assert r.status == 200 and r.header("x-kartograf-export") == "built", r
                assert _check_docx(ctx, r.body)["title"] == ["Świetlica w" + NBSP + "Żabiej Woli"]
                rows = _history(ctx, f"project_id = '{pid}'")
                assert len(rows) == 1 and rows[0][7] == "s3", rows
                key = rows[0][8]
                with open(os.path.join(ctx.state, "s3", "kartograf", *key.split("/")), "rb") as f:
                    assert f.read() == r.body
                r2 = _export(ctx, base, auth, "project", pid)
                assert r2.status == 200 and r2.body == r.body, r2
                assert r2.header("x-kartograf-export") == "reused", r2.headers
                batch = ctx.psql(f"SELECT batch_id FROM projects WHERE id = '{pid}'").strip()
                r3 = _export(ctx, base, auth, "batch", batch)
                assert r3.status == 200, r3
                assert zipfile.ZipFile(io.BytesIO(r3.body)).namelist() == [
                    "Świetlica w Żabiej Woli.docx", "podsumowanie.xlsx"]
                assert _history(ctx, f"batch_id = '{batch}'")[0][7] == "s3"
                log = ctx.request(f"http://127.0.0.1:{port}", "GET", "/_fake/log").text
                seen = [json.loads(line) for line in log.splitlines()]
                puts = [e for e in seen if e["method"] == "PUT" and key in e["path"]]
                gets = [e for e in seen if e["method"] == "GET" and key in e["path"]]
                assert puts and all(e["status"] == 200 for e in puts), seen[-5:]
                assert len(gets) >= 2 and all(e["status"] == 200 for e in gets), seen[-5:]
            ctx.check_servers(check)
    finally:
        _drop(ctx, email)


# ------------------------------------------- S3 PUT on the worker's curl multi

def _fake_ctl(ctx, port, path, body=None):
    """A knob of the fake S3 (tests/fake/fake_s3.py docstring)."""
    r = ctx.request(f"http://127.0.0.1:{port}", "GET" if body is None else "POST", path,
                    None if body is None else json.dumps(body), record=False)
    assert r.status == 200, r
    return r.json()


def _puts_of(ctx, port, pid):
    log = ctx.request(f"http://127.0.0.1:{port}", "GET", "/_fake/log", record=False).text
    return [e["status"] for e in map(json.loads, log.splitlines())
            if e["method"] == "PUT" and f"/exports/{pid}/" in e["path"]]


class _download:
    """GET /api/export/project/<pid> in a thread (it waits for the worker)."""

    def __init__(self, ctx, auth, pid):
        self.result = None
        self.thread = threading.Thread(target=self._run, args=(ctx, auth, pid), daemon=True)
        self.thread.start()

    def _run(self, ctx, auth, pid):
        self.result = _export(ctx, ctx.servers["lighttpd"], auth, "project", pid, timeout=150)

    def wait(self):
        self.thread.join(160)
        assert self.result is not None, "the download did not end"
        return self.result


def _s3_setup(ctx, **extra):
    port = _fake_s3(ctx)
    env = dict(S3_ENV, KARTOGRAF_STORAGE_S3_ENDPOINT=f"http://127.0.0.1:{port}",
               KARTOGRAF_EXPORT_WAIT_TIMEOUT="120", **extra)
    return port, env


def _s3_worker(ox, name, env):
    """A worker of the block's own (stopped at its end, whatever happens)."""
    w = start_worker(ox.ctx, name, env)
    ox.procs.append(w)
    return w


def _held_put(ctx, port, auth, pid):
    """A download whose PUT the fake S3 holds until released."""
    _fake_ctl(ctx, port, "/_fake/plan", {"match": f"/exports/{pid}/", "hold": True, "hold_max_s": 150})
    d = _download(ctx, auth, pid)
    ctx.wait_until(lambda: _fake_ctl(ctx, port, "/_fake/pending")["pending"] == 1, timeout=60,
                   what="the card's PUT held by the fake S3")
    return d


def test_s3_slow_put_does_not_delay_generation(ctx):
    """While the fake S3 holds a card's PUT, a generation started after it
    runs to the end (its events arrive) in the same worker; released, the
    PUT completes and the download is the built card."""
    user = worker_user(ctx)
    auth = {"Authorization": "Bearer " + user["token"]}
    port, env = _s3_setup(ctx, KARTOGRAF_STORAGE_S3_TIMEOUT_MS="120000")
    try:
        with own_export_stack(ctx, env, fcgi=True, worker=False) as ox:
            w = _s3_worker(ox, "s3-slow", env)
            pid = _project(ctx, user["email"])
            d = _held_put(ctx, port, auth, pid)
            batch, projects = db_batch(ctx, user, 2)
            r = ctx.request(ctx.servers["lighttpd"], "POST", f"/api/batches/{batch}/generate",
                            headers=auth)
            assert r.status == 202, r
            wait_batch_done(ctx, batch, timeout=90)
            done = {e["project_id"] for e in batch_events(ctx, batch) if e["type"] == "project.completed"}
            assert done == set(projects), done
            # the PUT is still in flight: not answered, not recorded
            assert _fake_ctl(ctx, port, "/_fake/pending")["pending"] == 1
            assert d.thread.is_alive() and not _history(ctx, f"project_id = '{pid}'")
            _fake_ctl(ctx, port, "/_fake/plan", {})
            r = d.wait()
            assert r.status == 200 and r.header("x-kartograf-export") == "built", r
            rows = _history(ctx, f"project_id = '{pid}'")
            assert len(rows) == 1 and rows[0][7] == "s3", rows
            assert _puts_of(ctx, port, pid) == [200]
            stop_proc(w)
    finally:
        _fake_ctl(ctx, port, "/_fake/plan", {})
        drop_users(ctx, user["email"])


def test_s3_put_5xx_retried_403_refused(ctx):
    """HTTP 5xx: tried again after a back-off, then stored; 403 (a wrong
    secret key, refused by the fake's signature check): not retried, the
    download fails with S3's reason and nothing is recorded."""
    email, auth = _user(ctx)
    port, env = _s3_setup(ctx)
    try:
        with own_export_stack(ctx, env, fcgi=True, worker=False) as ox:
            w = _s3_worker(ox, "s3-retry", env)
            pid = _project(ctx, email)
            _fake_ctl(ctx, port, "/_fake/plan", {"match": f"/exports/{pid}/", "fail": [503, 500]})
            r = _export(ctx, ctx.servers["lighttpd"], auth, "project", pid)
            assert r.status == 200 and r.header("x-kartograf-export") == "built", r
            assert _puts_of(ctx, port, pid) == [503, 500, 200]
            assert len(_history(ctx, f"project_id = '{pid}'")) == 1
            assert "store attempt 2 failed" in proc_log(w), proc_log(w)[-2000:]
            stop_proc(w)
            _fake_ctl(ctx, port, "/_fake/plan", {})

            w = _s3_worker(ox, "s3-forged", dict(env, KARTOGRAF_STORAGE_S3_SECRET_KEY="not-the-key"))
            pid = _project(ctx, email)
            r = _export(ctx, ctx.servers["lighttpd"], auth, "project", pid)
            assert r.status == 503 and r.json()["error"] == "storage_unavailable", r
            msg = r.json()["message"]
            assert "HTTP 403 SignatureDoesNotMatch" in msg and "s3_secret_key" in msg, msg
            assert "not-the-key" not in proc_log(w)
            assert _puts_of(ctx, port, pid) == [403]
            assert not _history(ctx, f"project_id = '{pid}'")
            stop_proc(w)
    finally:
        _fake_ctl(ctx, port, "/_fake/plan", {})
        _drop(ctx, email)


def test_s3_sigterm_with_put_in_flight_hands_export_back(ctx):
    """SIGTERM while the fake S3 holds the PUT: after [worker]
    shutdown_grace the PUT is cancelled, the task goes back to the queue and
    the worker exits 0; the next worker builds and stores it and the waiting
    download gets the card."""
    email, auth = _user(ctx)
    port, env = _s3_setup(ctx, KARTOGRAF_STORAGE_S3_TIMEOUT_MS="120000",
                          KARTOGRAF_WORKER_SHUTDOWN_GRACE="1")
    try:
        with own_export_stack(ctx, env, fcgi=True, worker=False) as ox:
            w = _s3_worker(ox, "s3-term", env)
            pid = _project(ctx, email)
            d = _held_put(ctx, port, auth, pid)
            w.send_signal(signal.SIGTERM)
            assert w.wait(timeout=60) == 0
            assert f"export export_docx:{pid} handed back to the queue" in proc_log(w), proc_log(w)[-2000:]
            stop_proc(w)
            assert pid in ctx.redis("LRANGE", "kg:queue:export", "0", "-1")
            assert d.thread.is_alive() and not _history(ctx, f"project_id = '{pid}'")
            _fake_ctl(ctx, port, "/_fake/plan", {})
            w2 = _s3_worker(ox, "s3-term-2", env)
            r = d.wait()
            assert r.status == 200 and r.header("x-kartograf-export") == "built", r
            assert len(_history(ctx, f"project_id = '{pid}'")) == 1
            stop_proc(w2)
    finally:
        _fake_ctl(ctx, port, "/_fake/plan", {})
        _drop(ctx, email)


# ---------------------------------------------------------------- LibreOffice

def test_libreoffice_renders_card(ctx):
    soffice = shutil.which("soffice")
    pdftoppm = shutil.which("pdftoppm")
    assert soffice and pdftoppm, "libreoffice-writer-nogui and poppler-utils (scripts/deps.sh) needed"
    email, auth = _user(ctx)
    try:
        pid = _project(ctx, email, name="Park kieszonkowy „Zielona Łąka”",
                       bodies={"summary": "Zażółć gęślą jaźń. " * 40,
                               "risks": "Tekst </w:t> & <b>znaczniki</b> \u0085 zostają tekstem."})
        r = _export(ctx, ctx.servers["lighttpd"], auth, "project", pid)
        assert r.status == 200, r
        # kept after the run (the stack's state dir is removed): a person
        # can look at the card as LibreOffice renders it
        out = os.path.join(ctx.build, "export-artifacts")
        os.makedirs(out, exist_ok=True)
        docx = os.path.join(out, "export-card.docx")
        with open(docx, "wb") as f:
            f.write(r.body)
        profile = os.path.join(ctx.tmpdir, "lo-profile")
        p = subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless",
                            "--convert-to", "pdf", "--outdir", out, docx],
                           capture_output=True, text=True, timeout=180,
                           env=dict(os.environ, HOME=ctx.tmpdir))
        pdf = os.path.join(out, "export-card.pdf")
        assert p.returncode == 0 and os.path.exists(pdf), f"soffice: {p.stdout} {p.stderr}"
        text = subprocess.run(["pdftotext", "-layout", pdf, "-"], capture_output=True,
                              text=True, timeout=60).stdout
        for want in ("Podsumowanie projektu", "Zażółć gęślą jaźń", "Fundacja Łąka", "</w:t>",
                     "Ryzyka i sposoby ich ograniczania"):
            assert want in text.replace(NBSP, " "), f"{want!r} not in the PDF text"
        assert re.search(r"Strona\s+1\s+z\s+\d", text), text[-400:]
        subprocess.run([pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", pdf,
                        os.path.join(out, "export-card-page1")], check=True, timeout=60)
        png = os.path.join(out, "export-card-page1.png")
        assert os.path.getsize(png) > 5000
        print(f"# rendered page 1 of an exported card: {png}")
    finally:
        _drop(ctx, email)


def test_deluser_removes_stored_exports(ctx):
    email, auth = _user(ctx)
    other, other_auth = _user(ctx)
    try:
        base = ctx.servers["lighttpd"]
        pid = _project(ctx, email)
        keep = _project(ctx, other)
        assert _export(ctx, base, auth, "project", pid).status == 200
        assert _export(ctx, base, other_auth, "project", keep).status == 200
        import configparser
        cp = configparser.ConfigParser()
        cp.read(ctx.config_path)
        local_dir = cp["storage"]["local_dir"]
        mine = [r[8] for r in _history(ctx, f"project_id = '{pid}'")]
        theirs = [r[8] for r in _history(ctx, f"project_id = '{keep}'")]
        assert mine and theirs
        assert all(os.path.isfile(os.path.join(local_dir, k)) for k in mine + theirs)
        rc, out, err = ctx.run_program("worker/kartograf-admin", ["deluser", email])
        assert rc == 0 and "1 stored export file(s) removed" in out, (rc, out, err)
        assert not any(os.path.exists(os.path.join(local_dir, k)) for k in mine), mine
        assert all(os.path.isfile(os.path.join(local_dir, k)) for k in theirs), "another user's file went"
        assert _history(ctx, f"project_id = '{pid}'") == []
    finally:
        _drop(ctx, email, other)
