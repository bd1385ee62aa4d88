#!/usr/bin/python3
"""Generate the OpenAPI 3.1 document of the Kartograf API.

    gen-openapi.py --base cgi-bin/openapi.json --version V --out FILE PROGRAM.fcgi...

The paths come from the programs themselves: each endpoint program prints its
route table and declared request bodies as OpenAPI path items when run with
--openapi (lib/kg_app_openapi.c), so the document says what the framework
enforces. The base file adds what C does not know: info, security schemes, the
shared error responses and the schemas of the answers. Fails (exit 1) on a
path+method declared twice or a $ref that leads nowhere, so a broken document
never gets built.
"""
import argparse
import json
import os
import subprocess
import sys


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def resolve(doc, ref):
    if not ref.startswith("#/"):
        return False
    node = doc
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--version", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("programs", nargs="+")
    a = ap.parse_args(argv)
    with open(a.base, encoding="utf-8") as f:
        doc = json.load(f)
    if a.version:
        doc["info"]["version"] = a.version
    doc["paths"] = {}
    tags = []
    errors = []
    for prog in sorted(a.programs):
        out = subprocess.run([prog, "--openapi"], capture_output=True, check=False)
        if out.returncode != 0:
            errors.append(f"{prog} --openapi: exit {out.returncode}: {out.stderr.decode(errors='replace')}")
            continue
        frag = json.loads(out.stdout)
        tags.append({"name": frag["program"],
                     "description": f"cgi-bin/{frag['program']}.c"})
        for path, item in frag["paths"].items():
            into = doc["paths"].setdefault(path, {})
            for method, op in item.items():
                if method in into:
                    errors.append(f"{method.upper()} {path} declared twice")
                into[method] = op
    doc["tags"] = tags
    doc["paths"] = dict(sorted(doc["paths"].items()))
    for ref in sorted(set(refs(doc))):
        if not resolve(doc, ref):
            errors.append(f"$ref {ref} leads nowhere (add it to {a.base})")
    if errors:
        for e in errors:
            print(f"gen-openapi: {e}", file=sys.stderr)
        return 1
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
