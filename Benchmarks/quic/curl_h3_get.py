"""curl_cffi's libcurl (ngtcp2 + nghttp3) as an HTTP/3 client for scripts/bench.sh (quic).

Usage: curl_h3_get.py https://HOST:PORT/path OUTPUT [--timeout SECONDS]
One GET over HTTP/3 only (CURL_HTTP_VERSION_3ONLY), certificate not verified, the body written to
OUTPUT as it arrives. Prints one JSON object: {"http_version", "status", "bytes", "seconds"}
(http_version is curl's: 30 for HTTP/3; seconds is curl's total time). Exits non-zero on failure,
on a status other than 200, on any HTTP version but 3, or if SECONDS (default 600) pass.
"""
import argparse
import json

from curl_cffi import Curl, CurlHttpVersion, CurlInfo, CurlOpt

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("output")
parser.add_argument("--timeout", type=int, default=600)
args = parser.parse_args()

curl = Curl()
curl.setopt(CurlOpt.URL, args.url.encode())
curl.setopt(CurlOpt.HTTP_VERSION, CurlHttpVersion.V3ONLY)
curl.setopt(CurlOpt.SSL_VERIFYPEER, 0)
curl.setopt(CurlOpt.SSL_VERIFYHOST, 0)
curl.setopt(CurlOpt.TIMEOUT, args.timeout)
with open(args.output, "wb") as file:
    curl.setopt(CurlOpt.WRITEDATA, file)
    curl.perform()
result = {
    "http_version": curl.getinfo(CurlInfo.HTTP_VERSION),
    "status": curl.getinfo(CurlInfo.RESPONSE_CODE),
    "bytes": int(curl.getinfo(CurlInfo.SIZE_DOWNLOAD_T)),
    "seconds": curl.getinfo(CurlInfo.TOTAL_TIME),
}
curl.close()
print(json.dumps(result))
if result["status"] != 200 or result["http_version"] != 30:
    raise SystemExit(f"curl_h3_get: status {result['status']}, HTTP version {result['http_version']}")
