"""The API document (issue 18): GET /api/openapi.json serves the document the
build generated from the programs' route tables; it is valid OpenAPI 3.1 by an
offline validator from npm (tests/openapi); every route of every program and
every line of apache/routes is in it; and the real answers of the main
operations - successes and errors - validate against its schemas.

(scripts/test.sh also checks every answer of the whole run against the
document, from the responses run.py records.)"""
import glob
import json
import os
import re
import subprocess
import uuid

import xlsxgen  # noqa: E402
from kgtest import drop_users, new_user  # noqa: E402
from test_projects import _project  # noqa: E402
from test_upload import XLSX, _good_rows, _upload  # noqa: E402

PASSWORD = "openapi pass 42"
SAMPLE = {"uuid": str(uuid.uuid4()), "int": "7", "key": "summary"}

# The main GET/PATCH/POST operations: each must be answered with a 2xx here.
MAIN = ["post_auth_login", "get_auth_me", "get_health", "get_openapi_json",
        "post_batches", "get_batches", "get_batches_id", "post_batches_id_generate",
        "get_projects_id", "patch_projects_id", "get_projects_id_sections_key_revisions",
        "post_projects_id_sections_key_revert", "post_projects_id_sections_key_regenerate"]


def _doc(ctx):
    with open(os.path.join(ctx.build, "openapi.json"), encoding="utf-8") as f:
        return json.load(f)


def _check(ctx, *args):
    p = subprocess.run([os.path.join(ctx.root, "tests/openapi/run.sh"), *args],
                       capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout + p.stderr


def _programs(ctx):
    """{program: {(METHOD, path)}} from every program's own --openapi."""
    out = {}
    for exe in sorted(glob.glob(os.path.join(ctx.build, "cgi-bin", "*.fcgi"))):
        p = subprocess.run([exe, "--openapi"], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, f"{exe} --openapi: {p.stderr}"
        frag = json.loads(p.stdout)
        out[frag["program"]] = {(m.upper(), path) for path, item in frag["paths"].items()
                                for m in item}
        assert out[frag["program"]], f"{exe} declares no route"
    return out


def _routes_lines(ctx):
    lines = []
    with open(os.path.join(ctx.root, "apache", "routes"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                prog, regex = line.split()[:2]
                lines.append((prog, re.compile(regex)))
    return lines


def _instance(path, op):
    """A concrete URL path for a documented one: each {param} by its type."""
    for prm in op.get("parameters", []):
        if prm["in"] != "path":
            continue
        s = prm["schema"]
        value = SAMPLE["uuid"] if s.get("format") == "uuid" else \
            SAMPLE["int"] if "0-9]{1,18}" in s.get("pattern", "") else SAMPLE["key"]
        path = path.replace("{" + prm["name"] + "}", value)
    return path


def test_openapi_served_is_the_built_one(ctx):
    built = _doc(ctx)

    def check(name, base):
        r = ctx.request(base, "GET", "/api/openapi.json")
        assert r.status == 200, r
        assert r.header("content-type", "").startswith("application/json"), r.headers
        assert r.json() == built, "served document differs from build/openapi.json"
        r = ctx.request(base, "POST", "/api/openapi.json", b"{}")
        assert r.status == 405 and "GET" in r.header("allow", ""), r
    ctx.check_servers(check)


def test_openapi_is_valid_openapi_31(ctx):
    doc = _doc(ctx)
    assert doc["openapi"].startswith("3.1"), doc["openapi"]
    rc, out = _check(ctx, os.path.join(ctx.build, "openapi.json"))
    assert rc == 0, out
    # and the validator does refuse a broken document
    doc["paths"]["/api/health"]["get"]["responses"]["200"]["surprise"] = 1
    bad = os.path.join(ctx.tmpdir, "broken-openapi.json")
    with open(bad, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    rc, out = _check(ctx, bad)
    assert rc != 0 and "not valid" in out, out


def test_openapi_has_every_route_and_routes_line(ctx):
    doc = _doc(ctx)
    documented = {(m.upper(), path): op["tags"][0] for path, item in doc["paths"].items()
                  for m, op in item.items()}
    # every route of every program, tagged with its program
    for prog, ops in _programs(ctx).items():
        for op in ops:
            assert documented.get(op) == prog, f"{op} of {prog} not in the document"
    assert len(documented) == sum(len(v) for v in _programs(ctx).values())
    # every line of apache/routes leads to documented operations of its program,
    # and every documented path is routed to the program that declares it
    lines = _routes_lines(ctx)
    hits = {i: 0 for i in range(len(lines))}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            url = _instance(path, op)
            first = next((i for i, (_, rx) in enumerate(lines) if rx.search(url)), None)
            routed = lines[first][0] if first is not None else (
                "health" if url.startswith("/api/") else None)
            assert routed == op["tags"][0], \
                f"{method.upper()} {url} is routed to {routed}, declared by {op['tags'][0]}"
            if first is not None:
                hits[first] += 1
    for i, (prog, rx) in enumerate(lines):
        assert hits[i], f"apache/routes line {prog} {rx.pattern} matches no documented path"


def test_openapi_main_responses_validate(ctx):
    email, auth = new_user(ctx, "oa", password=PASSWORD)
    record = os.path.join(ctx.state, "responses.jsonl")
    start = os.path.getsize(record) if os.path.exists(record) else 0
    try:
        def check(name, base):
            req = ctx.request
            assert req(base, "GET", "/api/health").status == 200
            assert req(base, "GET", "/api/openapi.json").status == 200
            assert req(base, "POST", "/api/auth/login",
                       {"email": email, "password": PASSWORD}).status == 200
            assert req(base, "POST", "/api/auth/login", {"email": email}).status == 400
            assert req(base, "POST", "/api/auth/login",
                       {"email": email, "password": "wrong one"}).status == 401
            assert req(base, "GET", "/api/auth/me", headers=auth).status == 200
            assert req(base, "GET", "/api/auth/me").status == 401
            # a batch: upload, list, read, generate
            r = _upload(ctx, base, auth, xlsxgen.build(_good_rows(2)))
            assert r.status == 201, r
            bid = r.json()["id"]
            bad = [["Nazwa projektu", "Opis"], ["", "x"]]
            assert _upload(ctx, base, auth, xlsxgen.build(bad)).status == 400
            assert _upload(ctx, base, auth, b"", ctype=XLSX).status == 400
            assert req(base, "GET", "/api/batches?limit=5", headers=auth).status == 200
            assert req(base, "GET", f"/api/batches/{bid}", headers=auth).status == 200
            assert req(base, "GET", f"/api/batches/{uuid.uuid4()}", headers=auth).status == 404
            r = req(base, "POST", f"/api/batches/{bid}/generate", {}, auth)
            assert r.status == 202, r
            r = req(base, "POST", f"/api/batches/{bid}/generate", {"project_ids": ["x"]}, auth)
            assert r.status == 400, r
            # a card: read, edit, history, revert, regenerate
            pid = _project(ctx, email)
            path = f"/api/projects/{pid}"
            assert req(base, "GET", path, headers=auth).status == 200
            edit = {"version": 1, "sections": {"summary": {"body": "Nowe streszczenie."}}}
            assert req(base, "PATCH", path, edit, auth).status == 200
            r = req(base, "PATCH", path, edit, auth)
            assert r.status == 409 and r.json()["project"]["version"] == 2, r
            assert req(base, "PATCH", path, {"sections": edit["sections"]}, auth).status == 428
            assert req(base, "PATCH", path, {"version": 2, "sections": {
                "nope": {"body": "x"}}}, auth).status == 422
            assert req(base, "PATCH", path, b"{}", dict(auth, **{"Content-Type": "text/plain"})
                       ).status == 415
            r = req(base, "GET", path + "/sections/summary/revisions", headers=auth)
            assert r.status == 200, r
            oldest = r.json()["revisions"][-1]["id"]
            r = req(base, "POST", path + "/sections/summary/revert",
                    {"version": 2, "revision_id": oldest}, auth)
            assert r.status == 200, r
            r = req(base, "POST", path + "/sections/budget/regenerate",
                    {"version": 3, "instruction": "krócej"}, auth)
            assert r.status == 202, r
        ctx.check_servers(check)
    finally:
        drop_users(ctx, email)
    mine = os.path.join(ctx.tmpdir, "openapi-responses.jsonl")
    with open(record, "rb") as f, open(mine, "wb") as out:
        f.seek(start)
        out.write(f.read())
    rc, out = _check(ctx, os.path.join(ctx.build, "openapi.json"), mine,
                     "--require", ",".join(MAIN))
    assert rc == 0, out
