#!/usr/bin/python3
"""Scan every log of a test stack for JSON Web Tokens (issue 16).

    logscan.py STATE_LOG_DIR

A JWT in a log is a credential for whoever reads the log, until it expires.
The UI never puts its token in a URL (event streams use single-use tickets),
programs never log query strings or headers, so after the whole run no log
may hold a token that still works.  Tokens that are already expired are
reported but do not fail (the legacy ?token= test uses one that lives 20 s).
Prints "ok - ..." / "not ok - ..." and exits 1 when a live token is found.
"""
import base64
import json
import os
import re
import sys
import time

JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")


def claims(token):
    try:
        p = token.split(b".")[1]
        return json.loads(base64.urlsafe_b64decode(p + b"=" * (-len(p) % 4)))
    except (ValueError, IndexError):
        return {}


def main(logdir):
    now = time.time()
    live, dead, files = [], 0, 0
    for root, _, names in os.walk(logdir):
        for name in sorted(names):
            path = os.path.join(root, name)
            files += 1
            with open(path, "rb") as f:
                for lineno, line in enumerate(f, 1):
                    for m in JWT.finditer(line):
                        exp = claims(m.group(0)).get("exp")
                        if isinstance(exp, (int, float)) and exp <= now:
                            dead += 1
                        else:
                            live.append(f"{os.path.relpath(path, logdir)}:{lineno}")
    if live:
        print(f"not ok - logs hold {len(live)} token(s) that still work: {', '.join(live[:10])}")
        return 1
    print(f"ok - no live JWT in {files} log file(s) ({dead} expired one(s) seen)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
