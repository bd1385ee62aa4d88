#!/usr/bin/python3
"""AWS Signature Version 4 verification for Kartograf's fake AWS servers.

Written from AWS's published rules ("Create a signed AWS API request",
the S3 "Authenticating Requests (AWS Signature Version 4)" pages and the
SigV4 test suite), deliberately NOT from lib/kg_sigv4.c, so that a bug in
the C signer shows up as a 403 instead of being mirrored here.

The fake Bedrock server answers a failed check with 403
InvalidSignatureException, the fake S3 with 403 SignatureDoesNotMatch,
as AWS does.  Python 3 standard library only.

    ok, reason = verify(method, raw_path, raw_query, headers, body,
                        secret_lookup, service_s3)

raw_path / raw_query are the request target exactly as received (for
BaseHTTPRequestHandler: self.path split at the first '?'; if raw_query is
None and raw_path contains '?', it is split here).  headers is a dict, a
list of (name, value) pairs, or an http.client.HTTPMessage (repeated
headers are kept).  secret_lookup(access_key) returns the secret or None.
"""

import datetime
import hashlib
import hmac
import re
import urllib.parse

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+"
    r"Credential=(?P<cred>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*"
    r"Signature=(?P<sig>[0-9a-f]{64})\s*$")


def _header_pairs(headers):
    if hasattr(headers, "items"):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def _get(pairs, name):
    for k, v in pairs:
        if k.lower() == name:
            return v
    return None


def _uri_encode(text, safe):
    # RFC 3986 unreserved characters stay, everything else is %XY with
    # upper-case hex, over the UTF-8 bytes (urllib.parse.quote does that;
    # '~' is unreserved since Python 3.7).
    return urllib.parse.quote(text, safe=safe)


def _remove_dot_segments(path):
    """AWS normalises non-S3 paths: empty segments collapse, '.' and '..'
    are resolved (RFC 3986 section 5.2.4).  A trailing slash survives."""
    out = []
    segments = path.split("/")
    for seg in segments:
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    result = "/" + "/".join(out)
    last = segments[-1] if segments else ""
    if out and last in ("", ".", ".."):
        result += "/"
    return result


def canonical_uri(raw_path, service_s3):
    if not raw_path:
        raw_path = "/"
    if service_s3:
        # S3: the object key URI-encoded exactly once, no normalisation.
        return _uri_encode(_unquote_bytes(raw_path), safe="/")
    # Every other service: the path as received, normalised, then each
    # segment URI-encoded (again): '%3A' on the wire signs as '%253A'.
    normalized = _remove_dot_segments(raw_path)
    return "/".join(_uri_encode(seg, safe="") for seg in normalized.split("/"))


def _unquote_bytes(text):
    # Percent-decoding to bytes keeps non-UTF-8 octets intact, so they are
    # re-encoded to the same %XY.
    return urllib.parse.unquote_to_bytes(text)


def canonical_query(raw_query):
    if not raw_query:
        return ""
    pairs = []
    for part in raw_query.split("&"):
        if part == "":
            continue
        name, sep, value = part.partition("=")
        # SigV4 has no '+'-as-space; only %XY is decoded.
        name = _uri_encode(_unquote_bytes(name), safe="")
        value = _uri_encode(_unquote_bytes(value), safe="")
        pairs.append((name, value))
    pairs.sort()
    return "&".join("%s=%s" % p for p in pairs)


def _trimall(value):
    return " ".join(value.split())


def canonical_headers(pairs, signed_names):
    merged = {}
    for name, value in pairs:
        key = name.strip().lower()
        if key in signed_names:
            merged.setdefault(key, []).append(_trimall(value))
    lines = []
    for key in signed_names:
        if key not in merged:
            return None, key
        lines.append("%s:%s\n" % (key, ",".join(merged[key])))
    return "".join(lines), None


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret, day, region, service):
    k = _hmac(("AWS4" + secret).encode("utf-8"), day)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def verify(method, raw_path, raw_query, headers, body, secret_lookup,
           service_s3, max_skew_seconds=300, now=None, region=None,
           service=None):
    """Return (True, "ok") or (False, reason).  The reason is safe to send
    back to the client (it never contains the secret); on a mismatch it
    carries the canonical request and string to sign, as AWS's does."""
    if raw_query is None and "?" in raw_path:
        raw_path, raw_query = raw_path.split("?", 1)
    pairs = _header_pairs(headers)
    body = body or b""

    auth = _get(pairs, "authorization")
    if not auth:
        return False, "missing Authorization header"
    m = _AUTH_RE.match(auth.strip())
    if not m:
        return False, "malformed Authorization header"
    cred = m.group("cred").split("/")
    if len(cred) != 5 or cred[4] != "aws4_request":
        return False, "malformed Credential scope"
    access_key, day, scope_region, scope_service = cred[:4]
    signed = m.group("signed").split(";")
    if signed != sorted(signed) or len(set(signed)) != len(signed) or \
            any(s != s.lower() for s in signed):
        return False, "SignedHeaders not sorted lower-case unique names"
    if "host" not in signed:
        return False, "host header not signed"

    amz_date = _get(pairs, "x-amz-date")
    if not amz_date:
        return False, "missing X-Amz-Date header"
    if "x-amz-date" not in signed:
        return False, "x-amz-date header not signed"
    try:
        when = datetime.datetime.strptime(amz_date.strip(), "%Y%m%dT%H%M%SZ")
    except ValueError:
        return False, "malformed X-Amz-Date"
    when = when.replace(tzinfo=datetime.timezone.utc)
    if day != amz_date.strip()[:8]:
        return False, "Credential date does not match X-Amz-Date"
    current = now if now is not None else \
        datetime.datetime.now(datetime.timezone.utc).timestamp()
    if abs(current - when.timestamp()) > max_skew_seconds:
        return False, "Signature expired: request time too skewed"
    if region is not None and scope_region != region:
        return False, "Credential should be scoped to a valid region"
    if service is not None and scope_service != service:
        return False, "Credential should be scoped to correct service"

    secret = secret_lookup(access_key)
    if not secret:
        return False, "The security token included in the request is invalid"

    if _get(pairs, "x-amz-security-token") is not None and \
            "x-amz-security-token" not in signed:
        # AWS accepts an unsigned token for some services; our clients
        # always sign it, so the fake insists.
        return False, "x-amz-security-token header not signed"

    actual_hash = hashlib.sha256(body).hexdigest()
    if service_s3:
        declared = _get(pairs, "x-amz-content-sha256")
        if declared is None:
            return False, "Missing required header x-amz-content-sha256"
        declared = declared.strip()
        if declared != UNSIGNED and declared != actual_hash:
            return False, ("XAmzContentSHA256Mismatch: The provided "
                           "x-amz-content-sha256 header does not match "
                           "what was computed.")
        payload_hash = declared
    else:
        payload_hash = actual_hash

    header_block, missing = canonical_headers(pairs, signed)
    if header_block is None:
        return False, "signed header %s not present" % missing

    creq = "\n".join([
        method.upper(),
        canonical_uri(raw_path, service_s3),
        canonical_query(raw_query),
        header_block,
        ";".join(signed),
        payload_hash,
    ])
    scope = "/".join([day, scope_region, scope_service, "aws4_request"])
    sts = "\n".join([
        ALGORITHM, amz_date.strip(), scope,
        hashlib.sha256(creq.encode("utf-8")).hexdigest()])
    key = signing_key(secret, day, scope_region, scope_service)
    expected = hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, m.group("sig")):
        return False, ("The request signature we calculated does not match "
                       "the signature you provided.\n\nThe Canonical String "
                       "for this request should have been\n'%s'\n\nThe "
                       "String-to-Sign should have been\n'%s'\n" % (creq, sts))
    return True, "ok"


def _self_test():
    secrets = {"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
    t = datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.timezone.utc)
    auth = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
            "service/aws4_request, SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8"
            "aae1d763fbf31")
    hdrs = {"Host": "example.amazonaws.com",
            "X-Amz-Date": "20150830T123600Z", "Authorization": auth}
    results = []

    def check(label, want, *args, **kw):
        ok, reason = verify(*args, **kw)
        results.append(ok == want)
        print("%-44s %s %s" % (label, "PASS" if ok == want else "FAIL",
                               "" if ok else reason.splitlines()[0]))

    check("get-vanilla", True, "GET", "/", "", hdrs, b"", secrets.get,
          False, now=t.timestamp())
    # The normalize-path vectors share get-vanilla's signature.
    for path in ("//", "/./", "/example/..", "/example1/example2/../.."):
        check("normalize %s" % path, True, "GET", path, "", hdrs, b"",
              secrets.get, False, now=t.timestamp())
    check("get-vanilla, wrong path", False, "GET", "/x", "", hdrs, b"",
          secrets.get, False, now=t.timestamp())
    check("get-vanilla, body changed", False, "GET", "/", "", hdrs, b"x",
          secrets.get, False, now=t.timestamp())
    check("get-vanilla, unknown key", False, "GET", "/", "", hdrs, b"",
          {}.get, False, now=t.timestamp())
    check("get-vanilla, 10 minutes late", False, "GET", "/", "", hdrs, b"",
          secrets.get, False, now=t.timestamp() + 600)
    check("get-vanilla-query-order-key-case", True, "GET",
          "/?Param2=value2&Param1=value1", None,
          {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z",
           "Authorization": auth.replace(
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763f"
               "bf31", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d32"
               "19ec94cdf2500")},
          b"", secrets.get, False, now=t.timestamp())
    s3_secret = {"AKIAIOSFODNN7EXAMPLE":
                 "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
    s3_t = datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc)
    check("S3 GET Object example", True, "GET", "/test.txt", "",
          [("Host", "examplebucket.s3.amazonaws.com"),
           ("Range", "bytes=0-9"),
           ("x-amz-content-sha256", hashlib.sha256(b"").hexdigest()),
           ("x-amz-date", "20130524T000000Z"),
           ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAM"
            "PLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;"
            "x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857b"
            "d35b5d6ed310bd44f0170aba48dd91039c6036bdb41")],
          b"", s3_secret.get, True, now=s3_t.timestamp())
    return all(results)


if __name__ == "__main__":
    import sys
    sys.exit(0 if _self_test() else 1)
