#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the peers the interop tests drive
# (curl, nghttp2's nghttp and h2load, headless Chromium and its driver, Node with the `ws` package,
# a Python venv with httpx, h11, h2, FastAPI, the OpenAPI validator, Selenium, websockets, wsproto,
# httpx-sse, asyncpg, psycopg and the MCP SDK, plus mcp-proxy's older MCP SDK in a venv of its
# own), builds the Swift MCP SDK's peers, starts a throw-away PostgreSQL 15 server (scripts/pg.sh, which
# installs postgresql-15 if needed), then builds and runs every Swift test.
# Idempotent: a second run reuses the venv, the build folder and the database's data folder.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v nghttp >/dev/null || need_apt+=(nghttp2-client)  # nghttp and h2load
python3 -c 'import venv' 2>/dev/null || need_apt+=(python3-venv)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
command -v node >/dev/null || need_apt+=(nodejs)  # WebSocket peers in Node
[ -f /usr/share/nodejs/ws/package.json ] || need_apt+=(node-ws)  # require('ws') with NODE_PATH below
command -v gtlsclient >/dev/null || need_apt+=(ngtcp2-client)  # ngtcp2's QUIC client (GnuTLS)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# Python peers, pinned by requirements file; reinstalled only when the file changes.
venv=.venv
stamp="$venv/.requirements.sha"
want=$(sha256sum scripts/test-requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/test-requirements.txt
  echo "$want" > "$stamp"
fi
export FASTERAPI_PYTHON="$PWD/$venv/bin/python"

# The older MCP SDK generation (mcp 1.x) comes with mcp-proxy, in a venv of its own.
mcp1=.venv-mcp1
if [ ! -x "$mcp1/bin/python" ] || [ "$(cat "$mcp1/.stamp" 2>/dev/null)" != "mcp-proxy==0.13.0" ]; then
  python3 -m venv "$mcp1"
  "$mcp1/bin/pip" install -q --disable-pip-version-check mcp-proxy==0.13.0
  echo "mcp-proxy==0.13.0" > "$mcp1/.stamp"
fi
export FASTERAPI_PYTHON_MCP1="$PWD/$mcp1/bin/python"
export NODE_PATH=/usr/share/nodejs  # where Debian's node-* packages (node-ws) live

# PostgreSQL 15 on 127.0.0.1 (TLS or plain, SCRAM). Tests may start more instances with the script;
# every instance under /tmp/fasterapi-pg is stopped on exit (its data is kept).
export FASTERAPI_PG_SCRIPT="$PWD/scripts/pg.sh"
stop_postgres() {
  local dir
  for dir in /tmp/fasterapi-pg/*/; do
    [ -d "$dir" ] || continue
    "$FASTERAPI_PG_SCRIPT" stop "$(basename "$dir")" || true
  done
}
trap stop_postgres EXIT
FASTERAPI_PG_URL=$(scripts/pg.sh start)
FASTERAPI_PG_CA=$(scripts/pg.sh ca)
FASTERAPI_PG_SOCKET=$(scripts/pg.sh socket)
export FASTERAPI_PG_URL FASTERAPI_PG_CA FASTERAPI_PG_SOCKET

swift build --build-tests
# The official Swift MCP SDK's client and server (the interop peers), a package of their own,
# built in release (their own .build folder is kept between runs).
(cd Benchmarks/mcp-swift-sdk && swift build -c release)
export FASTERAPI_SWIFTSDK_BIN="$PWD/Benchmarks/mcp-swift-sdk/.build/release"
# The QUIC transfer tests move 50 MB between release-built `fasterapi quic-serve` / `quic-get`.
swift build -c release --product fasterapi
export FASTERAPI_RELEASE_BIN="$PWD/.build/release/fasterapi"
if [ $# -gt 0 ]; then
  swift test --skip-build --parallel --num-workers 2 "$@"
else
  # The HTTP/2 conformance run floods a server on purpose; it runs on its own afterwards so the
  # timing-sensitive live tests do not share the two cores with it.
  swift test --skip-build --parallel --num-workers 2 --skip HTTP2InteropTests --skip FasterAPIWebSocketTests \
    --skip FasterAPIPostgresTests --skip FasterAPIMCPTests --skip QUICTests
  # The PostgreSQL suites load the machine (a debug build's SCRAM, COPY, a second server they
  # stop and start): they run on their own, beside their own server only.
  swift test --skip-build --filter FasterAPIPostgresTests
  # The MCP suites start many peer processes (Python and Swift SDK servers and clients): they run
  # on their own too, so their start-up load does not starve the timed live tests.
  swift test --skip-build --filter FasterAPIMCPTests
  # The QUIC suites start Python, ngtcp2 and curl peers, and their transfers (50 MB each, one
  # through a lossy relay) load both cores: on their own too, the transfers last.
  swift test --skip-build --filter QUICTests --skip QUICInteropTransferTests
  swift test --skip-build --filter QUICInteropTransferTests
  # The WebSocket and event-stream suites time keep-alives, heartbeats and disconnects; they run
  # after, apart from the peer-heavy interop and conformance runs, which run one at a time.
  swift test --skip-build --filter 'FasterAPIWebSocketTests\.(Live|WebSocketStateMachine|PerMessageDeflate|ServerSentEvent|UTF8)'
  swift test --skip-build --filter 'FasterAPIWebSocketTests\.WebSocketConformanceTests'
  swift test --skip-build --filter 'FasterAPIWebSocketTests\.WebSocketInteropTests'
  swift test --skip-build --filter HTTP2InteropTests
fi
