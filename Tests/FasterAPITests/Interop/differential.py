"""Differential test runner: sends the same requests to two servers and compares the answers.

Usage:
  differential.py --cases differential_cases.json --left http://127.0.0.1:P1 --right http://127.0.0.1:P2
  differential.py --cases differential_cases.json --left http://127.0.0.1:P1 --dump [--right ...]

Left is normally the FastAPI reference (differential_app.py), right the FasterAPI twin.

Each case is an object:
  name             unique label
  method           HTTP method
  path             path plus query string, sent as written
  headers          optional object of request headers (Cookie goes here too)
  json             optional: a value serialized as the body (UTF-8, Content-Type application/json
                   unless headers set one); presence of the key matters, so "json": null sends `null`
  body             optional: a raw string sent as the UTF-8 body (no Content-Type unless given)
  form             optional: an object sent application/x-www-form-urlencoded
  compare_headers  optional: response header names whose values must match

Comparison per case: the status code; each compare_headers value; then the body. When both
sides answer 422 with a `detail` list, the ordered list of (type, loc) pairs must match (msg
and input may differ; a differing input is reported as a warning only). Otherwise both bodies
are parsed as JSON and must be equal as values (1 == 1.0, but true != 1); a body that is not
JSON is compared as text.

Prints one line per mismatch, then `N cases, M mismatches (K cases differ)`. Exits 1 on any mismatch.
With --dump, prints every case's request and the left side's answer (status, content-type,
compared headers, body); with --dump and no --right nothing is compared.
"""

import argparse
import json
import sys

import httpx

MISSING = object()


def load_cases(path):
    with open(path, encoding="utf-8") as f:
        cases = json.load(f)
    names = set()
    for case in cases:
        if case["name"] in names:
            raise SystemExit(f"duplicate case name: {case['name']}")
        names.add(case["name"])
        if sum(key in case for key in ("json", "body", "form")) > 1:
            raise SystemExit(f"case {case['name']}: use at most one of json, body, form")
    return cases


def build_request(client, case):
    headers = dict(case.get("headers") or {})
    has_content_type = any(k.lower() == "content-type" for k in headers)
    kwargs = {}
    if "json" in case:
        kwargs["content"] = json.dumps(case["json"], ensure_ascii=False).encode("utf-8")
        if not has_content_type:
            headers["Content-Type"] = "application/json"
    elif "body" in case:
        kwargs["content"] = case["body"].encode("utf-8")
    elif "form" in case:
        kwargs["data"] = case["form"]
    return client.build_request(case["method"], case["path"], headers=headers, **kwargs)


class Answer:
    def __init__(self, status=None, headers=None, text="", error=None):
        self.status = status
        self.headers = headers
        self.text = text
        self.error = error

    def header(self, name):
        if self.headers is None:
            return None
        values = self.headers.get_list(name)
        return ", ".join(values) if values else None

    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            return MISSING


def send(client, case):
    try:
        response = client.send(build_request(client, case))
        return Answer(response.status_code, response.headers, response.text)
    except httpx.HTTPError as e:
        return Answer(error=f"{type(e).__name__}: {e}")


def same(a, b):
    """JSON value equality where 1 == 1.0 but booleans never equal numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def validation_details(body):
    if isinstance(body, dict) and isinstance(body.get("detail"), list):
        if all(isinstance(e, dict) for e in body["detail"]):
            return body["detail"]
    return None


def short(value):
    return json.dumps(value, ensure_ascii=False) if value is not MISSING else "<not JSON>"


def compare(case, left, right):
    """Returns (mismatch lines, warning lines) for one case."""
    name = case["name"]
    if left.error or right.error:
        if left.error != right.error:
            return [f"[{name}] transport: left={left.error or left.status} right={right.error or right.status}"], []
        return [], []
    problems, warnings = [], []
    if left.status != right.status:
        problems.append(f"[{name}] status: left={left.status} right={right.status}")
    for header in case.get("compare_headers", []):
        lv, rv = left.header(header), right.header(header)
        if lv != rv:
            problems.append(f"[{name}] header {header}: left={lv!r} right={rv!r}")
    lb, rb = left.json(), right.json()
    ld, rd = validation_details(lb), validation_details(rb)
    if left.status == 422 and right.status == 422 and ld is not None and rd is not None:
        lpairs = [[e.get("type"), e.get("loc")] for e in ld]
        rpairs = [[e.get("type"), e.get("loc")] for e in rd]
        if not same(lpairs, rpairs):
            problems.append(f"[{name}] 422 (type, loc): left={short(lpairs)} right={short(rpairs)}")
        else:
            for i, (le, re_) in enumerate(zip(ld, rd)):
                li, ri = le.get("input", MISSING), re_.get("input", MISSING)
                if not (li is MISSING and ri is MISSING) and (li is MISSING or ri is MISSING or not same(li, ri)):
                    warnings.append(
                        f"[{name}] warning: detail[{i}] input: left={short(li)} right={short(ri)}"
                    )
    elif lb is MISSING or rb is MISSING:
        if lb is not MISSING or rb is not MISSING or left.text != right.text:
            problems.append(f"[{name}] body: left={left.text!r} right={right.text!r}")
    elif not same(lb, rb):
        problems.append(f"[{name}] body: left={short(lb)} right={short(rb)}")
    return problems, warnings


def describe_request(case):
    line = f"{case['method']} {case['path']}"
    parts = []
    for k, v in (case.get("headers") or {}).items():
        parts.append(f"  {k}: {v}")
    if "json" in case:
        parts.append(f"  json: {json.dumps(case['json'], ensure_ascii=False)}")
    if "body" in case:
        parts.append(f"  body: {json.dumps(case['body'], ensure_ascii=False)}")
    if "form" in case:
        parts.append(f"  form: {json.dumps(case['form'], ensure_ascii=False)}")
    return "\n".join([line] + parts)


def dump(case, answer):
    print(f"=== {case['name']}")
    print(describe_request(case))
    if answer.error:
        print(f"-> ERROR {answer.error}")
    else:
        print(f"-> {answer.status}  content-type: {answer.header('content-type')}")
        for header in case.get("compare_headers", []):
            print(f"   {header}: {answer.header(header)}")
        print(f"   {answer.text}")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", required=True)
    parser.add_argument("--left", required=True, help="base URL of the reference server")
    parser.add_argument("--right", help="base URL of the server under test")
    parser.add_argument("--dump", action="store_true", help="print every case's answer from the left side")
    args = parser.parse_args()
    if not args.right and not args.dump:
        parser.error("--right is required unless --dump is given")

    cases = load_cases(args.cases)
    left_client = httpx.Client(base_url=args.left, timeout=10.0, follow_redirects=False)
    right_client = httpx.Client(base_url=args.right, timeout=10.0, follow_redirects=False) if args.right else None
    mismatches = []
    warnings = []
    try:
        for case in cases:
            left = send(left_client, case)
            if args.dump:
                dump(case, left)
            if right_client is not None:
                right = send(right_client, case)
                p, w = compare(case, left, right)
                mismatches.extend(p)
                warnings.extend(w)
    finally:
        left_client.close()
        if right_client is not None:
            right_client.close()

    if right_client is None:
        print(f"{len(cases)} cases dumped (no --right, nothing compared)")
        return 0
    for line in warnings:
        print(line)
    for line in mismatches:
        print(line)
    failed_cases = len({line[1:].split("] ", 1)[0] for line in mismatches})
    print(f"{len(cases)} cases, {len(mismatches)} mismatches ({failed_cases} cases differ)")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
