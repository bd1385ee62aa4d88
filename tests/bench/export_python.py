#!/usr/bin/python3
"""The same exports built with python-docx (what the seed used) and
openpyxl, for bench_export.sh: a card with a header (project name), a
footer with a page number field and a note, a Title, a facts table and
8 Heading 1 sections; a batch as a zip of such cards plus a summary
spreadsheet.

    export_python.py card|zip CARDS.json N   -> "<ms per build> <bytes>"

CARDS.json (written by bench_export.sh from PostgreSQL) is read once,
outside the timing: python-docx gets its data for free, while the C
builder's time includes reading every card from the database.
"""
import datetime
import io
import json
import sys
import time
import zipfile

import docx
import openpyxl
from docx.oxml import OxmlElement
from docx.oxml.ns import qn


def page_field(paragraph):
    run = paragraph.add_run()
    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), "PAGE")
    run._r.append(fld)


def build_card(c):
    d = docx.Document()
    d.core_properties.title = c["name"]
    d.core_properties.author = c["org"] or "Kartograf"
    sec = d.sections[0]
    sec.header.paragraphs[0].text = c["name"]
    foot = sec.footer.paragraphs[0]
    foot.text = "Tekst wygenerowany offline\tStrona "
    page_field(foot)
    d.add_paragraph(c["name"], style="Title")
    facts = [("Wnioskodawca", c["org"]), ("Budżet", c["budget"]),
             ("Data rozpoczęcia", c["start"]), ("Data zakończenia", c["end"]),
             ("Lokalizacja", c["location"]), ("Data wygenerowania", c["finished"]),
             ("Ocena jakości", "%s/100" % c["score"])]
    t = d.add_table(rows=0, cols=2)
    t.style = "Table Grid"
    for label, value in facts:
        cells = t.add_row().cells
        cells[0].text = label
        cells[0].paragraphs[0].runs[0].bold = True
        cells[1].text = str(value or "")
    for s in c["sections"]:
        d.add_heading(s["title"], level=1)
        for para in s["body"].split("\n\n"):
            d.add_paragraph(para)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def build_zip(cards):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for i, c in enumerate(cards):
            z.writestr("%03d %s.docx" % (i, c["name"]), build_card(c),
                       compress_type=zipfile.ZIP_STORED)
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["Lp.", "Nazwa projektu", "Status", "Jakość", "Koszt AI",
                   "Data eksportu", "Plik"])
        now = datetime.datetime.now()
        for i, c in enumerate(cards):
            ws.append([i + 1, c["name"], "Gotowe", c["score"], 0.0, now,
                       "%s.docx" % c["name"]])
        x = io.BytesIO()
        wb.save(x)
        z.writestr("podsumowanie.xlsx", x.getvalue(),
                   compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def main():
    mode, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path, encoding="utf-8") as f:
        cards = json.load(f)
    t0 = time.perf_counter()
    for _ in range(n):
        data = build_card(cards[0]) if mode == "card" else build_zip(cards)
    ms = (time.perf_counter() - t0) * 1000 / n
    print("%.3f %d" % (ms, len(data)))


if __name__ == "__main__":
    main()
