"""Spreadsheet upload, batches and the template (issue 4), through both servers."""
import io
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xlsxgen  # noqa: E402
from kgtest import drop_users, new_user  # noqa: E402

PASSWORD = "upload pass 42"
HEADER = ["Nazwa projektu", "Opis", "Wnioskodawca", "Budżet (PLN)", "Data rozpoczęcia",
          "Data zakończenia", "Grupa docelowa"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _user(ctx):
    return new_user(ctx, "up", password=PASSWORD)


_drop = drop_users


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


def test_upload_stores_backslashes_quotes_and_copy_markers(ctx):
    """The projects go to PostgreSQL with COPY (text format): backslashes,
    quotes, a lone \\N (COPY's NULL marker), a literal ,"input": in a name and
    tabs reach the database exactly as validated, through both servers."""
    import json
    names = ["\\N", 'C:\\Dane\\"cytat"', 'Nazwa ,"input":{"x":1}', "\\.", "a\\tb\\\\c"]
    descs = ["linia1\\nlinia2", "tab\there", "\\", 'x","input":"y', "ostatni \\\\ wiersz"]
    email, auth = _user(ctx)
    try:
        def cell(v):
            return '"' + v.replace('"', '""') + '"'
        org = cell("Fundacja \\ Łąka")
        csv = "Nazwa projektu;Opis;Wnioskodawca\r\n" + "".join(
            f"{cell(n)};{cell(d)};{org}\r\n" for n, d in zip(names, descs))

        def check(name, base):
            r = _upload(ctx, base, auth, csv.encode(), "projekty.csv", "text/csv")
            assert r.status == 201, r
            b = r.json()
            assert [p["name"] for p in b["projects"]] == names, b["projects"]
            rows = ctx.psql(f"SELECT json_agg(json_build_object('n', name, 'i', input) ORDER BY "
                            f"row_number) FROM projects WHERE batch_id = '{b['id']}'")
            stored = json.loads(rows)
            assert [x["n"] for x in stored] == names, stored
            # tabs inside a cell collapse to one space like any whitespace
            assert [x["i"]["description"] for x in stored] == \
                [d.replace("\t", " ") for d in descs], stored
            assert all(x["i"]["name"] == n and x["i"]["organization"] == "Fundacja \\ Łąka"
                       for x, n in zip(stored, names)), stored
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def _many_rows(n, special_at, special_name):
    rows = _good_rows(n)
    rows[special_at][0] = special_name
    return rows


def _project_count(ctx, email):
    return int(ctx.psql(f"SELECT count(*) FROM projects p JOIN batches b ON b.id = p.batch_id "
                        f"JOIN users u ON u.id = b.owner_id WHERE u.email = '{email}'").strip())


def _trigger(ctx, token, body):
    """A BEFORE INSERT trigger on projects that runs `body` (plpgsql) for the
    row named `token` only, so nothing else on the stack notices it."""
    ctx.psql(f"""CREATE FUNCTION kgtest_{token}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.name = '{token}' THEN {body} END IF; RETURN NEW; END $$;
        CREATE TRIGGER kgtest_{token} BEFORE INSERT ON projects
        FOR EACH ROW EXECUTE FUNCTION kgtest_{token}();""")


def _drop_trigger(ctx, token):
    ctx.psql(f"DROP TRIGGER IF EXISTS kgtest_{token} ON projects; "
             f"DROP FUNCTION IF EXISTS kgtest_{token}();")


def test_upload_large_files_spooled(ctx):
    """Uploads past 64 KiB are spooled to an unlinked temporary file and read
    from it (libzip through the descriptor for .xlsx, mapped for CSV): 1000
    rows (the limit) with incompressible descriptions, every row stored as
    validated."""
    import json
    email, auth = _user(ctx)
    try:
        rows = _good_rows(1000)
        for r in rows[1:]:
            r[1] = "Opis " + os.urandom(150).hex()
        data = xlsxgen.build(rows)
        assert len(data) > 200 * 1024, len(data)
        csv = "Nazwa projektu;Opis;Wnioskodawca\r\n" + "".join(
            f"{r[0]};{r[1]};{r[2]}\r\n" for r in rows[1:])
        for base, body, fname, ctype in [(ctx.servers["lighttpd"], data, "duzy.xlsx", XLSX),
                                         (ctx.servers["apache"], csv.encode(), "duzy.csv", "text/csv")]:
            r = _upload(ctx, base, auth, body, fname, ctype)
            assert r.status == 201 and r.json()["row_count"] == 1000, r
            stored = json.loads(ctx.psql(
                f"SELECT json_agg(input->>'description' ORDER BY row_number) FROM projects "
                f"WHERE batch_id = '{r.json()['id']}'"))
            assert stored == [row[1] for row in rows[1:]]
        r = _upload(ctx, ctx.servers["lighttpd"], auth, xlsxgen.build(_good_rows(1001)))
        assert r.status == 422 and r.json()["error"] == "too_many_rows", r
    finally:
        _drop(ctx, email)


def test_upload_failing_copy_leaves_nothing(ctx):
    """The rows are COPYed while the file is read; when the server refuses a
    row half-way (here a trigger raises on row 402, after ~100 KiB of
    rows went to the server in earlier pieces), the answer is an error and
    neither the batch nor any of its rows is stored, through both servers;
    the next upload works."""
    token = "boom" + os.urandom(4).hex()
    email, auth = _user(ctx)
    _trigger(ctx, token, "RAISE EXCEPTION 'kgtest refuses this row';")
    try:
        def check(name, base):
            before = _batch_count(ctx, email)
            r = _upload(ctx, base, auth, xlsxgen.build(_many_rows(600, 401, token)))
            assert r.status == 500 and r.json()["error"] == "db_error", r
            assert _batch_count(ctx, email) == before, "a batch was stored"
            assert _project_count(ctx, email) == 0
            r = _upload(ctx, base, auth, xlsxgen.build(_good_rows(3)))
            assert r.status == 201 and r.json()["row_count"] == 3, r
            ctx.psql(f"DELETE FROM batches WHERE id = '{r.json()['id']}'")
        ctx.check_servers(check)
    finally:
        _drop_trigger(ctx, token)
        _drop(ctx, email)


def test_upload_connection_lost_mid_copy_leaves_nothing(ctx):
    """PostgreSQL drops the endpoint's connection in the middle of the COPY
    (its backend terminated while a trigger holds row 302, as a server
    restart does): 503, nothing stored, and the program reconnects for the
    next upload."""
    import threading
    import time
    token = "slow" + os.urandom(4).hex()
    email, auth = _user(ctx)
    _trigger(ctx, token, "PERFORM pg_sleep(20);")
    try:
        base = ctx.servers["lighttpd"]
        before = _batch_count(ctx, email)
        got = {}
        t = threading.Thread(target=lambda: got.update(r=_upload(
            ctx, base, auth, xlsxgen.build(_many_rows(400, 301, token)))))
        t.start()
        killed = "0"
        for _ in range(100):
            killed = ctx.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE query LIKE 'COPY projects%' AND state = 'active'").strip()
            if killed != "0":
                break
            time.sleep(0.1)
        t.join(30)
        assert killed != "0", "the COPY was never seen running"
        r = got["r"]
        assert r.status == 503 and r.json()["error"] == "unavailable", r
        assert _batch_count(ctx, email) == before, "a batch was stored"
        assert _project_count(ctx, email) == 0
        r = _upload(ctx, base, auth, xlsxgen.build(_good_rows(2)))
        assert r.status == 201 and r.json()["row_count"] == 2, r
    finally:
        _drop_trigger(ctx, token)
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
            # openpyxl (what many users' scripts use) opens it cleanly
            import openpyxl
            wb = openpyxl.load_workbook(io.BytesIO(r.body))
            assert wb.sheetnames == ["Projekty", "Instrukcja"], wb.sheetnames
            head = [c.value for c in wb["Projekty"][1]]
            assert head[:3] == ["Nazwa projektu", "Opis", "Wnioskodawca"], head
            assert wb["Projekty"].data_validations.dataValidation, "no data validation"
            up = _upload(ctx, base, auth, r.body, "kartograf-szablon.xlsx")
            assert up.status == 201, up
            assert up.json()["row_count"] == 1
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


# ---- hostile fixtures, generated here (never committed as binaries) -------

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET = "xl/worksheets/sheet1.xml"
SST = "xl/sharedStrings.xml"


def _rezip(base, parts, level=9):
    """`base` (an xlsx) with the entries in `parts` replaced or added, in that order."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, \
            zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for n in src.namelist():
            if n not in parts:
                z.writestr(n, src.read(n))
        for n, data in parts.items():
            z.writestr(n, data)
    return buf.getvalue()


def _sheet_with(rows, tail):
    """A worksheet: `rows` as inline strings from row 1, then the raw XML `tail`."""
    out = []
    for ri, row in enumerate(rows, start=1):
        cells = "".join(f'<c r="{xlsxgen.col_name(ci)}{ri}" t="inlineStr"><is><t>{xlsxgen.escape(v)}</t></is></c>'
                        for ci, v in enumerate(row) if v != "")
        out.append(f'<row r="{ri}">{cells}</row>')
    return (f'<worksheet xmlns="{NS_MAIN}"><sheetData>{"".join(out)}'.encode()
            + tail + b"</sheetData></worksheet>")


def _hostile_check(ctx, auth, email, cases, good):
    """Every case -> its expected answer; nothing created by a refused one; the program
    answers a good upload afterwards (it stayed up)."""
    import time

    def check(name, base):
        for what, (data, want) in cases.items():
            before = _batch_count(ctx, email)
            t0 = time.monotonic()
            r = _upload(ctx, base, auth, data)
            took = time.monotonic() - t0
            assert took < 60, f"{what}: took {took:.1f} s"
            assert r.header("content-type", "").startswith("application/json"), f"{what}: {r}"
            body = r.json()
            assert "root:x:0:0" not in r.text, f"{what}: /etc/passwd leaked"
            created = _batch_count(ctx, email) - before
            if r.status == 201:
                assert created == 1, f"{what}: 201 but {created} batches created"
            else:
                assert created == 0, f"{what}: {r.status} but a batch was created"
                assert body["error"] and body["message"], f"{what}: {r}"
            want(what, r, body)
            ok = _upload(ctx, base, auth, good)
            assert ok.status == 201, f"{what}: program not answering after it: {ok}"
    ctx.check_servers(check)


def _expect(status, code=None, words=()):
    def want(what, r, body):
        assert r.status == status, f"{what}: want {status}, got {r}"
        if code:
            assert body["error"] == code, f"{what}: want {code}: {body}"
        for w in words:
            assert w in body["message"], f"{what}: {w!r} not in {body['message']!r}"
    return want


def _expect_rows(n):
    def want(what, r, body):
        assert r.status == 201, f"{what}: {r}"
        assert body["row_count"] == n and len(body["projects"]) == n, f"{what}: {body}"
    return want


def _expect_clean(real_rows):
    """Whatever the reader decides, it is a clean JSON 4xx or a 201 that counts only
    the real rows."""
    def want(what, r, body):
        if r.status == 201:
            assert body["row_count"] == real_rows, f"{what}: {body}"
        else:
            assert 400 <= r.status < 500 and body["error"] in (
                "zip_bomb", "too_many_rows", "too_large", "bad_xlsx"), f"{what}: {r}"
    return want


def test_hostile_million_empty_rows(ctx):
    """1,000,000 empty rows after two real ones: as <row r="n"/>, as <row/> without
    numbers (so repetitive it is refused by ratio), and with empty styled cells."""
    email, auth = _user(ctx)
    try:
        good = xlsxgen.build(_good_rows(1))
        real = [HEADER, _row_text(1), _row_text(2)]
        first = len(real) + 1
        numbered = b"".join(b'<row r="%d"/>' % n for n in range(first, first + 1_000_000))
        bare = b"<row/>" * 1_000_000
        cells = b"".join(b'<row r="%d"><c r="A%d" s="1"/><c r="B%d"><v></v></c></row>' % (n, n, n)
                         for n in range(first, first + 1_000_000))
        cases = {
            "million <row r=n/>": (_rezip(good, {SHEET: _sheet_with(real, numbered)}), _expect_clean(2)),
            "million <row/>": (_rezip(good, {SHEET: _sheet_with(real, bare)}), _expect_clean(2)),
            "million rows of empty <c>": (_rezip(good, {SHEET: _sheet_with(real, cells)}), _expect_clean(2)),
        }
        for what, (data, _) in cases.items():
            assert len(data) < 10 << 20, f"{what}: fixture too big for the upload limit"
        _hostile_check(ctx, auth, email, cases, good)
    finally:
        _drop(ctx, email)


def _row_text(i):
    return [f"Projekt {i}", f"Opis projektu {i}.", "Fundacja Łąka", "", "", "", ""]


def test_hostile_shared_strings(ctx):
    """Attacks inside sharedStrings.xml (the sheet itself is harmless)."""
    email, auth = _user(ctx)
    try:
        good = xlsxgen.build(_good_rows(1))
        huge = (f'<sst xmlns="{NS_MAIN}" count="1" uniqueCount="1"><si><t>'.encode()
                + b"A" * (20 << 20) + b"</t></si></sst>")
        laughs = ('<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY l0 "ha">'
                  + "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10))
                  + f']><sst xmlns="{NS_MAIN}"><si><t>&l9;</t></si></sst>').encode()
        xxe = ('<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               f'<sst xmlns="{NS_MAIN}"><si><t>&x;</t></si></sst>').encode()
        xxe_sheet = ('<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                     f'<worksheet xmlns="{NS_MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr">'
                     '<is><t>&x;</t></is></c></row></sheetData></worksheet>').encode()
        # a sheet whose cells all point at shared string 0 (the hostile one)
        refs = _sheet_with([], b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
        cases = {
            "20 MB shared string": (_rezip(good, {SST: huge, SHEET: refs}),
                                    _expect(400, words=("shared string",))),
            "billion laughs in sharedStrings": (_rezip(good, {SST: laughs, SHEET: refs}),
                                                _expect(400, "xml_forbidden")),
            "XXE in sharedStrings": (_rezip(good, {SST: xxe, SHEET: refs}), _expect(400, "xml_forbidden")),
            "XXE in the sheet": (_rezip(good, {SHEET: xxe_sheet}), _expect(400, "xml_forbidden")),
        }
        assert len(cases["20 MB shared string"][0]) < 100 << 10, "the huge string's zip is not small"
        _hostile_check(ctx, auth, email, cases, good)
    finally:
        _drop(ctx, email)


def test_hostile_entry_names(ctx):
    """Entries named ../../evil.xml or /etc/x are ignored (the rest of the workbook is
    good, so it is accepted); a relationship that climbs out of the package is not
    followed."""
    email, auth = _user(ctx)
    try:
        good = xlsxgen.build(_good_rows(2))
        evil = f'<worksheet xmlns="{NS_MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>evil</t></is></c></row></sheetData></worksheet>'
        rels_out = xlsxgen.WB_RELS.replace('Target="worksheets/sheet1.xml"', 'Target="../../evil.xml"')
        cases = {
            "traversal entries": (_rezip(good, {"../../evil.xml": evil, "/etc/x": evil,
                                                "/xl/worksheets/sheet1.xml": evil}), _expect_rows(2)),
            "rels target out of the package": (_rezip(good, {"xl/_rels/workbook.xml.rels": rels_out,
                                                             "../../evil.xml": evil}),
                                               _expect(400, "not_xlsx")),
        }
        with zipfile.ZipFile(io.BytesIO(cases["traversal entries"][0])) as z:
            assert "../../evil.xml" in z.namelist() and "/etc/x" in z.namelist(), z.namelist()
        _hostile_check(ctx, auth, email, cases, good)
    finally:
        _drop(ctx, email)


def _openpyxl_merged():
    """Two real openpyxl files: a title merged over A1:H1 above the header (row 2), and
    a header whose "Budżet (PLN)" is merged over D1:E1.  None if openpyxl is missing."""
    try:
        from openpyxl import Workbook
    except ImportError:
        return None
    import datetime
    out = {}
    wb = Workbook()
    ws = wb.active
    ws["A1"] = "Nabór wniosków 2026 – Gmina Łąka"
    ws.merge_cells("A1:H1")
    for c, v in enumerate(HEADER, 1):
        ws.cell(row=2, column=c, value=v)
    for r in (3, 4):
        for c, v in enumerate([f"Projekt {r}", "Opis", "Fundacja", 1000 * r, datetime.date(2026, 3, r),
                               datetime.date(2026, 9, r), "seniorzy"], 1):
            ws.cell(row=r, column=c, value=v)
    buf = io.BytesIO()
    wb.save(buf)
    out["title"] = buf.getvalue()
    wb = Workbook()
    ws = wb.active
    for c, v in enumerate(["Nazwa projektu", "Opis", "Wnioskodawca", "Budżet (PLN)", None, "Grupa docelowa"], 1):
        if v:
            ws.cell(row=1, column=c, value=v)
    ws.merge_cells("D1:E1")
    for c, v in enumerate(["Projekt A", "Opis", "Fundacja", 2500, None, "młodzież"], 1):
        if v is not None:
            ws.cell(row=2, column=c, value=v)
    buf = io.BytesIO()
    wb.save(buf)
    out["budget"] = buf.getvalue()
    return out


def test_merged_header_cells_openpyxl(ctx):
    """Merged cells as openpyxl writes them (value in the top-left cell only)."""
    files = _openpyxl_merged()
    if files is None:
        print("skip: python3-openpyxl not installed")
        return
    email, auth = _user(ctx)
    try:
        good = xlsxgen.build(_good_rows(1))

        def title_row(what, r, body):
            # The merged title is the first non-empty row, so it is read as the header:
            # a validation error naming the missing columns in row 1, not a crash or a
            # silently wrong batch.  (Finding a header below a title is a kg_rows matter.)
            if r.status == 201:
                assert body["row_count"] == 2 and [p["row"] for p in body["projects"]] == [3, 4], body
            else:
                assert r.status == 400 and body["error"] == "validation_failed", f"{what}: {r}"
                codes = {(e["row"], e["code"]) for e in body["errors"]}
                assert (1, "missing_column") in codes, body["errors"]
                assert body["template_url"], body

        cases = {
            "title merged over the header": (files["title"], title_row),
            # D1:E1 merged: D is the budget column, E has no header and no data
            "header merged over two columns": (files["budget"], _expect_rows(1)),
        }
        _hostile_check(ctx, auth, email, cases, good)
    finally:
        _drop(ctx, email)
