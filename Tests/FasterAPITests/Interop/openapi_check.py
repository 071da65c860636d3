"""Validates a served OpenAPI 3.1 document and compares it with FastAPI's for the same API.

Usage:
  openapi_check.py URL [--compare-with FASTAPI_URL] [--timeout SECONDS]

Fetches the document at URL (an `/openapi.json`) and checks:
  - it is a valid OpenAPI 3.1 document (openapi-spec-validator);
  - every `$ref` is local and resolves (no dangling references);
  - every operation has an `operationId`, and no two operations share one;
  - every security requirement names a declared security scheme, and an OAuth2 requirement's
    scopes are scopes the scheme's flows declare.

With `--compare-with`, fetches FastAPI's document for the same API and compares the two
structurally, per operation (matched by path and method):
  - the same paths and methods;
  - the same parameters, by (name, in): `required`, the schema's type (through `anyOf` with
    `null` and `$ref`s), its constraint keywords (minimum, maximum, exclusiveMinimum,
    exclusiveMaximum, minLength, maxLength, pattern, multipleOf, minItems, maxItems, enum,
    format) and `default`;
  - the same request body: presence, media types, `required`, and the body's schema (a model's
    component name, or for FastAPI's generated `Body_…` models their properties, required list
    and property schemas);
  - the same success status code (the lowest 2xx) and its media types;
  - a 422 wherever FastAPI documents one, referring to the same schema;
  - the same security requirements (scheme names and scopes) and security schemes;
and the components: the same model names (generated `Body_…` models aside) and, in each, the
same properties, required list, enum values and property schemas (as above).

Deliberately not compared (they differ by design between the two frameworks):
  - `operationId` values: FastAPI derives `read_item_items__item_id__get` from the function,
    path and method; FasterAPI uses the handler's name (`readItem`). Both must be present and
    unique, which is checked.
  - `summary` and `description`: FastAPI turns the function name into a summary ("Read Item")
    when there is no docstring; FasterAPI takes them from doc comments only.
  - `title` keywords in schemas: Pydantic titles every property and parameter ("Item Id");
    titles are annotations with no effect on validation.
  - the names of generated body models: FastAPI names them `Body_<operationId>`, which embeds
    its own operationId; their contents are compared instead.
  - success response schemas: FastAPI documents `{}` for a handler without `response_model`,
    FasterAPI documents the handler's return type. Only the status and media type are compared.
  - the order of parameters, properties and `required` entries (compared as sets; FastAPI lists
    a dependency's parameters after the handler's own).
  - the case of header parameter names (HTTP header names are case-insensitive).
  - `description` texts of responses and parameters, `info`, `servers`, `tags` lists.

Prints each problem or difference on its own line; exits 1 if there is any, else prints OK.
"""

import argparse
import json
import sys
import urllib.error
import urllib.request

try:
    from openapi_spec_validator import OpenAPIV31SpecValidator
except ImportError as missing:
    raise SystemExit(f"FAIL: {missing}: install the test peers (run scripts/test.sh)")

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CONSTRAINT_KEYWORDS = (
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern",
    "multipleOf", "minItems", "maxItems", "enum", "format", "const",
)
MISSING = object()


def fetch(url, timeout):
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
            content_type = response.headers.get("Content-Type", "")
            body = response.read()
    except urllib.error.HTTPError as error:
        raise SystemExit(f"FAIL: GET {url} answered {error.code}")
    except (urllib.error.URLError, OSError) as error:
        raise SystemExit(f"FAIL: GET {url} failed: {error}")
    if status != 200:
        raise SystemExit(f"FAIL: GET {url} answered {status}")
    if not content_type.startswith("application/json"):
        raise SystemExit(f"FAIL: GET {url} has Content-Type {content_type!r}, expected application/json")
    try:
        return json.loads(body)
    except ValueError as error:
        raise SystemExit(f"FAIL: GET {url} is not JSON: {error}")


def operations(document):
    """(path, method, operation) for every operation, in document order."""
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            if isinstance(item.get(method), dict):
                yield path, method, item[method]


def pointer(document, ref):
    """The value `ref` (a local `#/…` JSON pointer) points to, or MISSING."""
    if not ref.startswith("#"):
        return MISSING
    node = document
    for token in ref[1:].split("/")[1:] if ref != "#" else []:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return MISSING
    return node


def walk_refs(node, where=""):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield where, ref
        for key, value in node.items():
            yield from walk_refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk_refs(value, f"{where}/{index}")


# MARK: - Checks of one document


def validate(document, label):
    problems = []
    if not str(document.get("openapi", "")).startswith("3.1"):
        problems.append(f"{label}: openapi is {document.get('openapi')!r}, expected 3.1.x")
    errors = []
    try:
        for error in OpenAPIV31SpecValidator(document).iter_errors():
            errors.append(error)
    except Exception as crash:  # the validator's deeper checks assume a schema-valid document
        if not errors:
            reason = str(crash)
            reason = reason if len(reason) <= 300 else reason[:300] + "…"
            problems.append(f"{label}: the validator failed on the document: {type(crash).__name__}: {reason}")
    errors.sort(key=lambda e: [str(part) for part in e.absolute_path])
    for error in errors:
        location = "/".join(str(part) for part in error.absolute_path) or "(root)"
        problems.append(f"{label}: invalid OpenAPI 3.1 at {location}: {error.message}")

    for where, ref in walk_refs(document):
        if not ref.startswith("#/"):
            problems.append(f"{label}: non-local $ref {ref!r} at {where}")
        elif pointer(document, ref) is MISSING:
            problems.append(f"{label}: dangling $ref {ref!r} at {where}")

    seen = {}
    for path, method, operation in operations(document):
        operation_id = operation.get("operationId")
        if not isinstance(operation_id, str) or not operation_id:
            problems.append(f"{label}: {method.upper()} {path} has no operationId")
        elif operation_id in seen:
            problems.append(
                f"{label}: {method.upper()} {path} repeats the operationId {operation_id!r} of {seen[operation_id]}")
        else:
            seen[operation_id] = f"{method.upper()} {path}"

    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    requirements = [("(document)", document.get("security") or [])]
    requirements += [(f"{m.upper()} {p}", o.get("security") or []) for p, m, o in operations(document)]
    for where, alternatives in requirements:
        for requirement in alternatives:
            for name, scopes in requirement.items():
                scheme = schemes.get(name)
                if scheme is None:
                    problems.append(f"{label}: {where} requires undeclared security scheme {name!r}")
                    continue
                if scheme.get("type") == "oauth2":
                    declared = set()
                    for flow in (scheme.get("flows") or {}).values():
                        declared |= set((flow.get("scopes") or {}).keys())
                    for scope in scopes:
                        if scope not in declared:
                            problems.append(f"{label}: {where} requires scope {scope!r} that {name} does not declare")
    return problems


# MARK: - Structural comparison


class Side:
    """One document, with `$ref` resolution for the comparison."""

    def __init__(self, document, label):
        self.document = document
        self.label = label
        self.schemas = (document.get("components") or {}).get("schemas") or {}

    def deref(self, schema):
        """A schema with `$ref`s to components followed (cycle-safe), plus the component name."""
        name = None
        seen = set()
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"] not in seen:
            seen.add(schema["$ref"])
            target = pointer(self.document, schema["$ref"])
            if target is MISSING:
                break
            name = schema["$ref"].rsplit("/", 1)[-1]
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **extra}
        return schema, name


def is_generated_body(name):
    return name is not None and name.startswith("Body_")


def shape(side, schema, depth=0):
    """A comparable summary of a schema: what it accepts, without titles and descriptions."""
    if not isinstance(schema, dict):
        return repr(schema)
    if depth > 6:
        return "..."
    result = {}
    if isinstance(schema.get("$ref"), str):
        name = schema["$ref"].rsplit("/", 1)[-1]
        result["ref"] = "Body_*" if is_generated_body(name) else name
    if "type" in schema:
        kind = schema["type"]
        result["type"] = sorted(kind) if isinstance(kind, list) else kind
    for keyword in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(keyword), list):
            branches = [shape(side, branch, depth + 1) for branch in schema[keyword]]
            result[keyword] = sorted(branches, key=lambda b: json.dumps(b, sort_keys=True))
    for keyword in CONSTRAINT_KEYWORDS:
        if keyword in schema:
            value = schema[keyword]
            result[keyword] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if "default" in schema:
        result["default"] = schema["default"]
    if "items" in schema:
        result["items"] = shape(side, schema["items"], depth + 1)
    if isinstance(schema.get("additionalProperties"), dict):
        result["additionalProperties"] = shape(side, schema["additionalProperties"], depth + 1)
    return result


def describe(value):
    return json.dumps(value, sort_keys=True) if value is not MISSING else "(absent)"


class Comparison:
    def __init__(self, ours, theirs):
        self.ours = Side(ours, "FasterAPI")
        self.theirs = Side(theirs, "FastAPI")
        self.differences = []

    def differ(self, where, what, ours, theirs):
        self.differences.append(f"{where}: {what}: FasterAPI {describe(ours)}, FastAPI {describe(theirs)}")

    def compare_shape(self, where, ours, theirs):
        a, b = shape(self.ours, ours), shape(self.theirs, theirs)
        for key in sorted(set(a) | set(b)):
            if a.get(key, MISSING) != b.get(key, MISSING):
                self.differ(where, f"schema {key}", a.get(key, MISSING), b.get(key, MISSING))

    def run(self):
        ours = {(p, m): o for p, m, o in operations(self.ours.document)}
        theirs = {(p, m): o for p, m, o in operations(self.theirs.document)}
        for key in sorted(set(theirs) - set(ours)):
            self.differences.append(f"{key[1].upper()} {key[0]}: only in FastAPI's document")
        for key in sorted(set(ours) - set(theirs)):
            self.differences.append(f"{key[1].upper()} {key[0]}: only in FasterAPI's document")
        for key in sorted(set(ours) & set(theirs)):
            self.operation(f"{key[1].upper()} {key[0]}", ours[key], theirs[key])
        self.components()
        self.security_schemes()
        return self.differences

    # Operations

    def operation(self, where, ours, theirs):
        self.parameters(where, ours.get("parameters") or [], theirs.get("parameters") or [])
        self.request_body(where, ours.get("requestBody"), theirs.get("requestBody"))
        self.responses(where, ours.get("responses") or {}, theirs.get("responses") or {})
        if bool(ours.get("deprecated")) != bool(theirs.get("deprecated")):
            self.differ(where, "deprecated", bool(ours.get("deprecated")), bool(theirs.get("deprecated")))
        self.security(where, ours.get("security"), theirs.get("security"))

    def parameters(self, where, ours, theirs):
        def keyed(parameters, side):
            result = {}
            for parameter in parameters:
                parameter, _ = side.deref(parameter)
                name, location = parameter.get("name"), parameter.get("in")
                if location == "header" and isinstance(name, str):
                    name = name.lower()
                result[(name, location)] = parameter
            return result

        a, b = keyed(ours, self.ours), keyed(theirs, self.theirs)
        for name, location in sorted(set(b) - set(a)):
            self.differences.append(f"{where}: {location} parameter {name!r} only in FastAPI's document")
        for name, location in sorted(set(a) - set(b)):
            self.differences.append(f"{where}: {location} parameter {name!r} only in FasterAPI's document")
        for name, location in sorted(set(a) & set(b)):
            here = f"{where} {location} parameter {name!r}"
            mine, other = a[(name, location)], b[(name, location)]
            if bool(mine.get("required")) != bool(other.get("required")):
                self.differ(here, "required", bool(mine.get("required")), bool(other.get("required")))
            if bool(mine.get("deprecated")) != bool(other.get("deprecated")):
                self.differ(here, "deprecated", bool(mine.get("deprecated")), bool(other.get("deprecated")))
            self.compare_shape(here, mine.get("schema", {}), other.get("schema", {}))

    def request_body(self, where, ours, theirs):
        if ours is None or theirs is None:
            if ours is not None or theirs is not None:
                self.differ(where, "request body", "present" if ours else MISSING, "present" if theirs else MISSING)
            return
        ours, _ = self.ours.deref(ours)
        theirs, _ = self.theirs.deref(theirs)
        if bool(ours.get("required")) != bool(theirs.get("required")):
            self.differ(where, "request body required", bool(ours.get("required")), bool(theirs.get("required")))
        a, b = ours.get("content") or {}, theirs.get("content") or {}
        if set(a) != set(b):
            self.differ(where, "request body media types", sorted(a), sorted(b))
        for media_type in sorted(set(a) & set(b)):
            self.body_schema(f"{where} body {media_type}", a[media_type].get("schema", {}),
                             b[media_type].get("schema", {}))

    def body_schema(self, where, ours, theirs):
        """A model body compares by component name; a generated `Body_…` model by its contents."""
        mine, my_name = self.ours.deref(ours)
        other, other_name = self.theirs.deref(theirs)
        if is_generated_body(my_name) or is_generated_body(other_name):
            if not (is_generated_body(my_name) and is_generated_body(other_name)):
                self.differ(
                    where, "schema", my_name or shape(self.ours, ours), other_name or shape(self.theirs, theirs))
                return
            self.model(where, mine, other)
        elif my_name != other_name:
            self.differ(where, "schema component", my_name or MISSING, other_name or MISSING)
        elif my_name is None:
            self.compare_shape(where, ours, theirs)

    def responses(self, where, ours, theirs):
        def success(responses):
            codes = sorted(code for code in responses if str(code).startswith("2"))
            return codes[0] if codes else MISSING

        mine, other = success(ours), success(theirs)
        if mine != other:
            self.differ(where, "success status", mine, other)
        elif mine is not MISSING:
            a = sorted((ours[mine].get("content") or {}).keys())
            b = sorted((theirs[other].get("content") or {}).keys())
            if a != b:
                self.differ(where, f"{mine} response media types", a, b)
        if "422" in theirs and "422" not in ours:
            self.differences.append(f"{where}: no 422 response (FastAPI documents one)")
        elif "422" in ours and "422" not in theirs:
            self.differences.append(f"{where}: a 422 response FastAPI does not document")
        elif "422" in theirs:
            a = (ours["422"].get("content") or {}).get("application/json", {}).get("schema", {})
            b = (theirs["422"].get("content") or {}).get("application/json", {}).get("schema", {})
            if self.ours.deref(a)[1] != self.theirs.deref(b)[1]:
                self.differ(where, "422 schema", self.ours.deref(a)[1] or MISSING, self.theirs.deref(b)[1] or MISSING)
        for code in sorted(set(theirs) - set(ours) - {"422"}):
            if not str(code).startswith("2"):
                self.differences.append(f"{where}: response {code} only in FastAPI's document")
        for code in sorted(set(ours) - set(theirs) - {"422"}):
            if not str(code).startswith("2"):
                self.differences.append(f"{where}: response {code} only in FasterAPI's document")

    def security(self, where, ours, theirs):
        def normal(requirements):
            return sorted(json.dumps({k: sorted(v) for k, v in r.items()}, sort_keys=True) for r in requirements or [])

        if normal(ours) != normal(theirs):
            self.differ(
                where, "security", [json.loads(r) for r in normal(ours)], [json.loads(r) for r in normal(theirs)])

    # Components

    def components(self):
        a = {n for n in self.ours.schemas if not is_generated_body(n)}
        b = {n for n in self.theirs.schemas if not is_generated_body(n)}
        for name in sorted(b - a):
            self.differences.append(f"component {name}: only in FastAPI's document")
        for name in sorted(a - b):
            self.differences.append(f"component {name}: only in FasterAPI's document")
        for name in sorted(a & b):
            self.model(f"component {name}", self.ours.schemas[name], self.theirs.schemas[name])

    def model(self, where, ours, theirs):
        ours, _ = self.ours.deref(ours)
        theirs, _ = self.theirs.deref(theirs)
        a, b = ours.get("properties"), theirs.get("properties")
        if a is None and b is None:  # an enum or another non-object schema
            self.compare_shape(where, ours, theirs)
            return
        a, b = a or {}, b or {}
        if set(a) != set(b):
            self.differ(where, "properties", sorted(a), sorted(b))
        if sorted(ours.get("required") or []) != sorted(theirs.get("required") or []):
            self.differ(where, "required", sorted(ours.get("required") or []), sorted(theirs.get("required") or []))
        for name in sorted(set(a) & set(b)):
            self.compare_shape(f"{where} property {name!r}", a[name], b[name])

    def security_schemes(self):
        a = (self.ours.document.get("components") or {}).get("securitySchemes") or {}
        b = (self.theirs.document.get("components") or {}).get("securitySchemes") or {}
        for name in sorted(set(a) | set(b)):
            if name not in a or name not in b:
                side = "FastAPI" if name in b else "FasterAPI"
                self.differences.append(f"security scheme {name}: only in {side}'s document")
                continue
            mine = {k: v for k, v in a[name].items() if k != "description"}
            other = {k: v for k, v in b[name].items() if k != "description"}
            if mine != other:
                self.differ(f"security scheme {name}", "definition", mine, other)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the OpenAPI document to check (…/openapi.json)")
    parser.add_argument("--compare-with", metavar="FASTAPI_URL", help="FastAPI's document for the same API")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds for each fetch (default 10)")
    args = parser.parse_args()

    document = fetch(args.url, args.timeout)
    problems = validate(document, "FasterAPI")
    operation_count = sum(1 for _ in operations(document))
    print(f"checked {args.url}: {operation_count} operations, "
          f"{len((document.get('components') or {}).get('schemas') or {})} schemas")
    if args.compare_with:
        reference = fetch(args.compare_with, args.timeout)
        problems += validate(reference, "FastAPI")
        try:
            problems += Comparison(document, reference).run()
        except (AttributeError, TypeError, KeyError) as error:
            problems.append(f"the comparison stopped on a malformed document: {type(error).__name__}: {error}")
        print(f"compared with {args.compare_with}: {sum(1 for _ in operations(reference))} operations")
    for problem in problems:
        print(problem)
    if problems:
        print(f"FAIL: {len(problems)} problem(s)")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
