"""Spreadsheet upload, batches and the template (issue 4), through both servers."""
import io
import os
import sys
import uuid
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xlsxgen  # noqa: E402

PASSWORD = "upload pass 42"
HEADER = ["Nazwa projektu", "Opis", "Wnioskodawca", "Budżet (PLN)", "Data rozpoczęcia",
          "Data zakończenia", "Grupa docelowa"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _user(ctx):
    email = f"up-{uuid.uuid4().hex[:10]}@test.local"
    rc, _, err = ctx.run_program("worker/kartograf-admin", ["adduser", email], stdin=PASSWORD + "\n")
    assert rc == 0, err
    for key in ctx.redis("--scan", "--pattern", "kg:login:*").split():
        ctx.redis("DEL", key)
    r = ctx.request(ctx.servers["lighttpd"], "POST", "/api/auth/login", {"email": email, "password": PASSWORD})
    assert r.status == 200, r
    return email, {"Authorization": "Bearer " + r.json()["token"]}


def _drop(ctx, email):
    ctx.run_program("worker/kartograf-admin", ["deluser", email])


def _good_rows(n=3):
    rows = [HEADER]
    for i in range(n):
        rows.append([f"Projekt {i + 1}", f"Opis projektu {i + 1} dla mieszkańców.", "Fundacja Łąka",
                     125000 + i, xlsxgen.Date(46082), "31.12.2026", "seniorzy"])
    return rows


def _upload(ctx, base, auth, data, filename="projekty.xlsx", ctype=XLSX, extra_fields=()):
    body, ct = xlsxgen.multipart([("file", filename, ctype, data), *extra_fields])
    return ctx.request(base, "POST", "/api/batches", body, dict(auth, **{"Content-Type": ct}), timeout=30)


def _batch_count(ctx, email):
    return int(ctx.psql(f"SELECT count(*) FROM batches b JOIN users u ON u.id = b.owner_id "
                        f"WHERE u.email = '{email}'").strip())


def test_upload_xlsx_creates_batch(ctx):
    email, auth = _user(ctx)
    try:
        def check(name, base):
            r = _upload(ctx, base, auth, xlsxgen.build(_good_rows(3)),
                        extra_fields=[("name", None, None, "Nabór 2026 – Łódź".encode())])
            assert r.status == 201, r
            b = r.json()
            assert b["name"] == "Nabór 2026 – Łódź" and b["status"] == "VALIDATED", b
            assert b["source_filename"] == "projekty.xlsx"
            assert b["row_count"] == 3 and len(b["projects"]) == 3
            assert b["counts"]["PENDING"] == 3
            assert [p["row"] for p in b["projects"]] == [2, 3, 4]
            assert all(p["status"] == "PENDING" for p in b["projects"])
            inp = ctx.psql(f"SELECT input FROM projects WHERE batch_id = '{b['id']}' AND row_number = 2")
            import json
            inp = json.loads(inp)
            assert inp["budget"] == 125000 and inp["start_date"] == "2026-03-01", inp
            assert inp["end_date"] == "2026-12-31" and inp["organization"] == "Fundacja Łąka", inp
            g = ctx.request(base, "GET", f"/api/batches/{b['id']}", headers=auth)
            assert g.status == 200 and g.json()["id"] == b["id"], g
            lst = ctx.request(base, "GET", "/api/batches?limit=5", headers=auth)
            assert lst.status == 200, lst
            assert lst.json()["batches"][0]["id"] == b["id"]
            assert "projects" not in lst.json()["batches"][0]
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_upload_raw_body_and_inline_strings(ctx):
    email, auth = _user(ctx)
    try:
        data = xlsxgen.build(_good_rows(2), shared=False, with_r=False)
        r = ctx.request(ctx.servers["apache"], "POST", "/api/batches", data,
                        dict(auth, **{"Content-Type": XLSX}), timeout=30)
        assert r.status == 201, r
        assert r.json()["source_filename"] is None and r.json()["row_count"] == 2
    finally:
        _drop(ctx, email)


def test_upload_csv_polish_excel(ctx):
    email, auth = _user(ctx)
    try:
        csv = ("\ufeffNazwa projektu;Opis;Wnioskodawca;Budżet (PLN);Data rozpoczęcia;Data zakończenia\r\n"
               "Park kieszonkowy;\"Opis; ze średnikiem\";Gmina Żółkiewka;1 234,56 zł;01.03.2026;30.06.2026\r\n"
               "\r\n"
               "Biblioteka;Opis 2;Fundacja;1234567;2026-04-01;2026-05-01\r\n").encode("utf-8")
        r = _upload(ctx, ctx.servers["lighttpd"], auth, csv, "projekty.csv", "text/csv")
        assert r.status == 201, r
        b = r.json()
        assert b["row_count"] == 2, b
        import json
        inp = json.loads(ctx.psql(f"SELECT input FROM projects WHERE batch_id = '{b['id']}' ORDER BY row_number LIMIT 1"))
        assert inp["budget"] == 1234.56 and inp["description"] == "Opis; ze średnikiem", inp
        assert inp["organization"] == "Gmina Żółkiewka"
    finally:
        _drop(ctx, email)


def test_validation_errors_reported_all_at_once(ctx):
    email, auth = _user(ctx)
    try:
        rows = [HEADER,
                ["Dobry", "Opis", "Org", 1000, "01.01.2026", "02.01.2026", ""],
                ["", "Brak nazwy", "Org", "", "", "", ""],
                ["Zła kwota", "Opis", "Org", "dużo", "", "", ""],
                ["Zła data", "Opis", "Org", "", "31.02.2026", "", ""],
                ["Kolejność", "Opis", "Org", "", "10.05.2026", "01.05.2026", ""],
                ["Dobry", "Duplikat nazwy", "Org", "", "", "", ""],
                ["Ujemna", "Opis", "", -5, "", "", ""]]

        def check(name, base):
            before = _batch_count(ctx, email)
            r = _upload(ctx, base, auth, xlsxgen.build(rows))
            assert r.status == 400, r
            body = r.json()
            assert body["error"] == "validation_failed" and body["template_url"] == "/api/template.xlsx"
            got = {(e["row"], e["column"], e["code"]) for e in body["errors"]}
            want = {(3, "A", "required"), (4, "D", "invalid_amount"), (5, "E", "invalid_date"),
                    (6, "F", "date_order"), (7, "A", "duplicate_name"), (8, "C", "required"),
                    (8, "D", "amount_range")}
            assert want <= got, (want - got, body["errors"])
            assert all(e["message"] for e in body["errors"])
            assert _batch_count(ctx, email) == before, "something was created"
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_missing_columns_and_english_headers(ctx):
    email, auth = _user(ctx)
    try:
        base = ctx.servers["lighttpd"]
        r = _upload(ctx, base, auth, xlsxgen.build([["Nazwa projektu", "Budżet"], ["A", 1]]))
        assert r.status == 400, r
        codes = {(e["code"], e["field"]) for e in r.json()["errors"]}
        assert ("missing_column", "description") in codes and ("missing_column", "organization") in codes
        r = _upload(ctx, base, auth, xlsxgen.build([["PROJECT NAME", "description", "Organisation", "BUDZET (pln)"],
                                                    ["A", "d", "o", "2 500,00 zł"]]))
        assert r.status == 201, r
    finally:
        _drop(ctx, email)


def _bomb():
    buf = io.BytesIO()
    big = b"<row>" + b" " * (60 << 20) + b"</row>"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        base = xlsxgen.build(_good_rows(1))
        with zipfile.ZipFile(io.BytesIO(base)) as src:
            for n in src.namelist():
                if n != "xl/worksheets/sheet1.xml":
                    z.writestr(n, src.read(n))
        z.writestr("xl/worksheets/sheet1.xml", b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + big + b"</sheetData></worksheet>")
    return buf.getvalue()


def test_hostile_files_refused(ctx):
    email, auth = _user(ctx)
    try:
        good = xlsxgen.build(_good_rows(2))
        docx = io.BytesIO()
        with zipfile.ZipFile(docx, "w") as z:
            z.writestr("[Content_Types].xml", "<Types/>")
            z.writestr("word/document.xml", "<document/>")
        cases = {
            "not a zip": (b"hello, this is not a spreadsheet at all", "x.xlsx", 400),
            "truncated": (good[: len(good) // 2], "x.xlsx", 400),
            "renamed docx": (docx.getvalue(), "x.xlsx", 400),
            "old xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "x.xls", 400),
            "doctype": (xlsxgen.build(_good_rows(1), doctype=True), "x.xlsx", 400),
            "zip bomb": (_bomb(), "x.xlsx", 400),
            "empty": (b"", "x.xlsx", 400),
        }

        def check(name, base):
            before = _batch_count(ctx, email)
            for what, (data, fn, status) in cases.items():
                r = _upload(ctx, base, auth, data, fn)
                assert r.status == status, f"{what}: {r}"
                assert r.json()["error"] and r.json()["message"], f"{what}: {r}"
            assert _batch_count(ctx, email) == before
            assert _upload(ctx, base, auth, good).status == 201, "process not alive"
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_limits(ctx):
    email, auth = _user(ctx)
    try:
        base = ctx.servers["lighttpd"]
        rows = [HEADER] + [[f"P{i}", "Opis", "Org", "", "", "", ""] for i in range(1001)]
        r = _upload(ctx, base, auth, xlsxgen.build(rows))
        assert r.status == 422, r
        assert "1000" in r.json()["message"], r.json()
        r = _upload(ctx, base, auth, os.urandom(11 << 20))
        assert r.status == 413, r
        r = ctx.request(base, "POST", "/api/batches", b"x", dict(auth, **{"Content-Type": "image/png"}))
        assert r.status == 415, r
        body, ct = xlsxgen.multipart([("other", None, None, b"x")])
        r = ctx.request(base, "POST", "/api/batches", body, dict(auth, **{"Content-Type": ct}))
        assert r.status == 400 and "file" in r.json()["message"], r
        body, ct = xlsxgen.multipart([("file", "a.xlsx", XLSX, xlsxgen.build(_good_rows(1)))])
        r = ctx.request(base, "POST", "/api/batches", body[:-30], dict(auth, **{"Content-Type": ct}))
        assert r.status == 400, r
    finally:
        _drop(ctx, email)


def test_batches_are_private(ctx):
    a, auth_a = _user(ctx)
    b, auth_b = _user(ctx)
    try:
        r = _upload(ctx, ctx.servers["lighttpd"], auth_a, xlsxgen.build(_good_rows(1)))
        assert r.status == 201, r
        bid = r.json()["id"]

        def check(name, base):
            assert ctx.request(base, "GET", f"/api/batches/{bid}", headers=auth_b).status == 404
            assert ctx.request(base, "GET", f"/api/batches/{bid}").status == 401
            assert ctx.request(base, "GET", "/api/batches/not-a-uuid", headers=auth_a).status == 404
            lst = ctx.request(base, "GET", "/api/batches?all=1", headers=auth_b).json()
            assert bid not in [x["id"] for x in lst["batches"]]
            assert ctx.request(base, "POST", "/api/batches", b"x", {"Content-Type": XLSX}).status == 401
            assert ctx.request(base, "GET", "/api/batches?limit=0", headers=auth_a).status == 400
        ctx.check_servers(check)
    finally:
        _drop(ctx, a)
        _drop(ctx, b)


def test_template_download_and_roundtrip(ctx):
    email, auth = _user(ctx)
    try:
        def check(name, base):
            r = ctx.request(base, "GET", "/api/template.xlsx")
            assert r.status == 200, r
            assert r.header("content-type", "").startswith(XLSX)
            assert "attachment" in r.header("content-disposition", "")
            with zipfile.ZipFile(io.BytesIO(r.body)) as z:
                names = z.namelist()
                assert "xl/workbook.xml" in names, names
                wb = z.read("xl/workbook.xml").decode()
                assert "Projekty" in wb and "Instrukcja" in wb
            up = _upload(ctx, base, auth, r.body, "kartograf-szablon.xlsx")
            assert up.status == 201, up
            assert up.json()["row_count"] == 1
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)
