"""Drives WebSocket and EventSource in headless Chromium (Selenium) against the FasterAPI demo.

Usage:
  browser_check.py --base http://127.0.0.1:PORT --mode websocket [--subprotocol echo]
                   [--expect-compression] [--ws-url ws://HOST:PORT/PATH] [--page /docs]
  browser_check.py --base http://127.0.0.1:PORT --mode eventsource [--count 6]
                   [--interval-ms 20] [--close-after 2] [--sse-path /events/ticks]
  common: [--spki HASH] [--chrome-arg ARG ...] [--timeout SECONDS]

The browser first loads `--base` + `--page` (default /docs; any status will do) so that the
page has the server's origin, then runs the check in the page:

websocket: opens `new WebSocket(<base as ws/wss>/ws/echo)` (or `--ws-url`; without --base the
  page is an empty file:// page), sends a 100 KiB compressible text, a 4-byte ArrayBuffer, a multi-byte
  UTF-8 text, an empty text and a 1 MiB ArrayBuffer one after the other, checks every echo
  (same type, same content), closes with 1000 "bye" and expects the server's close 1000; then a
  second connection sends "close:4000:done" and expects close 4000 "done". Reports
  `ws.extensions` (Chromium always offers permessage-deflate; `--expect-compression` fails the
  run when it was not negotiated), `ws.protocol`, and what DevTools saw of the handshake
  (status 101 for HTTP/1.1; request and response Sec-WebSocket-Extensions).
  JSON: {"ok", "mode", "url", "extensions", "protocol", "echoed", "close_code", "close_reason",
  "was_clean", "custom_close": {"code", "reason", "was_clean"}, "handshakes": [{"status",
  "offered_extensions", "extensions", "protocol"}], "error", "elapsed_ms"}.

eventsource: `new EventSource(<base>/events/ticks?count=6&interval_ms=20&close_after=2)`, collects
  every `tick` event's lastEventId and data until `count` arrived; Chromium reconnects by itself
  after each response end (retry 100 ms from the server) sending Last-Event-ID. Succeeds iff
  the ids are exactly 1..count in order (so no duplicates). JSON: {"ok", "mode", "url", "ids",
  "data", "opens", "errors", "untyped", "requests": [{"last_event_id", "status",
  "content_type", "protocol"}], "error", "elapsed_ms"}; "requests" are the stream's HTTP
  requests as DevTools saw them.

Prints exactly one JSON line; exits 0 on success, 1 with the reason on stderr otherwise. Every
wait is bounded (--timeout, at most 20 s). `--spki` trusts a self-signed certificate by the
base64 SHA-256 of its public key (Chromium's --ignore-certificate-errors-spki-list).
"""

import argparse
import json
import os
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service

MAX_WAIT = 20.0

WEBSOCKET_SCRIPT = r"""
const [url, protocols, timeoutMs] = arguments;
const done = arguments[arguments.length - 1];
const result = {extensions: null, protocol: null, echoed: 0, close_code: null, close_reason: null,
                was_clean: null, custom_close: null, error: null};
let finished = false;
function finish(error) {
  if (finished) return;
  finished = true;
  if (error) result.error = error;
  done(result);
}
setTimeout(() => finish('timed out in the page'), timeoutMs);

const big = 'compressible text, compressible text! '.repeat(3000).slice(0, 100 * 1024);
const four = new Uint8Array([0, 1, 0xfe, 0xff]).buffer;
const huge = new Uint8Array(1 << 20);
let state = 12345;
for (let i = 0; i < huge.length; i++) { state = (Math.imul(state, 1103515245) + 12345) >>> 0; huge[i] = state >>> 24; }
const messages = [big, four, 'h\u00e9llo w\u00f6rld \u03ba\u1f79\u03c3\u03bc\u03b5 \u{1f389}\u{1f680}', '', huge.buffer];

function same(got, expected) {
  if (typeof expected === 'string') return typeof got === 'string' && got === expected;
  if (!(got instanceof ArrayBuffer) || got.byteLength !== expected.byteLength) return false;
  const a = new Uint8Array(got), b = new Uint8Array(expected);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
function describe(message) {
  return typeof message === 'string' ? `text of ${new TextEncoder().encode(message).length} bytes`
                                     : `binary of ${message.byteLength} bytes`;
}

let ws;
try {
  ws = protocols.length ? new WebSocket(url, protocols) : new WebSocket(url);
} catch (error) {
  finish(`new WebSocket failed: ${error}`);
}
if (ws) {
  ws.binaryType = 'arraybuffer';
  let index = 0;
  ws.onopen = () => {
    result.extensions = ws.extensions;
    result.protocol = ws.protocol;
    ws.send(messages[0]);
  };
  ws.onmessage = (event) => {
    const expected = messages[index];
    if (!same(event.data, expected)) {
      const got = typeof event.data === 'string' ? `text of ${event.data.length} characters`
                                                 : `binary of ${event.data.byteLength} bytes`;
      return finish(`${describe(expected)} echoed as ${got} or with different content`);
    }
    result.echoed += 1;
    index += 1;
    if (index < messages.length) ws.send(messages[index]);
    else ws.close(1000, 'bye');
  };
  ws.onclose = (event) => {
    result.close_code = event.code;
    result.close_reason = event.reason;
    result.was_clean = event.wasClean;
    if (index < messages.length) return finish(`closed (${event.code} ${event.reason}) after ${index} echoes`);
    const second = new WebSocket(url);
    second.onopen = () => second.send('close:4000:done');
    second.onclose = (e) => {
      result.custom_close = {code: e.code, reason: e.reason, was_clean: e.wasClean};
      finish(null);
    };
  };
}
"""

EVENTSOURCE_SCRIPT = r"""
const [url, count, timeoutMs] = arguments;
const done = arguments[arguments.length - 1];
const result = {ids: [], data: [], opens: 0, errors: 0, untyped: 0, ready_states: [], error: null};
let finished = false;
let source;
function finish(error) {
  if (finished) return;
  finished = true;
  if (source) source.close();
  if (error) result.error = error;
  done(result);
}
setTimeout(() => finish('timed out in the page'), timeoutMs);
try {
  source = new EventSource(url);
} catch (error) {
  finish(`new EventSource failed: ${error}`);
}
if (source) {
  source.onopen = () => { result.opens += 1; };
  source.onerror = () => {
    result.errors += 1;
    result.ready_states.push(source.readyState);
    if (source.readyState === EventSource.CLOSED) finish('the EventSource failed for good (readyState CLOSED)');
  };
  source.onmessage = () => { result.untyped += 1; };
  source.addEventListener('tick', (event) => {
    result.ids.push(event.lastEventId);
    result.data.push(event.data);
    if (result.ids.length >= count) finish(null);
  });
}
"""


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def make_driver(args):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=800,600"):
        options.add_argument(argument)
    if args.spki:
        options.add_argument(f"--ignore-certificate-errors-spki-list={args.spki}")
    for argument in args.chrome_arg:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(args.timeout)
    driver.set_script_timeout(args.timeout + 2)
    return driver


def devtools_events(driver):
    """The Network.* DevTools events Chromium logged so far, as (method, params)."""
    events = []
    try:
        entries = driver.get_log("performance")
    except WebDriverException:
        return events
    for entry in entries:
        try:
            message = json.loads(entry["message"])["message"]
        except (KeyError, ValueError):
            continue
        if message.get("method", "").startswith("Network."):
            events.append((message["method"], message.get("params", {})))
    return events


def header(headers, name):
    """A header's value from a DevTools headers object, whatever the case of its name."""
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def websocket_handshakes(events):
    handshakes = {}
    for method, params in events:
        request_id = params.get("requestId")
        if method == "Network.webSocketWillSendHandshakeRequest":
            entry = handshakes.setdefault(request_id, {})
            entry["offered_extensions"] = header(params.get("request", {}).get("headers"), "Sec-WebSocket-Extensions")
        elif method == "Network.webSocketHandshakeResponseReceived":
            entry = handshakes.setdefault(request_id, {})
            response = params.get("response", {})
            entry["status"] = response.get("status")
            entry["extensions"] = header(response.get("headers"), "Sec-WebSocket-Extensions")
            entry["protocol"] = header(response.get("headers"), "Sec-WebSocket-Protocol")
    return list(handshakes.values())


def stream_requests(events, path):
    requests = {}
    order = []
    for method, params in events:
        request_id = params.get("requestId")
        if method == "Network.requestWillBeSent" and path in params.get("request", {}).get("url", ""):
            order.append(request_id)
            requests[request_id] = {"last_event_id": header(params["request"].get("headers"), "Last-Event-ID"),
                                    "status": None, "content_type": None, "protocol": None}
        elif method == "Network.requestWillBeSentExtraInfo" and request_id in requests:
            value = header(params.get("headers"), "Last-Event-ID")
            if value is not None:
                requests[request_id]["last_event_id"] = value
        elif method == "Network.responseReceived" and request_id in requests:
            response = params.get("response", {})
            requests[request_id].update(status=response.get("status"), protocol=response.get("protocol"),
                                        content_type=header(response.get("headers"), "Content-Type"))
    return [requests[request_id] for request_id in order]


def ws_url_of(base, path):
    if base.startswith("https://"):
        return "wss://" + base[len("https://"):].rstrip("/") + path
    if base.startswith("http://"):
        return "ws://" + base[len("http://"):].rstrip("/") + path
    raise CheckFailed(f"--base must be an http:// or https:// URL, got {base!r}")


def run_websocket(driver, args, result):
    url = args.ws_url or ws_url_of(args.base, "/ws/echo")
    result["url"] = url
    outcome = driver.execute_async_script(WEBSOCKET_SCRIPT, url, args.subprotocol, int(args.timeout * 1000))
    result.update(outcome)
    result["handshakes"] = websocket_handshakes(devtools_events(driver))
    check(outcome["error"] is None, outcome["error"] or "")
    check(outcome["close_code"] == 1000, f"the server closed with {outcome['close_code']}, expected 1000")
    custom = outcome["custom_close"] or {}
    check(custom.get("code") == 4000 and custom.get("reason") == "done",
          f"close:4000:done made the server close with {custom.get('code')} {custom.get('reason')!r}")
    if args.expect_compression:
        check("permessage-deflate" in (outcome["extensions"] or ""),
              f"permessage-deflate was not negotiated (extensions {outcome['extensions']!r})")


def run_eventsource(driver, args, result):
    query = f"count={args.count}&interval_ms={args.interval_ms}"
    if args.close_after:
        query += f"&close_after={args.close_after}"
    url = args.base.rstrip("/") + args.sse_path + "?" + query
    result["url"] = url
    outcome = driver.execute_async_script(EVENTSOURCE_SCRIPT, url, args.count, int(args.timeout * 1000))
    result.update(outcome)
    time.sleep(0.2)  # let DevTools report the last response
    result["requests"] = stream_requests(devtools_events(driver), args.sse_path)
    check(outcome["error"] is None, outcome["error"] or "")
    expected = [str(i) for i in range(1, args.count + 1)]
    check(outcome["ids"] == expected, f"event ids {outcome['ids']}, expected {expected}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="the server's base URL, http://HOST:PORT or https://HOST:PORT")
    parser.add_argument("--mode", choices=["websocket", "eventsource"], required=True)
    parser.add_argument("--page", default="/docs", help="path loaded first for the page's origin (default /docs)")
    parser.add_argument("--ws-url", help="websocket: connect here instead of <base>/ws/echo")
    parser.add_argument("--subprotocol", action="append", default=[], help="websocket: subprotocol to offer")
    parser.add_argument("--expect-compression", action="store_true",
                        help="websocket: fail unless permessage-deflate was negotiated")
    parser.add_argument("--sse-path", default="/events/ticks", help="eventsource: the stream's path")
    parser.add_argument("--count", type=int, default=6, help="eventsource: events to wait for")
    parser.add_argument("--interval-ms", type=int, default=20, help="eventsource: interval_ms parameter")
    parser.add_argument("--close-after", type=int, default=2, help="eventsource: close_after parameter (0 = none)")
    parser.add_argument("--spki", help="trust the server certificate with this SPKI hash")
    parser.add_argument("--chrome-arg", action="append", default=[], help="extra Chromium command-line argument")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds for each wait (at most 20)")
    args = parser.parse_args()
    args.timeout = max(1.0, min(args.timeout, MAX_WAIT))
    if not args.base and (args.mode == "eventsource" or not args.ws_url):
        parser.error("--base is required (websocket mode may use --ws-url alone)")

    started = time.monotonic()
    result = {"ok": False, "mode": args.mode, "url": None, "error": None}
    driver = None
    try:
        driver = make_driver(args)
        if args.base:
            driver.get(args.base.rstrip("/") + args.page)
        else:
            # A file:// page: Chromium blocks a data: or about:blank page's connections to
            # loopback addresses (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS).
            page = os.path.join(tempfile.mkdtemp(prefix="browser_check-"), "page.html")
            with open(page, "w") as file:
                file.write("<!doctype html><title>websocket check</title>")
            driver.get("file://" + page)
        if args.mode == "websocket":
            run_websocket(driver, args, result)
        else:
            run_eventsource(driver, args, result)
        result["ok"] = True
    except CheckFailed as failure:
        result["error"] = str(failure)
    except TimeoutException as error:
        result["error"] = f"timed out: {error.msg}"
    except WebDriverException as error:
        result["error"] = f"browser error: {error.msg}"
    finally:
        if driver is not None:
            driver.quit()
    result["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    print(json.dumps(result), flush=True)
    if not result["ok"]:
        print(f"FAIL ({args.mode}): {result['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
