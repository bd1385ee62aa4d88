#!/usr/bin/python3
"""The measuring half of tests/bench/bench_api.sh (which starts the stack and
documents the environment variables): data, SQL capture, wrk + pgbench per point,
CPU per component, then the SSE snapshot, export re-download and upload split."""
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

STATE = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ["BUILD"]
ENV = dict(l.strip().split("=", 1) for l in open(os.path.join(STATE, "stack.env"))
           if "=" in l and not l.startswith("#"))
PG = ["psql", "-h", "127.0.0.1", "-p", ENV["PG_PORT"], "-d", "kartograf", "-AtqX",
      "-v", "ON_ERROR_STOP=1"]
DURATION = int(os.environ.get("DURATION", "3"))
CONNS = [int(c) for c in os.environ.get("CONNS", "2 16 64 256").split()]
ENDPOINTS = os.environ.get("ENDPOINTS", "card batch list me").split()
SERVERS = os.environ.get("SERVERS", "lighttpd apache").split()
EXTRAS = os.environ.get("EXTRAS", "1") == "1"
PORTS = {"lighttpd": ENV["LIGHTTPD_PORT"], "apache": ENV["APACHE_PORT"]}
CONF = os.path.join(STATE, "kartograf.conf")
RUN, LOG = os.path.join(STATE, "run"), os.path.join(STATE, "log")
TICK = os.sysconf("SC_CLK_TCK")
PASSWORD = "bench password 42"
PROGRAM = {"card": "project", "batch": "batches", "list": "batches", "me": "me"}


def psql(sql, user="kartograf"):
    return subprocess.run(PG + ["-U", user, "-c", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def adduser(email):
    subprocess.run([os.path.join(BUILD, "worker/kartograf-admin"), "adduser", email],
                   input=PASSWORD + "\n", text=True, check=True, capture_output=True,
                   env=dict(os.environ, KARTOGRAF_CONFIG=CONF))
    req = urllib.request.Request(
        f"http://127.0.0.1:{PORTS['lighttpd']}/api/auth/login",
        json.dumps({"email": email, "password": PASSWORD}).encode(),
        {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["token"]


def get(path, token, server="lighttpd"):
    req = urllib.request.Request(f"http://127.0.0.1:{PORTS[server]}{path}",
                                 headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req) as r:
        return r.read()


# ---------------------------------------------------------------- data

def make_data():
    owner_tok, lister_tok = adduser("owner@bench.local"), adduser("lister@bench.local")
    batch = psql("""
      INSERT INTO batches (owner_id, name, source_filename, row_count, status)
      SELECT id, 'Nabór 2026 – tysiąc projektów', 'nabor.xlsx', 1000, 'GENERATING'
      FROM users WHERE email = 'owner@bench.local' RETURNING id""").splitlines()[0]
    psql(f"""
      INSERT INTO projects (batch_id, row_number, name, input, status, progress,
                            quality_score, quality, provider, started_at, finished_at)
      SELECT '{batch}', g + 1, 'Świetlica środowiskowa nr ' || g,
             jsonb_build_object('name', 'Świetlica środowiskowa nr ' || g,
               'description', 'Zajęcia pozalekcyjne dla dzieci z osiedla.',
               'organization', 'Fundacja Łąka', 'budget', 125000 + g,
               'start_date', '2026-03-01', 'end_date', '2026-12-31', 'location', 'Łódź'),
             CASE WHEN g % 10 = 0 THEN 'GENERATING' ELSE 'COMPLETED' END,
             CASE WHEN g % 10 = 0 THEN 40 ELSE 100 END,
             CASE WHEN g % 10 = 0 THEN NULL ELSE 70 + g % 30 END,
             CASE WHEN g % 10 = 0 THEN NULL ELSE
               '{{"score": 81, "criteria": {{"completeness": {{"score": 25, "max": 25}},
                 "length": {{"score": 18, "max": 25}}, "facts": {{"score": 20, "max": 25}},
                 "review": {{"score": 18, "max": 25}}}},
                 "sections": {{"budget": ["unsupported_number"], "risks": ["too_short"],
                 "summary": []}}}}'::jsonb END,
             'offline', now(), CASE WHEN g % 10 = 0 THEN NULL ELSE now() END
      FROM generate_series(1, 1000) g""")
    # 8 sections of ~250 words: ~2,000 words, ~19 KB of JSON per card
    psql(f"""
      INSERT INTO sections (project_id, key, body, origin, reviewed, provider)
      SELECT p.id, d.key, rtrim(repeat('Projekt realizuje Fundacja Łąka w gminie, a '
             || 'uczestnicy w wieku 10-15 lat zyskają nowe umiejętności i „wsparcie” '
             || 'zespołu. Zajęcia odbywają się dwa razy w tygodniu w świetlicy. ', 10)
             || E'\\n' || repeat('Dalsze szczegóły są w harmonogramie. ', 2)),
             'ai', d.position % 3 = 0, 'offline'
      FROM projects p CROSS JOIN section_defs d
      WHERE p.batch_id = '{batch}' AND p.status = 'COMPLETED'""")
    card = psql(f"SELECT id FROM projects WHERE batch_id = '{batch}' AND row_number = 2")
    # the other user's 500 batches of 4 projects, one AI call each (cost)
    psql("""
      WITH b AS (
        INSERT INTO batches (owner_id, name, source_filename, row_count, status,
                             created_at, completed_at)
        SELECT u.id, 'Nabór nr ' || g, 'plik-' || g || '.xlsx', 4, 'COMPLETED',
               now() - g * interval '1 hour', now()
        FROM users u, generate_series(1, 500) g WHERE u.email = 'lister@bench.local'
        RETURNING id),
      p AS (
        INSERT INTO projects (batch_id, row_number, name, input, status, progress,
                              quality_score, quality, provider, started_at, finished_at)
        SELECT b.id, r + 1, 'Projekt ' || r, '{}'::jsonb, 'COMPLETED', 100, 80, '{}'::jsonb,
               'offline', now(), now()
        FROM b, generate_series(1, 4) r RETURNING id, batch_id, row_number)
      INSERT INTO ai_calls (batch_id, project_id, provider, model, stage, cost, outcome)
      SELECT batch_id, id, 'bedrock', 'claude', 'draft', 0.0123, 'ok' FROM p
      WHERE row_number = 2""")
    psql("VACUUM ANALYZE", user="postgres")
    return {"owner": owner_tok, "lister": lister_tok, "batch": batch, "card": card}


# ---------------------------------------------------------------- SQL capture

LOGLINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (LOG|DETAIL):  (.*)$")


def parse_params(detail):
    """'$1 = 'a', $2 = NULL' -> ['a', None]."""
    out, i = [], 0
    for m in re.finditer(r"\$(\d+) = (NULL|'((?:[^']|'')*)')", detail):
        out.append(None if m.group(2) == "NULL" else m.group(3).replace("''", "'"))
        i += 1
    return out


def capture_sql(path, token, action=None):
    """The statements one request runs (GET path, or action()), from PostgreSQL's
    log (every statement is logged while capturing): [(sql, [params])]."""
    logf = os.path.join(LOG, "postgres.log")
    start = os.path.getsize(logf)
    (action or (lambda: get(path, token)))()
    time.sleep(0.3)
    with open(logf, encoding="utf-8", errors="replace") as f:
        f.seek(start)
        lines = f.read().splitlines()
    stmts = []
    for n, line in enumerate(lines):
        m = LOGLINE.match(line)
        if not m or m.group(2) != "LOG":
            continue
        e = re.match(r"duration: [\d.]+ ms  execute [^:]*: (.*)$", m.group(3))
        if not e or "set_config('statement_timeout'" in e.group(1):
            continue
        params = []
        nxt = LOGLINE.match(lines[n + 1]) if n + 1 < len(lines) else None
        if nxt and nxt.group(2) == "DETAIL" and nxt.group(3).startswith("parameters: "):
            params = parse_params(nxt.group(3))
        stmts.append((e.group(1), params))
    if not stmts:
        sys.exit(f"bench_api: no SQL captured for {path}")
    return stmts


def pgbench_script(name, stmts):
    """A pgbench script running the statements with their captured parameters as
    variables (bound as parameters under -M prepared)."""
    defs, body = [], []
    for i, (sql, params) in enumerate(stmts):
        for k, v in enumerate(params, 1):
            var = f"s{i}p{k}"
            if v is None:
                sys.exit(f"bench_api: NULL parameter in {name}'s SQL not supported")
            defs.append(f"{var}={v}")
            sql = re.sub(r"\$%d(?!\d)" % k, ":" + var, sql)
        if re.search(r"(?<!:):[A-Za-z_]", re.sub(r":s\d+p\d+", "", sql)):
            sys.exit(f"bench_api: {name}: SQL has a ':name' pgbench would take for a variable")
        body.append(sql + ";")
    path = os.path.join(STATE, f"pgbench-{name}.sql")
    with open(path, "w") as f:
        f.write("\n".join(body) + "\n")
    return path, defs


# ---------------------------------------------------------------- CPU

def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def tree_ticks(pid, kids):
    """{pid: utime+stime} of a process and its descendants."""
    ticks, todo = {}, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks[p] = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
        todo.extend(kids.get(p, []))
    return ticks


def tree_switches(pid, kids):
    """{pid: context switches (voluntary + not) of all its threads} of a
    process and its descendants: what a hand-off between threads costs shows
    here (mpm_event: listener -> worker -> listener per request)."""
    out, todo = {}, [pid]
    while todo:
        p = todo.pop()
        n = 0
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/status") as f:
                    n += sum(int(l.split()[1]) for l in f if "ctxt_switches" in l)
        except (OSError, ValueError):
            continue
        out[p] = n
        todo.extend(kids.get(p, []))
    return out


def used(before, after):
    """Ticks used between two snapshots by the processes alive at the second
    (pgbench's backends still exiting at the first must not count)."""
    return sum(t - before.get(p, 0) for p, t in after.items())


def pidfile(name):
    with open(os.path.join(RUN, name)) as f:
        return int(f.readline())


def cpu_snapshot(program, server):
    kids = children_map()
    web = pidfile("lighttpd.pid.kg" if server == "lighttpd" else "httpd.pid.kg")
    return {"program": tree_ticks(pidfile(f"fcgi-{program}.pid"), kids),
            "pg": tree_ticks(pidfile("postgres.pid"), kids),
            "web": tree_ticks(web, kids), "web_cs": tree_switches(web, kids)}


# ---------------------------------------------------------------- runs

def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    f = float(m.group(1))
    return {"us": f / 1000, "ms": f, "s": f * 1000, "m": f * 60000}[m.group(2)]


def run_wrk(url, token, conns):
    out = subprocess.run(
        ["wrk", "-t", str(min(2, conns)), "-c", str(conns), "-d", f"{DURATION}s",
         "--timeout", "10s", "--latency", "-H", "Authorization: Bearer " + token, url],
        capture_output=True, text=True).stdout
    r = {"rps": 0.0, "p50": float("nan"), "p99": float("nan"), "errors": 0, "n": 0}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"):
            r["rps"] = float(line.split()[1])
        elif line.startswith("50%"):
            r["p50"] = ms(line.split()[1])
        elif line.startswith("99%"):
            r["p99"] = ms(line.split()[1])
        elif line.startswith("Non-2xx"):
            r["errors"] += int(line.split()[-1])
        elif line.startswith("Socket errors:"):
            r["errors"] += sum(int(x) for x in re.findall(r"\d+", line))
        elif "requests in" in line:
            r["n"] = int(line.split()[0])
    return r


def run_pgbench(script, defs, conns, latency=False):
    # -T counts the connecting too: on a loaded machine opening 64 or 256 backends
    # takes seconds, so those runs get a second more per 16 clients
    cmd = ["pgbench", "-h", "127.0.0.1", "-p", ENV["PG_PORT"], "-U", "kartograf", "-n",
           "-M", "prepared", "-c", str(conns), "-j", str(min(2, conns)),
           "-T", str(DURATION + conns // 16),
           "-f", script]
    for d in defs:
        cmd += ["-D", d]
    p = subprocess.run(cmd + ["kartograf"], capture_output=True, text=True)
    m = re.search(r"latency average = ([\d.]+) ms" if latency else
                  r"tps = ([\d.]+) \(without initial", p.stdout)
    if m:
        return float(m.group(1))
    if "actually processed: 0" in p.stdout:
        return float("nan")     # not one transaction in DURATION (a loaded machine)
    sys.exit(f"bench_api: pgbench failed: {p.stdout[-500:]} {p.stderr[-500:]}")


def per_k(ticks, n):
    return ticks / TICK / n * 1000 if n else float("nan")


def bench_endpoints(data):
    paths = {"card": (f"/api/projects/{data['card']}", data["owner"]),
             "batch": (f"/api/batches/{data['batch']}", data["owner"]),
             "list": ("/api/batches", data["lister"]),
             "me": ("/api/auth/me", data["owner"])}
    scripts = {}
    for name in ENDPOINTS:
        path, tok = paths[name]
        for _ in range(4):      # every process of the program connected once
            get(path, tok)
        scripts[name] = pgbench_script(name, capture_sql(path, tok))
        size = len(get(path, tok))
        print(f"{name}: GET {path.replace(data['card'], '{id}').replace(data['batch'], '{id}')}"
              f" -> {size} bytes; {len(scripts[name][0] and open(scripts[name][0]).read().splitlines())}"
              f" statement(s) per request")
    if EXTRAS:                  # the statements that open a stream, for sse_snapshot
        scripts["sse"] = sse_scripts(data)
    psql("ALTER SYSTEM RESET log_min_duration_statement", user="postgres")
    psql("SELECT pg_reload_conf()", user="postgres")
    for name in ENDPOINTS:      # every backend applies the reload after a statement
        for _ in range(8):
            get(paths[name][0], paths[name][1])
    print(f"\n{DURATION} s per point; cpu = CPU seconds per 1,000 requests "
          f"(program / PostgreSQL / web server); "
          f"web cs/req = the web server's context switches per request, all threads")
    print(f"{'endpoint':<6} {'conns':>5} {'pgbench':>8} {'server':<8} {'req/s':>7} "
          f"{'ratio':>5} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}  cpu prog/pg/web  web cs/req")
    results = []
    for name in ENDPOINTS:
        path, tok = paths[name]
        script, defs = scripts[name]
        for c in CONNS:
            tps = run_pgbench(script, defs, c)
            time.sleep(0.5)     # its backends exit
            for server in SERVERS:
                before = cpu_snapshot(PROGRAM[name], server)
                r = run_wrk(f"http://127.0.0.1:{PORTS[server]}{path}", tok, c)
                after = cpu_snapshot(PROGRAM[name], server)
                cpu = {k: per_k(used(before[k], after[k]), r["n"]) for k in before}
                cs = used(before["web_cs"], after["web_cs"]) / r["n"] if r["n"] else float("nan")
                results.append((name, c, server, r, tps))
                print(f"{name:<6} {c:>5} {tps:>8.0f} {server:<8} {r['rps']:>7.0f} "
                      f"{r['rps'] / tps:>5.2f} {r['p50']:>7.1f} {r['p99']:>7.1f} "
                      f"{r['errors']:>6}  {cpu['program']:.2f}/{cpu['pg']:.2f}/"
                      f"{cpu['web']:.2f}  {cs:.1f}", flush=True)
    return results, scripts.get("sse")


# ---------------------------------------------------------------- extras

def open_snapshot(server, batch, token):
    """Open the batch's event stream, read up to the end of the snapshot event:
    (ms from sending the request, bytes of the event)."""
    s = socket.create_connection(("127.0.0.1", int(PORTS[server])))
    t0 = time.perf_counter()
    s.sendall((f"GET /api/events/{batch} HTTP/1.1\r\nHost: bench\r\n"
               f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n")
              .encode())
    raw, body, head = b"", b"", None
    try:
        while True:
            chunk = s.recv(262144)
            if not chunk:
                sys.exit(f"bench_api: {server} closed the stream before the snapshot")
            raw += chunk
            if head is None and b"\r\n\r\n" in raw:
                head, raw = raw.split(b"\r\n\r\n", 1)
                if not head.startswith(b"HTTP/1.1 200"):
                    sys.exit(f"bench_api: stream answered {head[:60]!r}")
                chunked = b"chunked" in head.lower()
            if head is None:
                continue
            while chunked and b"\r\n" in raw:         # de-chunk what is complete
                size_line, rest = raw.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                if len(rest) < size + 2:
                    break
                body, raw = body + rest[:size], rest[size + 2:]
            if not chunked:
                body, raw = body + raw, b""
            at = body.find(b"event: snapshot\n")
            if at >= 0 and body.find(b"\n\n", at) >= 0:
                return (time.perf_counter() - t0) * 1000, body.find(b"\n\n", at) - at
    finally:
        s.close()


def sse_scripts(data):
    """pgbench scripts of what opening the stream runs: every statement, and the
    snapshot's read alone (the statement that reads the projects)."""
    stmts = capture_sql(None, None, lambda: open_snapshot("lighttpd", data["batch"],
                                                          data["owner"]))
    snap = [st for st in stmts if "JOIN projects" in st[0]]
    if len(snap) != 1:
        sys.exit(f"bench_api: no single snapshot statement among {len(stmts)} captured")
    return pgbench_script("sse-all", stmts), pgbench_script("sse-read", snap), len(stmts)


def pcts(v):
    v = sorted(v)
    return statistics.median(v), v[min(len(v) - 1, int(len(v) * 0.99))]


def sse_snapshot(batch, token, scripts, runs=40):
    """Time to the snapshot of the 1,000-project batch: at the client (through
    each web server), in the relay (its log: read + JSON), against pgbench -M
    prepared (1 client) of the snapshot's statement and of every statement the
    stream's start runs."""
    since = os.path.getsize(os.path.join(LOG, "events.log"))
    for server in SERVERS:
        for _ in range(3):      # both relay processes have prepared the statements
            open_snapshot(server, batch, token)
        got = [open_snapshot(server, batch, token) for _ in range(runs)]
        p50, p99 = pcts([t for t, _ in got])
        print(f"SSE snapshot of the 1,000-project batch through {server} ({runs} runs, "
              f"{got[0][1] // 1024} KB event): client p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    with open(os.path.join(LOG, "events.log"), encoding="utf-8", errors="replace") as f:
        f.seek(since)
        logged = re.findall(r"snapshot of batch \S+ at seq \d+: 1000 projects, \d+ bytes, "
                            r"([\d.]+) ms \(read ([\d.]+) ms\)", f.read())
    total, read = pcts([float(t) for t, _ in logged]), pcts([float(r) for _, r in logged])
    (all_sql, all_defs), (read_sql, read_defs), nstmts = scripts
    ideal_read = run_pgbench(read_sql, read_defs, 1, latency=True)
    ideal_all = run_pgbench(all_sql, all_defs, 1, latency=True)
    print(f"  relay ({len(logged)} snapshots): read + JSON p50 {total[0]:.2f} ms "
          f"(p99 {total[1]:.2f}), of which the read p50 {read[0]:.2f} ms (p99 {read[1]:.2f})")
    print(f"  pgbench -M prepared, 1 client: the snapshot's statement {ideal_read:.2f} ms; "
          f"all {nstmts} statements of a stream's start {ideal_all:.2f} ms; relay/pgbench "
          f"{total[0] / ideal_read:.2f} (read + JSON against the statement)")


def log_times(program, pattern, since):
    """Server-side times of requests logged by `program` after byte `since`."""
    with open(os.path.join(LOG, f"{program}.log"), encoding="utf-8", errors="replace") as f:
        f.seek(since)
        text = f.read()
    return text, [float(m) for m in re.findall(pattern + r" \d+ ([\d.]+)ms", text)]


def export_redownload(card, token, runs=30):
    subprocess.run([os.path.join(ROOT, "scripts/kgstack"), "start", STATE, "worker"],
                   check=True, capture_output=True)
    try:
        get(f"/api/export/project/{card}", token)        # built and stored once
    finally:
        subprocess.run([os.path.join(ROOT, "scripts/kgstack"), "stop", STATE, "worker"],
                       capture_output=True)
    since = os.path.getsize(os.path.join(LOG, "export.log"))
    client = []
    for _ in range(runs):
        t0 = time.perf_counter()
        get(f"/api/export/project/{card}", token)
        client.append((time.perf_counter() - t0) * 1000)
    _, server = log_times("export", r"GET /api/export/project/\S+", since)
    print(f"export re-download of a stored card ({runs} runs): server p50 "
          f"{statistics.median(server):.2f} ms (max {max(server):.2f}), client p50 "
          f"{statistics.median(client):.2f} ms")


def upload_split(token, runs=5):
    rows = ["Nazwa projektu;Opis;Wnioskodawca;Cel;Budżet (PLN);Data rozpoczęcia;"
            "Data zakończenia;Lokalizacja"]
    for i in range(1000):
        rows.append(f"Projekt numer {i};Opis projektu {i}: zajęcia dla dzieci i seniorów, "
                    f"warsztaty i spotkania.;Fundacja nr {i % 37};Integracja sąsiedzka;"
                    f"{10000 + i * 17},50;01.03.2026;31.12.2026;Łódź")
    body = ("\r\n".join(rows) + "\r\n").encode("utf-8")
    since = os.path.getsize(os.path.join(LOG, "batches.log"))
    for _ in range(runs):
        req = urllib.request.Request(f"http://127.0.0.1:{PORTS['lighttpd']}/api/batches",
                                     body, {"Authorization": "Bearer " + token,
                                            "Content-Type": "text/csv"})
        with urllib.request.urlopen(req) as r:
            answer = r.read()
    text, totals = log_times("batches", r"POST /api/batches", since)
    splits = re.findall(r"upload split: (.*)", text)
    print(f"upload of 1,000 CSV rows ({len(body) // 1024} KB in, {len(answer) // 1024} KB "
          f"answer, {runs} runs): server p50 {statistics.median(totals):.1f} ms")
    for s in splits[-2:]:
        print(f"  {s}")
    insert_vs_copy(answer)


def insert_vs_copy(answer, runs=5):
    """The upload's insert statement against COPY of the same 1,000 rows, each
    alone in psql (\\timing, best of `runs`, in a transaction rolled back)."""
    batch = json.loads(answer)["id"]
    rows = psql(f"SELECT jsonb_agg(jsonb_build_object('row', row_number, 'name', name, "
                f"'input', input) ORDER BY row_number) FROM projects WHERE batch_id = '{batch}'")
    data = psql(f"COPY (SELECT '{batch}'::uuid, row_number, name, input FROM projects "
                f"WHERE batch_id = '{batch}' ORDER BY row_number) TO STDOUT")
    # the same rows under the same batch: its own are deleted first, in the transaction
    head = f"BEGIN;\nDELETE FROM projects WHERE batch_id = '{batch}';\n"
    insert = (head + "INSERT INTO projects (batch_id, row_number, name, input)"
              f" SELECT '{batch}'::uuid, (e->>'row')::int, e->>'name', e->'input'"
              f" FROM jsonb_array_elements($rows${rows}$rows$::jsonb) AS e;\nROLLBACK;\n")
    copy = (head + "COPY projects (batch_id, row_number, name, input) FROM STDIN;\n"
            + data + "\n\\.\nROLLBACK;\n")
    best = {}
    for _ in range(runs):
        for name, script in (("INSERT ... jsonb_array_elements", insert), ("COPY", copy)):
            out = subprocess.run(PG + ["-U", "kartograf", "-c", "\\timing on", "-f", "-"],
                                 input=script, check=True, capture_output=True, text=True).stdout
            t = [float(m) for m in re.findall(r"Time: ([\d.]+) ms", out)]
            best[name] = min(best.get(name, float("inf")), t[2])   # BEGIN, DELETE, this
    print("  the same 1,000 rows in psql, the statement alone (best of "
          f"{runs}): " + ", ".join(f"{k} {v:.1f} ms" for k, v in best.items()))


def main():
    t0 = time.time()
    data = make_data()
    print(f"data ready in {time.time() - t0:.0f} s; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    _, sse = bench_endpoints(data)
    if EXTRAS:
        print()
        sse_snapshot(data["batch"], data["owner"], sse)
        export_redownload(data["card"], data["owner"])
        upload_split(data["lister"])
    print(f"load average at the end {os.getloadavg()[0]:.1f}; total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
