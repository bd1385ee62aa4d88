#!/usr/bin/python3
"""Open a .docx with python-docx (Debian's python3-docx) and print what a
reader of the file sees, as JSON on stdout:

    {"core": {"title", "author", "created", "language"},
     "title": [...],            texts of paragraphs in style "Title"
     "headings": [...],         texts of paragraphs in style "Heading 1"
     "paragraphs": [{"style", "text"}, ...],
     "tables": [[[cell, cell], ...], ...],
     "header": [...], "footer": [...],
     "default_lang": "pl-PL"}   w:lang of docDefaults/rPrDefault

Usage: check_docx.py FILE.docx [--expect-headings N]
Exit status 0 when python-docx could open the file (and, with
--expect-headings, found exactly N "Heading 1" paragraphs), 1 otherwise.
The export tests call it on every produced card.
"""
import argparse
import json
import sys

import docx
from docx.oxml.ns import qn


def default_lang(doc):
    styles = doc.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    if defaults is None:
        return None
    lang = defaults.find(".//" + qn("w:rPrDefault") + "//" + qn("w:lang"))
    return None if lang is None else lang.get(qn("w:val"))


def describe(path):
    doc = docx.Document(path)
    core = doc.core_properties
    section = doc.sections[0]
    paragraphs = [{"style": p.style.name, "text": p.text}
                  for p in doc.paragraphs]
    return {
        "core": {
            "title": core.title,
            "author": core.author,
            "created": core.created.isoformat() if core.created else None,
            "language": core.language,
        },
        "title": [p["text"] for p in paragraphs if p["style"] == "Title"],
        "headings": [p["text"] for p in paragraphs
                     if p["style"] == "Heading 1"],
        "paragraphs": paragraphs,
        "tables": [[[cell.text for cell in row.cells] for row in t.rows]
                   for t in doc.tables],
        "header": [p.text for p in section.header.paragraphs],
        "footer": [p.text for p in section.footer.paragraphs],
        "default_lang": default_lang(doc),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--expect-headings", type=int)
    args = ap.parse_args()
    try:
        info = describe(args.path)
    except Exception as e:  # any failure to open is the finding
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
        return 1
    print(json.dumps(info, ensure_ascii=False, indent=1))
    if (args.expect_headings is not None
            and len(info["headings"]) != args.expect_headings):
        print("expected %d headings, found %d"
              % (args.expect_headings, len(info["headings"])),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
