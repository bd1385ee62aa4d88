"""Real-world spreadsheets (issue 19): files other readers test with, uploaded
through the endpoint and read cell by cell beside openpyxl.

The corpus is tests/fixtures/realworld/ (sources and licences in its
LICENSES.md).  For every file:

  * the upload (POST /api/batches) is answered with JSON and the status the
    file deserves -- never a 500; a file the reader refuses is refused with
    the code in REFUSED (none of these files is in the template's format, so
    the others get 400 validation_failed);
  * what the reader sees (build/worker/kartograf-sheet FILE, the same reader
    the endpoint uses) is compared with openpyxl's reading, cell by cell, in
    the reader's text form.  Every cell that differs must be explained by a
    rule in DIFFERENCES for that file, and each rule must explain exactly
    the number of cells it names: a new difference, or one that goes away,
    fails the test.  Files openpyxl cannot read are listed in
    OPENPYXL_FAILS with the reason and compared with what they must read as.
"""
import datetime
import json
import os
import re
import sys
import unicodedata
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xlsxgen  # noqa: E402
from kgtest import drop_users, new_user  # noqa: E402

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "realworld")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# file -> (error code, words of the message): refused, with a reason the user can act on
REFUSED = {
    "calamine/date.xls": ("unsupported_format", "Excel 97-2003 .xls"),
    "calamine/pass_protected.xlsx": ("encrypted", "password"),
    "xlsx-populate/encrypted_input.xlsx": ("encrypted", "password"),
    # a CRC error in xl/_rels/workbook.xml.rels: the bytes are garbage, and
    # openpyxl refuses it too (BadZipFile: Bad CRC-32)
    "calamine/issue252.xlsx": ("bad_xlsx", "workbook.xml.rels"),
}

# file -> (why openpyxl cannot read it, the file whose openpyxl reading it must equal
# or None, and then the cells we must see, {(row, col): text})
OPENPYXL_FAILS = {
    "derived/backslash-names.xlsx": (
        "KeyError: no item named 'xl/workbook.xml' (openpyxl does not map '\\' to '/')",
        "calamine/date.xlsx", {}),
    "calamine/strict_iso_paths.xlsx": (
        "IndexError: openpyxl does not read Strict OOXML namespaces", None,
        {(1, 0): "Item", (1, 1): "Thickness"}),
    "sheetjs/xlsx-stream-d-date-cell.xlsx": (
        "IndexError: openpyxl does not read Strict OOXML namespaces", None,
        {(1, 1): "てすと", (3, 3): "1.23456789e+22", (5, 1): "2014-02-14 08:27:48"}),
    "calamine/issue_419.xlsx": (
        "KeyError: the workbook's rels name xl/sharedStrings.xml, which the zip lacks "
        "(Excel opens it; a cell that would refer to it is refused, none does)", None,
        {(1, 0): "Hello"}),
}

_DT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def _duration(cell, ours, theirs, typ):
    """[h]:mm:ss of a day or more: Excel shows elapsed hours (255:10:10),
    openpyxl returns a datetime (1900-01-10 15:10:10, its seconds truncated
    where Excel rounds them)."""
    m = re.match(r"^(\d+):(\d\d):(\d\d)$", ours)
    if typ != "H" or not m or int(m.group(1)) < 24 or not _DT.match(theirs):
        return False
    h, mi, s = (int(x) for x in theirs[11:].split(":"))
    tod = (int(m.group(1)) % 24) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
    return (tod - (h * 3600 + mi * 60 + s)) % 86400 in (0, 1)


def _rounded_second(cell, ours, theirs, typ):
    """A time with a fraction of a second (16:17:36.678): Excel shows it
    rounded (16:17:37, mm:ss 17:37), openpyxl's time truncates to 16:17:36."""
    if typ != "H" or not _DT.match(theirs):
        return False
    h, mi, s = (int(x) for x in theirs[11:].split(":"))
    t = h * 3600 + mi * 60 + s + 1
    full = "%02d:%02d:%02d" % (t // 3600 % 24, t // 60 % 60, t % 60)
    return ours in (full, full[:5], full[3:])


def _escaped_slash_date(cell, ours, theirs, typ):
    """Format mm\\/dd\\/yy: Excel shows a date; openpyxl's date test stops at
    the escaped slash and returns the serial."""
    return typ == "D" and re.match(r"^\d+$", theirs) and ours == _serial_date(int(theirs))


def _parts_not_under_xl(cell, ours, theirs, typ):
    """Parts under wtf/ instead of xl/: openpyxl looks for xl/styles.xml by
    name, misses the built-in date style 14 and returns the serial; the
    relationships say where styles.xml is."""
    return typ == "D" and re.match(r"^\d+(\.\d+)?$", theirs) and \
        ours == _serial_date(int(float(theirs)))


def _dimension_trusted(cell, ours, theirs, typ):
    """openpyxl's read-only mode trusts <dimension ref="A1:C1"> and drops
    columns D-F, which Excel shows; we never trust <dimension>."""
    return typ == "T" and theirs == "" and ours != ""


DURATION = (_duration, "openpyxl gives a datetime for a [h]:mm:ss duration")
DIFFERENCES = {
    "calamine/date.xlsx": [(DURATION, 1)],
    "calamine/date_1904.xlsx": [(DURATION, 1)],
    "derived/broken-package-rels.xlsx": [(DURATION, 1)],
    "derived/duplicate-entry.xlsx": [(DURATION, 1)],
    "derived/local-header-mismatch.xlsx": [(DURATION, 1)],
    "calamine/minimal_package.xlsx": [((_escaped_slash_date, "mm\\/dd\\/yy"), 193)],
    "sheetjs/number_format.xlsm": [(DURATION, 2), ((_rounded_second, "seconds rounded"), 8)],
    "sheetjs/wtf_path.xlsx": [((_parts_not_under_xl, "wtf/ parts"), 1)],
    "xlsx-populate/devextreme-export_input.xlsx": [((_dimension_trusted, "dimension"), 11)],
}


def _serial_date(n):
    return (datetime.date(1899, 12, 30) + datetime.timedelta(days=n)).isoformat()


# ---- openpyxl's reading in the reader's text form ---------------------------

_SPACE = re.compile("[\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


def _norm(s):
    s = s.replace("\u200b", "").replace("\u2060", "").replace("\ufeff", "")
    return unicodedata.normalize("NFC", _SPACE.sub(" ", s).strip())


def _number(v):
    if v == 0:
        return "0"
    for p in (15, 16, 17):
        t = "%.*g" % (p, v)
        if float(t) == v:
            return t
    return repr(v)


def _text(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return _number(float(v))
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, datetime.date):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, datetime.time):
        return v.strftime("%H:%M:%S")
    if isinstance(v, datetime.timedelta):
        s = round(v.total_seconds())
        return "%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)
    return _norm(str(v))


def _same(ours, theirs, typ):
    """Ours shows what the cell's format shows; openpyxl gives the whole
    value.  A date format shows the day, a time format the time."""
    if ours == theirs:
        return True
    if typ == "D" and _DT.match(theirs):
        return ours in (theirs[:10], theirs[:16], theirs)
    if typ == "H" and re.match(r"^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d$", theirs):
        t = theirs[-8:]
        return ours in (t, t[:5], t[3:])
    return False


def openpyxl_cells(path):
    import openpyxl
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = next((w for w in wb.worksheets if w.sheet_state == "visible"), wb.worksheets[0])
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                t = _text(getattr(c, "value", None))
                if t:
                    cells[(c.row, c.column - 1)] = t
        return cells
    finally:
        wb.close()


def our_cells(ctx, path):
    rc, out, err = ctx.run_program("worker/kartograf-sheet", [path])
    got = json.loads(out)
    if "rows" not in got:
        return got, None, None
    cells, types = {}, {}
    for r in got["rows"]:
        for i, (typ, text) in enumerate(r["cells"]):
            if typ:
                cells[(r["row"], i)] = text
                types[(r["row"], i)] = typ
    return got, cells, types


def _corpus():
    files = []
    for d in sorted(os.listdir(CORPUS)):
        if os.path.isdir(os.path.join(CORPUS, d)):
            files += [f"{d}/{f}" for f in sorted(os.listdir(os.path.join(CORPUS, d)))]
    return files


# ---- the tests --------------------------------------------------------------

def test_realworld_cells_match_openpyxl(ctx):
    files = _corpus()
    assert len(files) >= 30, files
    problems = []
    for name in files:
        path = os.path.join(CORPUS, name)
        got, ours, types = our_cells(ctx, path)
        if name in REFUSED:
            code, words = REFUSED[name]
            if got.get("error") != code or words not in got.get("message", ""):
                problems.append(f"{name}: want refusal {code} ({words}), got {got}")
            continue
        if ours is None:
            problems.append(f"{name}: refused: {got}")
            continue
        if name in OPENPYXL_FAILS:
            why, twin, want = OPENPYXL_FAILS[name]
            try:
                openpyxl_cells(path)
                problems.append(f"{name}: openpyxl reads it now ({why} is stale)")
            except Exception:  # noqa: BLE001 - the reason is documented above
                pass
            theirs = openpyxl_cells(os.path.join(CORPUS, twin)) if twin else {}
            for k, v in want.items():
                if ours.get(k) != v:
                    problems.append(f"{name}: {k} = {ours.get(k)!r}, want {v!r}")
            if not twin:
                continue
            _, ours_twin, types = our_cells(ctx, os.path.join(CORPUS, twin))
            if ours != ours_twin:
                problems.append(f"{name}: reads unlike {twin}")
            rules = DIFFERENCES.get(twin, [])
        else:
            theirs = openpyxl_cells(path)
            rules = DIFFERENCES.get(name, [])
        counts = [0] * len(rules)
        for k in sorted(set(ours) | set(theirs)):
            a, b, typ = ours.get(k, ""), theirs.get(k, ""), types.get(k)
            if _same(a, b, typ):
                continue
            for i, ((rule, _), _) in enumerate(rules):
                if rule(k, a, b, typ):
                    counts[i] += 1
                    break
            else:
                problems.append(f"{name}: unexplained difference at {k}: ours {a!r} ({typ}), "
                                f"openpyxl {b!r}")
        for ((rule, label), want), n in zip(rules, counts):
            if n != want:
                problems.append(f"{name}: rule '{label}' ({rule.__doc__.split('.')[0].strip()}) "
                                f"explains {n} cells, listed as {want}")
    assert not problems, "\n".join(problems)


def test_realworld_uploads_answer_json(ctx):
    email, auth = new_user(ctx, "rw")
    try:
        base = ctx.servers["lighttpd"]
        for name in _corpus():
            with open(os.path.join(CORPUS, name), "rb") as f:
                data = f.read()
            body, ct = xlsxgen.multipart([("file", os.path.basename(name), XLSX, data)])
            r = ctx.request(base, "POST", "/api/batches", body,
                            dict(auth, **{"Content-Type": ct}), timeout=30)
            got = r.json()
            if name in REFUSED:
                code, words = REFUSED[name]
                assert r.status == 400 and got["error"] == code, (name, r)
                assert words in got["message"], (name, got)
            else:
                # none is in the template's format: the rows are read and
                # the validator says what is missing
                assert r.status == 400 and got["error"] == "validation_failed", (name, r)
                assert got["errors"] and all(e["message"] for e in got["errors"]), (name, got)
    finally:
        drop_users(ctx, email)
