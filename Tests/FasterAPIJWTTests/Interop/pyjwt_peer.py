"""PyJWT as the interop peer for FasterAPIJWT's tests.

Reads a JSON array of requests on stdin and prints a JSON array of results, one per request:

  {"op": "sign", "alg": "HS256", "key": "<secret or private key PEM>", "claims": {...},
   "headers": {...}?}
      -> {"token": "..."}
  {"op": "verify", "token": "...", "key": "<secret or public key PEM>", "algorithms": [...],
   "audience": "..."?, "issuer": "..."?}
      -> {"claims": {...}} or {"error": "<PyJWT exception class>"}
"""

import json
import sys
import warnings

import jwt


def handle(request):
    if request["op"] == "sign":
        token = jwt.encode(request["claims"], request["key"], algorithm=request["alg"], headers=request.get("headers"))
        return {"token": token}
    if request["op"] == "verify":
        try:
            claims = jwt.decode(
                request["token"],
                request["key"],
                algorithms=request["algorithms"],
                audience=request.get("audience"),
                issuer=request.get("issuer"),
            )
        except jwt.PyJWTError as error:
            return {"error": type(error).__name__}
        return {"claims": claims}
    raise ValueError(f"unknown op {request['op']!r}")


def main():
    warnings.simplefilter("error")  # a key PyJWT finds too weak fails loudly instead of passing
    requests = json.load(sys.stdin)
    print(json.dumps([handle(request) for request in requests]))


if __name__ == "__main__":
    main()
