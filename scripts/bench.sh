#!/usr/bin/env bash
# Side-by-side benchmark: FasterAPI's demo vs Hummingbird 2, FastAPI (uvicorn), nginx and nghttpd,
# over cleartext HTTP/1.1, HTTP/1.1 over TLS and HTTP/2 over TLS, each protocol reported apart;
# WebSocket echo, SSE fan-out, PostgreSQL access (HTTP and the bare driver), and MCP tool calls
# against the official Python and Swift MCP SDKs' servers.
#
# Protocols (PROTOCOLS), and the servers that take part in each:
#   h1     cleartext HTTP/1.1, `wrk -t1 -c64 --latency`: fasterapi, hummingbird, fastapi, nginx
#   h1tls  HTTP/1.1 over TLS, the same wrk runs on https:// URLs: fasterapi, hummingbird
#          (hb-peer --tls, Hummingbird's `.tls(.http1())`)
#   h2tls  HTTP/2 over TLS (ALPN h2), `h2load -c16 -m16`: fasterapi, hummingbird (hb-peer --tls
#          --http2, Hummingbird's `.http2Upgrade`) and nghttpd (nghttp2's reference server, one
#          worker thread) serving static files that hold the GET routes' bodies at their paths
#   ws     WebSocket echo at WS_PATH over cleartext HTTP/1.1 upgrade, driven by
#          Benchmarks/wsload/wsload.c (compiled with cc into the run's temporary directory):
#          WS_CONNECTIONS connections, WS_SIZE-byte masked text messages, WS_DEPTH in flight per
#          connection, no compression offered: fasterapi, hummingbird (hb-peer --websocket,
#          hummingbird-websocket's `.http1WebSocketUpgrade` + `Router.ws`), node-ws (Node's `ws`
#          from Debian's node-ws, Benchmarks/peers/ws_echo_node.js). Messages/s counts round
#          trips (one message each way); CPU µs/msg is the server's CPU over the measured window
#          divided by round trips. A server whose WS_PATH refuses the upgrade (404) is skipped.
#   sse    SSE fan-out, fasterapi only: scripts/sse_fanout.py opens SSE_STREAMS concurrent idle
#          `GET SSE_PATH` event streams, reads the server's RSS, then `POST SSE_PATH` broadcasts
#          one event and the time until every stream has it is measured. Targets: RSS ≤ 200 MiB
#          with 10,000 streams, broadcast < 1 s. Skipped if SSE_PATH answers 404.
#   db     PostgreSQL 15, started with `scripts/pg.sh start bench 54339` (stopped on exit); every
#          client connects with sslmode=disable. The script makes the tables it needs if missing:
#          world(id int primary key, randomnumber int) with ids 1...10,000, and copy_bench(id int,
#          name text, score float8). Three parts:
#          HTTP: TechEmpower's /db (one random world row as {"id":N,"randomNumber":M}) and
#          /queries?n=20 (an array of 20 rows, one query each), loaded like h1 with wrk:
#          fasterapi (DATABASE_URL=URL&pool_max=DB_POOL) and fastapi (Benchmarks/peers/fastapi_db.py,
#          FastAPI + an asyncpg pool of DB_POOL connections). Bodies are checked for their shape.
#          select loop: DB_LOOP_COUNT single-row prepared selects by random id spread over
#          DB_LOOP_CONCURRENCY connections, one worker each (connecting and preparing untimed):
#          .build/release/fasterapi-pgloop --mode select (if fasterapi is in SERVERS) against
#          asyncpg (Benchmarks/peers/asyncpg_loop.py) and psycopg 3 (psycopg_loop.py,
#          prepare=True), both on uvloop.
#          copy: DB_COPY_ROWS rows (i, "item-i", i/4) into the emptied copy_bench, by
#          fasterapi-pgloop --mode copy against psql's `\copy` of the same rows from a COPY text
#          file made beforehand (psql timed from start to exit). Target: fasterapi's time at most
#          1.5 x psql's. After each copy the table's contents are checked against the file.
#   mcp    MCP `tools/call` round trips (the tool `add`, {"a":N,"b":2} -> structured {"sum":...}),
#          every server driven by the same client, .build/release/fasterapi-mcpload (FasterAPI's
#          MCPClient): each session makes the MCP handshake and 20 untimed warm-up calls, then the
#          calls are timed, each session making its share one after another; the client prints
#          calls/s and the p50/p99 latency of one call. Every client run is bounded by `timeout`.
#          Streamable HTTP (POST /mcp on 127.0.0.1), one session (MCP_CALLS calls) and then
#          MCP_SESSIONS concurrent sessions (MCP_CALLS_16 calls) against one server process:
#          fasterapi (the demo's /mcp), mcp-python (the official Python SDK's MCPServer,
#          Tests/FasterAPIMCPTests/Interop/mcp_server.py with --json: plain JSON answers, its
#          fastest mode; uvicorn) and mcp-swift (the official Swift SDK's Server behind its
#          StatefulHTTPServerTransport, Benchmarks/mcp-swift-sdk, swiftsdk-mcp-server: SSE answers,
#          that transport's only mode). CPU µs/call is the server's CPU over the whole client run
#          (handshakes and warm-up included) divided by every call it served, warm-up calls
#          counted; RSS is read after the run.
#          stdio, one session (MCP_STDIO_CALLS calls), the client spawning the server:
#          fasterapi (`fasterapi-demo mcp-stdio`) and mcp-python (mcp_server.py stdio). The Swift
#          SDK's StdioTransport sleeps 10 ms whenever its pipe is empty, so it would measure that
#          sleep: mcp-swift is left out of stdio. The server runs under a small wrapper that reads
#          its rusage when it exits; CPU µs/call is the CPU of a run of MCP_STDIO_CALLS calls less
#          that of a run of 1 call (start-up, handshake and warm-up taken out), over
#          MCP_STDIO_CALLS - 1; RSS is the server's peak.
#          Targets: fasterapi's calls/s >= 10 x mcp-python's and >= 3 x mcp-swift's over HTTP, with
#          p50 < 1 ms (judged on the one-session run: with S sessions each keeping one call in
#          flight, p50 is about S / calls-per-second whatever the server); >= 10 x mcp-python's
#          over stdio.
#   quic   QUIC on 127.0.0.1 (UDP), not in the default PROTOCOLS: it needs the `fasterapi` CLI
#          (FASTERAPI_QUIC_BIN, built with `--product fasterapi`), caddy from apt, aioquic 1.7.2 and
#          curl_cffi in .venv-bench/, and moves a QUIC_BYTES file (1 GiB) through Python clients;
#          run it as `PROTOCOLS=quic SERVERS="fasterapi aioquic caddy" scripts/bench.sh`. Servers:
#          fasterapi (`fasterapi quic-serve`, hq-interop: `GET /path\r\n` on a bidirectional
#          stream), aioquic (Benchmarks/quic/hq_server.py, the same hq-interop on aioquic) and caddy
#          (quic-go, HTTP/3 only over QUIC; Caddyfile with `admin off`, `bind 127.0.0.1`, the run's
#          certificate, a temporary HOME). Three parts:
#          bulk: one connection, one stream, GET of a random QUIC_BYTES-byte file made once in the
#          run's temporary directory (its sha256 is checked on every copy fetched). Pairs:
#          fasterapi <- `fasterapi quic-get --insecure`, aioquic <- Benchmarks/quic/hq_get.py, and
#          caddy <- Benchmarks/quic/h3_get.py (aioquic's H3Connection) and <- curl_cffi's libcurl
#          (Benchmarks/quic/curl_h3_get.py, HTTP/3 only; that row is left out if curl_cffi does not
#          install). Every server first serves a small probe file (the warm-up). Gbit/s is the file's
#          size over the client process's wall time (start to exit: start-up, handshake, transfer,
#          writing the file); CPU is the server's over that time; RSS the server's after it, and its
#          peak (VmHWM); the client's CPU and peak RSS are its rusage. Each fetch is bounded by
#          QUIC_TIMEOUT. Target: fasterapi's Gbit/s >= 1.5 x caddy's (its faster row). The clients
#          differ: fasterapi's client speaks hq-interop only until it speaks HTTP/3, so Caddy is
#          measured with other clients.
#          handshakes: `fasterapi quic-handshakes URL --count QUIC_HANDSHAKES --concurrency
#          QUIC_HS_CONCURRENCY --insecure` (it prints `handshakes/s X`), the server pinned to CPU 0
#          and the client to CPU 1 (taskset; unpinned on one CPU), against fasterapi and, for
#          reference, aioquic (hq-interop; caddy speaks only h3). Target: fasterapi >= 1000/s.
#          idle: `fasterapi quic-idle URL --connections QUIC_IDLE_CONNS --insecure` opens the
#          connections, says `open N`, and holds them; the server's RSS before and 1 s after that,
#          in KiB per connection (fasterapi and aioquic, each started afresh).
#          handshakes and idle print "not available" if FASTERAPI_QUIC_BIN lacks the command.
# All servers bind 127.0.0.1 only; nginx, uvicorn and nghttpd run a single worker. The TLS
# servers share one self-signed ECDSA P-256 certificate for 127.0.0.1 and localhost, made with
# openssl in the run's temporary directory.
#
# For each protocol, for each server that speaks it (started afresh): start it on a free loopback
# port, wait until it answers, check every route's body and the negotiated HTTP version with curl,
# warm up, then load each route and record req/s, latency, the server's CPU time per request (µs,
# from /proc/PID/stat over the whole process tree) and its RSS (MiB). wrk gives p50/p99 (and
# mean/sd/max); h2load gives mean/sd/max of the request time and no percentiles. h2load warms up
# with --warm-up-time before each route, and its CPU is read over the measured window only; wrk
# warms up once per server with a pass over all routes. For h1, fasterapi and hummingbird also get
# the RSS growth from IDLE_CONNS idle keep-alive connections. Prints a table and ratios
# (fasterapi over each peer) per protocol and writes bench-results/bench.json. The db phase also
# prints the driver loops' rates and COPY times, with fasterapi's ratios to each peer; the mcp
# phase prints a table per transport and session count, then fasterapi's ratios and the targets.
#
# Environment overrides:
#   SERVERS     servers to run, in order        (default: "fasterapi hummingbird fastapi nginx nghttpd node-ws
#               mcp-python mcp-swift aioquic caddy"); each runs for the protocols above that it
#               speaks; in db, fasterapi also stands for fasterapi-pgloop, while asyncpg, psycopg and
#               psql always run; in quic, fasterapi is the `fasterapi` CLI (FASTERAPI_QUIC_BIN)
#   PROTOCOLS   protocols to measure, in order  (default: "h1 h1tls h2tls ws sse db mcp"; quic is
#               left out of the default: ask for it, e.g. PROTOCOLS=quic)
#   ROUTES      routes to load                  (default: "/plaintext /json /users/123 POST:/accounts")
#               a `POST:` prefix sends ACCOUNT_BODY as JSON (the validated five-field body);
#               nghttpd serves only the GET routes whose body is known
#   DURATION    seconds of load per route       (default: 10)
#   WARMUP      seconds of warm-up: per server for wrk, per route for h2load (default: 2)
#   CONNECTIONS wrk connections                 (default: 64)
#   H2_CLIENTS  h2load clients (-c)             (default: 16)
#   H2_STREAMS  h2load concurrent streams per client (-m) (default: 16)
#   IDLE_CONNS  idle connections for the memory check (default: 1000; 0 skips it)
#   WS_PATH     WebSocket echo route            (default: /ws/echo)
#   WS_CONNECTIONS, WS_SIZE, WS_DEPTH  wsload connections, message bytes, messages in flight per
#               connection (defaults: 64, 32, 1); the ws phase uses DURATION and WARMUP too
#   SSE_PATH    SSE broadcast route (GET subscribes, POST broadcasts) (default: /events/broadcast)
#   SSE_STREAMS concurrent SSE streams          (default: 10000; needs `ulimit -n` above it)
#   DB_POOL     connections in each HTTP server's PostgreSQL pool (default: 16)
#   DB_LOOP_COUNT, DB_LOOP_CONCURRENCY  selects in the driver loop and the connections they are
#               spread over (defaults: 200000, 16)
#   DB_COPY_ROWS  rows per COPY                 (default: 1000000)
#   MCP_CALLS   timed calls of the one-session Streamable HTTP run (default: 5000)
#   MCP_CALLS_16  timed calls of the concurrent-sessions HTTP run, spread over them (default: 10000)
#   MCP_SESSIONS  sessions of that run          (default: 16)
#   MCP_STDIO_CALLS  timed calls of the stdio run (default: 3000)
#   QUIC_BYTES  size of the quic bulk file: bytes, or with a KiB, MiB or GiB suffix (default: 1GiB)
#   QUIC_TIMEOUT  seconds one quic bulk fetch may take (default: 60 + 1 s per 2 MiB of QUIC_BYTES)
#   QUIC_HANDSHAKES, QUIC_HS_CONCURRENCY  handshakes of the quic handshake run and how many at once
#               (defaults: 5000, 16)
#   QUIC_IDLE_CONNS  idle QUIC connections for the memory check (default: 1000; 0 skips it)
#   FASTERAPI_QUIC_BIN  the `fasterapi` CLI (default: .build/release/fasterapi), run as
#               `quic-serve --port N --root DIR --cert CERT.pem --key KEY.pem --host 127.0.0.1`
#               and as the quic-get, quic-handshakes and quic-idle clients
#   SKIP_BUILD  1 to use the existing release binaries as they are
#   FASTERAPI_BIN  the demo binary (default: .build/release/fasterapi-demo), run with
#               --host 127.0.0.1 --port N for h1, and with --cert CERT.pem --key KEY.pem added for
#               h1tls and h2tls (HTTP/2 and HTTP/1.1 over TLS on one port, chosen by ALPN; wrk
#               sends no ALPN and must get HTTP/1.1); cleartext for ws, sse, db and mcp; run as
#               `FASTERAPI_BIN mcp-stdio` for mcp over stdio
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SERVERS="${SERVERS:-fasterapi hummingbird fastapi nginx nghttpd node-ws mcp-python mcp-swift aioquic caddy}"
PROTOCOLS="${PROTOCOLS:-h1 h1tls h2tls ws sse db mcp}"
ROUTES="${ROUTES:-/plaintext /json /users/123 POST:/accounts}"
ACCOUNT_BODY='{"name":"Ada Lovelace","email":"ada@example.com","age":36,"score":9.5,"tags":["math","poetry"]}'

DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
H2_CLIENTS="${H2_CLIENTS:-16}"
H2_STREAMS="${H2_STREAMS:-16}"
IDLE_CONNS="${IDLE_CONNS:-1000}"
SKIP_BUILD="${SKIP_BUILD:-0}"
WS_PATH="${WS_PATH:-/ws/echo}"
WS_CONNECTIONS="${WS_CONNECTIONS:-64}"
WS_SIZE="${WS_SIZE:-32}"
WS_DEPTH="${WS_DEPTH:-1}"
SSE_PATH="${SSE_PATH:-/events/broadcast}"
SSE_STREAMS="${SSE_STREAMS:-10000}"
DB_POOL="${DB_POOL:-16}"
DB_LOOP_COUNT="${DB_LOOP_COUNT:-200000}"
DB_LOOP_CONCURRENCY="${DB_LOOP_CONCURRENCY:-16}"
DB_COPY_ROWS="${DB_COPY_ROWS:-1000000}"
DB_ROUTES="/db /queries?n=20"
MCP_CALLS="${MCP_CALLS:-5000}"
MCP_CALLS_16="${MCP_CALLS_16:-10000}"
MCP_SESSIONS="${MCP_SESSIONS:-16}"
MCP_STDIO_CALLS="${MCP_STDIO_CALLS:-3000}"
MCP_WARMUP_CALLS=20 # fasterapi-mcpload's untimed calls per session before the timed ones
QUIC_BYTES="${QUIC_BYTES:-1GiB}"
QUIC_TIMEOUT="${QUIC_TIMEOUT:-}"
QUIC_HANDSHAKES="${QUIC_HANDSHAKES:-5000}"
QUIC_HS_CONCURRENCY="${QUIC_HS_CONCURRENCY:-16}"
QUIC_IDLE_CONNS="${QUIC_IDLE_CONNS:-1000}"

VENV="$ROOT/.venv-bench"
OUT_DIR="$ROOT/bench-results"
FASTERAPI_BIN="${FASTERAPI_BIN:-$ROOT/.build/release/fasterapi-demo}"
HB_PACKAGE="$ROOT/Benchmarks/peers/hb-peer"
HB_BIN="$HB_PACKAGE/.build/release/hb-peer"
CLK_TCK="$(getconf CLK_TCK)"
NODE_WS_SERVER="$ROOT/Benchmarks/peers/ws_echo_node.js"
NODE_MODULES=/usr/share/nodejs # Debian's node-ws installs `ws` here
PGLOOP_BIN="$ROOT/.build/release/fasterapi-pgloop"
PG_NAME=bench
PG_PORT=54339
MCPLOAD_BIN="$ROOT/.build/release/fasterapi-mcpload"
MCP_PY_SERVER="$ROOT/Tests/FasterAPIMCPTests/Interop/mcp_server.py"
MCP_SWIFT_PACKAGE="$ROOT/Benchmarks/mcp-swift-sdk"
MCP_SWIFT_BIN="$MCP_SWIFT_PACKAGE/.build/release/swiftsdk-mcp-server"
FASTERAPI_QUIC_BIN="${FASTERAPI_QUIC_BIN:-$ROOT/.build/release/fasterapi}"
QUIC_PEERS="$ROOT/Benchmarks/quic"

for n in "$DURATION" "$WARMUP" "$CONNECTIONS" "$H2_CLIENTS" "$H2_STREAMS" "$IDLE_CONNS" \
    "$WS_CONNECTIONS" "$WS_SIZE" "$WS_DEPTH" "$SSE_STREAMS"; do
    [[ "$n" =~ ^[0-9]+$ ]] || {
        echo "bench: DURATION, WARMUP, CONNECTIONS, H2_CLIENTS, H2_STREAMS, IDLE_CONNS, WS_CONNECTIONS," \
            "WS_SIZE, WS_DEPTH and SSE_STREAMS must be integers" >&2
        exit 2
    }
done
for n in "$DB_POOL" "$DB_LOOP_COUNT" "$DB_LOOP_CONCURRENCY" "$DB_COPY_ROWS"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || {
        echo "bench: DB_POOL, DB_LOOP_COUNT, DB_LOOP_CONCURRENCY and DB_COPY_ROWS must be positive integers" >&2
        exit 2
    }
done
for n in "$MCP_CALLS" "$MCP_CALLS_16" "$MCP_SESSIONS" "$MCP_STDIO_CALLS"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || {
        echo "bench: MCP_CALLS, MCP_CALLS_16, MCP_SESSIONS and MCP_STDIO_CALLS must be positive integers" >&2
        exit 2
    }
done
# QUIC_BYTES: bytes, or N KiB / MiB / GiB.
case "$QUIC_BYTES" in
*KiB) QUIC_UNIT=1024 ;;
*MiB) QUIC_UNIT=1048576 ;;
*GiB) QUIC_UNIT=1073741824 ;;
*) QUIC_UNIT=1 ;;
esac
QUIC_COUNT="${QUIC_BYTES%[KMG]iB}"
[[ "$QUIC_COUNT" =~ ^[1-9][0-9]*$ ]] || {
    echo "bench: QUIC_BYTES must be a positive number of bytes, KiB, MiB or GiB (e.g. 1GiB, 100MiB)" >&2
    exit 2
}
QUIC_BYTES=$((QUIC_COUNT * QUIC_UNIT))
QUIC_TIMEOUT="${QUIC_TIMEOUT:-$((60 + QUIC_BYTES / 2097152))}" # aioquic in Python does ~5 MiB/s
for n in "$QUIC_TIMEOUT" "$QUIC_HANDSHAKES" "$QUIC_HS_CONCURRENCY"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || {
        echo "bench: QUIC_TIMEOUT, QUIC_HANDSHAKES and QUIC_HS_CONCURRENCY must be positive integers" >&2
        exit 2
    }
done
[[ "$QUIC_IDLE_CONNS" =~ ^[0-9]+$ ]] || { echo "bench: QUIC_IDLE_CONNS must be an integer" >&2; exit 2; }

# The servers taking part in each protocol.
protocol_servers() {
    case "$1" in
    h1) echo "fasterapi hummingbird fastapi nginx" ;;
    h1tls) echo "fasterapi hummingbird" ;;
    h2tls) echo "fasterapi hummingbird nghttpd" ;;
    ws) echo "fasterapi hummingbird node-ws" ;;
    sse) echo "fasterapi" ;;
    db) echo "fasterapi fastapi" ;;
    mcp) echo "fasterapi mcp-python mcp-swift" ;; # over stdio: fasterapi and mcp-python only
    quic) echo "fasterapi aioquic caddy" ;; # handshakes and idle: fasterapi and aioquic only
    *) return 1 ;;
    esac
}
for p in $PROTOCOLS; do
    protocol_servers "$p" >/dev/null || { echo "bench: unknown protocol '$p' (known: h1 h1tls h2tls ws sse db mcp quic)" >&2; exit 2; }
done

log() { printf '==> %s\n' "$*" >&2; }
has_server() { [[ " $SERVERS " == *" $1 "* ]]; }
has_protocol() { [[ " $PROTOCOLS " == *" $1 "* ]]; }
# speaks SERVER PROTOCOL
speaks() { [[ " $(protocol_servers "$2") " == *" $1 "* ]]; }
uses_tls() { has_protocol h1tls || has_protocol h2tls || has_protocol quic; }

# ---------------------------------------------------------------------------------------------
# Cleanup: every server this script starts is recorded in STARTED and killed (with its process
# tree) on exit, whatever the exit path; so is PostgreSQL once the db phase has started it.
WORK="$(mktemp -d /tmp/fasterapi-bench.XXXXXX)"
STARTED=()
SERVER_PID=""
PG_STARTED=0

# Prints PID and all its descendants, one per line.
tree_pids() {
    local table
    table="$(ps -e -o pid=,ppid=)"
    awk -v root="$1" '
        { parent[$1] = $2; pids[NR] = $1 }
        END {
            keep[root] = 1; print root
            changed = 1
            while (changed) {
                changed = 0
                for (i in pids) { p = pids[i]
                    if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; print p; changed = 1 } }
            }
        }' <<<"$table"
}

stop_tree() {
    local pid="$1" pids i
    kill -0 "$pid" 2>/dev/null || return 0
    pids="$(tree_pids "$pid")"
    kill -TERM $pids 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL $pids 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do stop_tree "$pid"; done
    if ((PG_STARTED)); then "$ROOT/scripts/pg.sh" stop "$PG_NAME" || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Tools: wrk, h2load, openssl, nginx, nghttpd, psql and caddy from apt (only if missing); FastAPI,
# uvicorn, the PostgreSQL drivers asyncpg and psycopg, the MCP Python SDK (mcp 2.3.0), aioquic
# 1.7.2 and curl_cffi 0.17.0 in .venv-bench/. scripts/pg.sh installs the PostgreSQL server itself.
apt_install() {
    log "installing $* with apt-get"
    apt-get install -y -qq "$@" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }
}
command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl
command -v ps >/dev/null || apt_install procps
if uses_tls; then command -v openssl >/dev/null || apt_install openssl; fi
if has_protocol h2tls; then command -v h2load >/dev/null || apt_install nghttp2-client; fi
if has_protocol h1 && has_server nginx && ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
    apt_install nginx-light
fi
if has_protocol h2tls && has_server nghttpd && ! command -v nghttpd >/dev/null && [[ ! -x /usr/sbin/nghttpd ]]; then
    apt_install nghttp2-server
fi
if has_protocol ws && has_server node-ws && { ! command -v node >/dev/null || [[ ! -e "$NODE_MODULES/ws/package.json" ]]; }; then
    # node-ws pulls Debian's nodejs in only if no nodejs is installed.
    apt_install node-ws
fi
if has_protocol ws; then command -v cc >/dev/null || apt_install gcc libc6-dev; fi
if has_protocol db; then command -v psql >/dev/null || apt_install postgresql-client; fi
if has_protocol quic && has_server caddy && ! command -v caddy >/dev/null; then apt_install caddy; fi
if has_protocol quic; then command -v taskset >/dev/null || apt_install util-linux; fi
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
NGHTTPD_BIN="$(command -v nghttpd || echo /usr/sbin/nghttpd)"

# MCPServer is mcp 2.x's name for what 1.x called FastMCP.
if { has_protocol db || { has_protocol h1 && has_server fastapi; } || { has_protocol mcp && has_server mcp-python; }; } &&
    ! "$VENV/bin/python" -c 'import fastapi, uvicorn, uvloop, httptools, asyncpg, psycopg, psycopg_binary
from mcp.server import MCPServer' 2>/dev/null; then
    log "creating $VENV with fastapi, uvicorn[standard], asyncpg, psycopg[binary] and mcp"
    # Debian's own python3 needs python3-venv for `-m venv`.
    python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check fastapi 'uvicorn[standard]' \
        asyncpg==0.32.0 'psycopg[binary]==3.3.9' uvloop==0.23.0 mcp==2.3.0
fi
# quic: aioquic is the aioquic peer, and the HTTP/3 client for caddy; curl_cffi is caddy's second
# client, and may fail to install (its row is then left out).
if has_protocol quic && { has_server aioquic || has_server caddy; }; then
    if ! "$VENV/bin/python" -c 'import aioquic' 2>/dev/null; then
        log "installing aioquic into $VENV"
        if [[ ! -x "$VENV/bin/python" ]]; then
            python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
            python3 -m venv "$VENV"
        fi
        "$VENV/bin/pip" install -q --disable-pip-version-check aioquic==1.7.2
    fi
    if has_server caddy && ! "$VENV/bin/python" -c 'import curl_cffi' 2>/dev/null; then
        log "installing curl_cffi into $VENV"
        "$VENV/bin/pip" install -q --disable-pip-version-check curl_cffi==0.17.0 ||
            log "curl_cffi did not install: caddy is measured with the aioquic HTTP/3 client only"
    fi
fi

# ---------------------------------------------------------------------------------------------
# Release builds (bounded: 30 minutes each).
if [[ "$SKIP_BUILD" != 1 ]]; then
    # The demo serves every protocol but quic, which the `fasterapi` CLI serves.
    if has_server fasterapi && [[ -n "$(printf '%s\n' $PROTOCOLS | grep -vx quic)" ]]; then
        log "building fasterapi-demo (release)"
        timeout 1800 swift build -c release --product fasterapi-demo >&2
        if has_protocol db; then
            log "building fasterapi-pgloop (release)"
            timeout 1800 swift build -c release --product fasterapi-pgloop >&2
        fi
    fi
    if has_server fasterapi && has_protocol quic; then
        log "building fasterapi (release)"
        timeout 1800 swift build -c release --product fasterapi >&2
    fi
    # The MCP client drives every server of the mcp phase, fasterapi or not.
    if has_protocol mcp; then
        log "building fasterapi-mcpload (release)"
        timeout 1800 swift build -c release --product fasterapi-mcpload >&2
    fi
    if has_server hummingbird; then
        log "building hb-peer (release)"
        timeout 1800 swift build -c release --package-path "$HB_PACKAGE" >&2
    fi
    if has_protocol mcp && has_server mcp-swift; then
        log "building swiftsdk-mcp-server (release)"
        timeout 1800 swift build -c release --package-path "$MCP_SWIFT_PACKAGE" --product swiftsdk-mcp-server >&2
    fi
fi

# The WebSocket load generator: C, libc only, built into the run's temporary directory.
WSLOAD="$WORK/wsload"
if has_protocol ws; then
    log "compiling wsload"
    cc -O2 -pthread -o "$WSLOAD" "$ROOT/Benchmarks/wsload/wsload.c"
fi

# Servers may hold IDLE_CONNS + wrk sockets open, or SSE_STREAMS streams (and so may the SSE
# client). Root in a container may not raise the hard limit: then take the hard limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
# Measurements from /proc.

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# CPU ticks (utime + stime) summed over a process tree. Fields are counted after the last ')'
# since the command name may hold spaces: utime and stime are fields 14 and 15 of the line.
cpu_ticks() {
    local pid total=0 rest f
    for pid in $(tree_pids "$1"); do
        rest="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
        rest="${rest##*) }"
        read -r -a f <<<"$rest"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# Resident set size in KiB summed over a process tree.
rss_kib() {
    local pid total=0 kib
    for pid in $(tree_pids "$1"); do
        kib="$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" || continue
        total=$((total + ${kib:-0}))
    done
    echo "$total"
}

# wrk and h2load durations like "812.00us", "1.23ms", "2.00s" -> microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        m = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : (u == "h") ? 3.6e9 : -1
        if (m < 0) { print "null"; exit }
        printf "%.1f", n * m }'
}

# ---------------------------------------------------------------------------------------------
# Routes, bodies, certificate and static files.

# The body each known route must return; unknown routes are not checked.
expected_body() {
    case "$1" in
    /plaintext) echo 'Hello, World!' ;;
    /json) echo '{"message":"Hello, World!"}' ;;
    /users/*) local id="${1#/users/}"; echo "{\"id\":$id,\"name\":\"user-$id\"}" ;;
    POST:/accounts) echo "{\"id\":1,${ACCOUNT_BODY#\{}" ;;
    *) echo '' ;;
    esac
}

# True if both arguments are JSON documents with equal values (key order may differ:
# Foundation's JSONEncoder on Linux does not keep declaration order).
same_json() {
    python3 -c 'import json, sys; sys.exit(json.loads(sys.argv[1]) != json.loads(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

# `POST:/path` routes: the path alone, and curl's arguments to send the body.
route_path() { echo "${1#POST:}"; }
curl_args() { [[ "$1" == POST:* ]] && printf '%s\n' -X POST -H 'Content-Type: application/json' --data "$ACCOUNT_BODY"; }

# url_base PROTOCOL PORT
url_base() { if [[ "$1" == h1tls || "$1" == h2tls ]]; then echo "https://127.0.0.1:$2"; else echo "http://127.0.0.1:$2"; fi; }

# The routes a protocol loads.
protocol_routes() {
    case "$1" in
    ws) echo "$WS_PATH" ;;
    db) echo "$DB_ROUTES" ;;
    *) echo "$ROUTES" ;;
    esac
}

# A wrk script per POST route, and one per protocol (warmup_lua) that cycles through its routes
# for the warm-up; the POST body as a file for h2load.
LUA_BODY="$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$ACCOUNT_BODY")"
POST_LUA="$WORK/post.lua"
printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' "$LUA_BODY" >"$POST_LUA"
# warmup_lua ROUTE...: prints the warm-up script.
warmup_lua() {
    local r
    printf 'local routes = {'
    for r in "$@"; do
        if [[ "$r" == POST:* ]]; then printf '{"POST","%s"},' "$(route_path "$r")"; else printf '{"GET","%s"},' "$r"; fi
    done
    printf '}\nlocal i = 0\nrequest = function()\n  i = i %% #routes + 1\n'
    printf '  if routes[i][1] == "POST" then\n'
    printf '    return wrk.format("POST", routes[i][2], {["Content-Type"] = "application/json"}, %s)\n' "$LUA_BODY"
    printf '  end\n  return wrk.format(nil, routes[i][2])\nend\n'
}
POST_BODY="$WORK/account.json"
printf '%s' "$ACCOUNT_BODY" >"$POST_BODY"

# One self-signed ECDSA P-256 certificate for every TLS server of the run.
CERT="$WORK/cert.pem"
KEY="$WORK/key.pem"
if uses_tls; then
    log "making a self-signed ECDSA P-256 certificate for 127.0.0.1 and localhost"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
        -keyout "$KEY" -out "$CERT" 2>/dev/null
fi

# nghttpd's document root: each GET route with a known body is a file at the route's path, holding
# exactly that body (no trailing newline), so nghttpd answers the same URLs as the others.
HTDOCS="$WORK/htdocs"
mkdir -p "$HTDOCS"
for r in $ROUTES; do
    body="$(expected_body "$r")"
    if [[ "$r" == /?* && -n "$body" ]]; then
        mkdir -p "$HTDOCS$(dirname "$r")"
        printf '%s' "$body" >"$HTDOCS$r"
    fi
done

# serves SERVER ROUTE: nghttpd has only the static files above; the others serve every route.
serves() { [[ "$1" != nghttpd || -f "$HTDOCS$2" ]]; }

# ---------------------------------------------------------------------------------------------
# Servers. start_server NAME PROTOCOL PORT sets SERVER_PID.

start_server() {
    local name="$1" proto="$2" port="$3" logf="$WORK/$1-$2.log" args=() vars=()
    case "$name" in
    fasterapi)
        [[ -x "$FASTERAPI_BIN" ]] || { log "missing $FASTERAPI_BIN"; return 1; }
        if [[ "$proto" == h1tls || "$proto" == h2tls ]]; then args=(--cert "$CERT" --key "$KEY"); fi
        # The fan-out holds SSE_STREAMS streams and then posts the broadcast on one more.
        if [[ "$proto" == sse ]]; then args=(--max-connections "$((SSE_STREAMS + 1024))"); fi
        if [[ "$proto" == db ]]; then vars=(DATABASE_URL="$DB_URL&pool_max=$DB_POOL"); fi
        env "${vars[@]}" "$FASTERAPI_BIN" --host 127.0.0.1 --port "$port" "${args[@]}" >"$logf" 2>&1 &
        ;;
    hummingbird)
        [[ -x "$HB_BIN" ]] || { log "missing $HB_BIN"; return 1; }
        case "$proto" in
        h1tls) args=(--tls "$CERT" "$KEY") ;;
        h2tls) args=(--tls "$CERT" "$KEY" --http2) ;;
        ws) args=(--websocket) ;; # HTTP/1.1 with the WebSocket upgrade
        esac
        "$HB_BIN" --port "$port" "${args[@]}" >"$logf" 2>&1 &
        ;;
    node-ws)
        NODE_PATH="$NODE_MODULES" node "$NODE_WS_SERVER" --port "$port" >"$logf" 2>&1 &
        ;;
    fastapi)
        args=(fastapi_app:app)
        if [[ "$proto" == db ]]; then args=(fastapi_db:app); vars=(DATABASE_URL="$DB_URL" DB_POOL="$DB_POOL"); fi
        env "${vars[@]}" "$VENV/bin/uvicorn" "${args[@]}" --app-dir "$ROOT/Benchmarks/peers" \
            --host 127.0.0.1 --port "$port" --loop uvloop --http httptools --workers 1 \
            --log-level warning --no-access-log >"$logf" 2>&1 &
        ;;
    nginx)
        local dir="$WORK/nginx"
        mkdir -p "$dir"
        sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" \
            "$ROOT/Benchmarks/peers/nginx.conf.template" >"$dir/nginx.conf"
        # -e: the error log nginx opens before it reads the config.
        "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$logf" 2>&1 &
        ;;
    nghttpd)
        # TLS with ALPN h2, one worker thread.
        "$NGHTTPD_BIN" --address=127.0.0.1 --workers=1 --htdocs="$HTDOCS" "$port" "$KEY" "$CERT" >"$logf" 2>&1 &
        ;;
    mcp-python)
        # Streamable HTTP at /mcp, plain JSON answers (--json); says "ready" once listening.
        "$VENV/bin/python" "$MCP_PY_SERVER" http --port "$port" --json >"$logf" 2>&1 &
        ;;
    mcp-swift)
        # Streamable HTTP at /mcp, SSE answers; says "listening on PORT" once listening.
        [[ -x "$MCP_SWIFT_BIN" ]] || { log "missing $MCP_SWIFT_BIN"; return 1; }
        "$MCP_SWIFT_BIN" http --port "$port" >"$logf" 2>&1 &
        ;;
    *)
        log "unknown server '$name'"; return 1 ;;
    esac
    SERVER_PID=$!
    STARTED+=("$SERVER_PID")
}

# fetch PROTOCOL PORT ROUTE: one request with curl, over HTTP/1.1 (h1, h1tls) or HTTP/2 by ALPN
# (h2tls), TLS checked against the run's certificate. The body goes to $WORK/body; prints
# "STATUS HTTP_VERSION" ("000 0" if there was no answer).
fetch() {
    local proto="$1" port="$2" route="$3" opts=() extra
    case "$proto" in
    h1tls) opts=(--http1.1 --cacert "$CERT") ;;
    h2tls) opts=(--http2 --cacert "$CERT") ;;
    esac
    mapfile -t extra < <(curl_args "$route")
    rm -f "$WORK/body"
    curl -s --max-time 2 -o "$WORK/body" -w '%{http_code} %{http_version}' "${opts[@]}" "${extra[@]}" \
        "$(url_base "$proto" "$port")$(route_path "$route")" || true
}

# wait_ready PID PROTOCOL PORT ROUTE: waits (at most 60 s) until ROUTE answers 2xx.
wait_ready() {
    local pid="$1" proto="$2" port="$3" route="$4" i
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        [[ "$(fetch "$proto" "$port" "$route")" == 2* ]] && return 0
        sleep 0.1
    done
    return 1
}

# world_rows ROUTE BODY: true if BODY is what a db route returns: for /db one world row
# {"id":N,"randomNumber":M} (N in 1...10,000), for /queries?n=K an array of K of them.
world_rows() {
    python3 -c '
import json, sys
from urllib.parse import parse_qs, urlsplit
route, doc = sys.argv[1], json.loads(sys.argv[2])
def row(w):
    return (isinstance(w, dict) and sorted(w) == ["id", "randomNumber"]
            and all(type(v) is int for v in w.values()) and 1 <= w["id"] <= 10000)
if urlsplit(route).path == "/db":
    sys.exit(not row(doc))
n = int(parse_qs(urlsplit(route).query)["n"][0])
sys.exit(not (isinstance(doc, list) and len(doc) == n and all(map(row, doc))))' "$1" "$2" 2>/dev/null
}

# check_bodies PROTOCOL SERVER PORT: warns about a wrong body or HTTP version on any route.
check_bodies() {
    local proto="$1" server="$2" port="$3" route want got answer version=1.1
    [[ "$proto" == h2tls ]] && version=2
    for route in $(protocol_routes "$proto"); do
        serves "$server" "$route" || continue
        want="$(expected_body "$route")"
        answer="$(fetch "$proto" "$port" "$route")"
        got="$(cat "$WORK/body" 2>/dev/null || true)"
        if [[ "$proto" == db ]] && ! world_rows "$route" "$got"; then
            log "$server ($proto): WARNING $route returned '${got:0:300}', expected world rows {\"id\":N,\"randomNumber\":M}"
        elif [[ -n "$want" && "$got" != "$want" ]] && ! same_json "$got" "$want"; then
            log "$server ($proto): WARNING $route returned '$got', expected '$want'"
        fi
        if [[ "${answer#* }" != "$version" ]]; then
            log "$server ($proto): WARNING $route answered over HTTP/${answer#* }, expected HTTP/$version"
        fi
    done
}

# ---------------------------------------------------------------------------------------------
# Load runs. Results are collected as tab-separated lines:
#   RESULTS: protocol server route rps p50_us p99_us mean_us sd_us max_us cpu_us_per_req rss_mib
#            requests errors non_2xx                                  (absent values are null)
#   IDLE:    server rss_before_mib rss_after_mib delta_mib
RESULTS="$WORK/results.tsv"
IDLE="$WORK/idle.tsv"
: >"$RESULTS"
: >"$IDLE"

# record PROTOCOL SERVER ROUTE RPS P50 P99 MEAN SD MAX CPU_TICKS REQUESTS ERRORS NON2XX PID
# appends a RESULTS line; CPU_TICKS is the server's CPU over the window in which REQUESTS completed.
record() {
    local cpu rss_mib
    if [[ "${11:-0}" == 0 ]]; then
        log "$2 ($1) $3: WARNING no request completed"
        set -- "$1" "$2" "$3" null null null null null null "${10}" 0 "${12:-0}" "${13:-0}" "${14}"
    fi
    cpu="$(awk -v d="${10}" -v hz="$CLK_TCK" -v n="${11:-0}" \
        'BEGIN { if (d != "null" && n > 0) printf "%.2f", d / hz * 1e6 / n; else print "null" }')"
    rss_mib="$(awk -v k="$(rss_kib "${14}")" 'BEGIN { printf "%.1f", k / 1024 }')"
    if [[ "${12:-0}" != 0 || "${13:-0}" != 0 ]]; then
        log "$2 ($1) $3: errors ${12:-0}, non-2xx ${13:-0}"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-null}" \
        "$5" "$6" "$7" "$8" "$9" "$cpu" "$rss_mib" "${11:-0}" "${12:-0}" "${13:-0}" >>"$RESULTS"
}

# warm_up PROTOCOL PORT: one wrk pass cycling through every route of the protocol (h1, h1tls,
# db); h2load warms up on its own before each route.
warm_up() {
    local proto="$1" port="$2" lua="$WORK/warmup-$1.lua" routes
    if ((WARMUP > 0)) && [[ "$proto" != h2tls ]]; then
        read -r -a routes <<<"$(protocol_routes "$proto")"
        warmup_lua "${routes[@]}" >"$lua"
        timeout $((WARMUP + 30)) wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$lua" \
            "$(url_base "$proto" "$port")" >/dev/null || log "warm-up failed"
    fi
}

# load_wrk PROTOCOL SERVER PID PORT ROUTE
load_wrk() {
    local proto="$1" server="$2" pid="$3" port="$4" route="$5" script=() out before after lat
    if [[ "$route" == POST:* ]]; then script=(-s "$POST_LUA"); fi
    log "$server ($proto): wrk -t1 -c$CONNECTIONS -d${DURATION}s $route"
    before="$(cpu_ticks "$pid")"
    out="$(timeout $((DURATION + 30)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${script[@]}" \
        "$(url_base "$proto" "$port")$(route_path "$route")")" || log "$server ($proto) $route: wrk failed"
    after="$(cpu_ticks "$pid")"
    # "Latency  avg  stdev  max  +/- stdev" (not the "Latency Distribution" heading).
    read -r -a lat <<<"$(awk '$1 == "Latency" && $2 != "Distribution" { print $2, $3, $4 }' <<<"$out")"
    record "$proto" "$server" "$route" \
        "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")" \
        "$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")" \
        "$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")" \
        "$(to_us "${lat[0]:-}")" "$(to_us "${lat[1]:-}")" "$(to_us "${lat[2]:-}")" \
        $((after - before)) \
        "$(awk '/requests in/ { print $1 }' <<<"$out")" \
        "$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")" \
        "$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")" \
        "$pid"
}

# mark_window PID [START_LINE END_LINE]: copies a load tool's output through, and reads PID's
# CPU ticks into $WORK/ticks.start and $WORK/ticks.end as the tool's measured window (after its
# warm-up) starts and ends; the window's edges are the lines that start with START_LINE and
# END_LINE (default: h2load's).
mark_window() {
    local pid="$1" start="${2:-Main benchmark duration is started}" end="${3:-Main benchmark duration is over}" line
    while IFS= read -r line; do
        case "$line" in
        "$start"*) cpu_ticks "$pid" >"$WORK/ticks.start" ;;
        "$end"*) cpu_ticks "$pid" >"$WORK/ticks.end" ;;
        esac
        printf '%s\n' "$line"
    done
}

# load_h2load PROTOCOL SERVER PID PORT ROUTE
load_h2load() {
    local proto="$1" server="$2" pid="$3" port="$4" route="$5" data=() out ticks=null alpn lat
    if [[ "$route" == POST:* ]]; then data=(-d "$POST_BODY" -H 'content-type: application/json'); fi
    log "$server ($proto): h2load -c$H2_CLIENTS -m$H2_STREAMS -D$DURATION --warm-up-time=$WARMUP $route"
    rm -f "$WORK/ticks.start" "$WORK/ticks.end"
    out="$(timeout $((WARMUP + DURATION + 30)) h2load --npn-list=h2 -t1 -c"$H2_CLIENTS" -m"$H2_STREAMS" \
        -D "$DURATION" --warm-up-time="$WARMUP" "${data[@]}" \
        "$(url_base "$proto" "$port")$(route_path "$route")" 2>&1 | mark_window "$pid")" ||
        log "$server ($proto) $route: h2load failed"
    if [[ -s "$WORK/ticks.start" && -s "$WORK/ticks.end" ]]; then
        ticks=$(($(cat "$WORK/ticks.end") - $(cat "$WORK/ticks.start")))
    fi
    alpn="$(awk '/^Application protocol:/ { print $3; exit }' <<<"$out")"
    [[ "$alpn" == h2 ]] || log "$server ($proto) $route: WARNING h2load negotiated '${alpn:-nothing}', not h2"
    # "time for request:  min  max  mean  sd  +/- sd"
    read -r -a lat <<<"$(awk '/^time for request:/ { print $6, $7, $5 }' <<<"$out")"
    # "requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout"
    record "$proto" "$server" "$route" \
        "$(awk '/^finished in/ { print $4 }' <<<"$out")" \
        null null \
        "$(to_us "${lat[0]:-}")" "$(to_us "${lat[1]:-}")" "$(to_us "${lat[2]:-}")" \
        "$ticks" \
        "$(awk '/^requests:/ { print $6 }' <<<"$out")" \
        "$(awk '/^requests:/ { print $10 + $12 + $14 }' <<<"$out")" \
        "$(awk '/^status codes:/ { print $5 + $7 + $9 }' <<<"$out")" \
        "$pid"
}

# idle_check SERVER PID PORT: memory cost of IDLE_CONNS idle keep-alive connections (cleartext).
idle_check() {
    local server="$1" pid="$2" port="$3" ready="$WORK/idle.ready" before after helper i
    log "$server: RSS with $IDLE_CONNS idle keep-alive connections"
    rm -f "$ready"
    before="$(rss_kib "$pid")"
    python3 "$ROOT/scripts/idle_conns.py" "$port" "$IDLE_CONNS" 5 "$ready" &
    helper=$!
    STARTED+=("$helper")
    for ((i = 0; i < 300; i++)); do
        [[ -e "$ready" ]] || ! kill -0 "$helper" 2>/dev/null && break
        sleep 0.1
    done
    if [[ -e "$ready" ]]; then
        sleep 1 # let the server settle
        after="$(rss_kib "$pid")"
        awk -v s="$server" -v b="$before" -v a="$after" \
            'BEGIN { printf "%s\t%.1f\t%.1f\t%.1f\n", s, b / 1024, a / 1024, (a - b) / 1024 }' >>"$IDLE"
    else
        log "$server: idle connection helper failed"
    fi
    wait "$helper" 2>/dev/null || true
}

# bench_server PROTOCOL SERVER: start, check, warm up, load every route it serves, stop.
bench_server() {
    local proto="$1" server="$2" port pid route first=""
    for route in $(protocol_routes "$proto"); do
        if serves "$server" "$route"; then first="$route"; break; fi
    done
    if [[ -z "$first" ]]; then
        log "$server ($proto): serves none of ROUTES (skipped)"
        return 0
    fi
    port="$(free_port)"
    log "$server ($proto): starting on 127.0.0.1:$port"
    if ! start_server "$server" "$proto" "$port" || ! wait_ready "$SERVER_PID" "$proto" "$port" "$first"; then
        log "$server ($proto): did not start; log follows (skipped)"
        tail -n 20 "$WORK/$server-$proto.log" >&2 2>/dev/null || true
        if [[ -n "$SERVER_PID" ]]; then stop_tree "$SERVER_PID"; fi
        SERVER_PID=""
        return 0
    fi
    pid="$SERVER_PID"

    check_bodies "$proto" "$server" "$port"
    warm_up "$proto" "$port"
    for route in $(protocol_routes "$proto"); do
        serves "$server" "$route" || continue
        if [[ "$proto" == h2tls ]]; then
            load_h2load "$proto" "$server" "$pid" "$port" "$route"
        else
            load_wrk "$proto" "$server" "$pid" "$port" "$route"
        fi
    done
    if [[ "$proto" == h1 && ("$server" == fasterapi || "$server" == hummingbird) ]] && ((IDLE_CONNS > 0)); then
        idle_check "$server" "$pid" "$port"
    fi

    log "$server ($proto): stopping"
    stop_tree "$pid"
    SERVER_PID=""
}

# ---------------------------------------------------------------------------------------------
# WebSocket echo (ws) and SSE fan-out (sse). SSE results: one line per server, "SERVER<TAB>JSON".
SSE_RESULTS="$WORK/sse.tsv"
: >"$SSE_RESULTS"

# json_fields JSON KEY...: the values, tab-separated ("null" for absent or null ones, and for all
# of them if JSON is not an object, e.g. a failed run's null).
json_fields() {
    python3 -c '
import json, sys
try:
    doc = json.loads(sys.argv[1])
except ValueError:
    doc = {}
if not isinstance(doc, dict):
    doc = {}
values = [doc.get(k) for k in sys.argv[2:]]
print("\t".join("null" if v is None else str(v) for v in values))' "$@"
}

# wait_ws_ready SERVER PID PORT: waits (at most 60 s) until an upgrade on WS_PATH and one text
# echo work. Returns 1 if the server died or never answered, 2 if it refused the upgrade (a 404:
# no such route) or echoed wrongly; says why in either case.
wait_ws_ready() {
    local server="$1" pid="$2" port="$3" i out rc
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || { log "$server (ws): the server exited"; return 1; }
        rc=0
        out="$("$WSLOAD" --port "$port" --path "$WS_PATH" --check 2>/dev/null)" || rc=$?
        case "$rc" in
        0) return 0 ;;
        3) sleep 0.1 ;; # not listening yet
        4)
            if [[ "$(json_fields "$out" status)" == 404 ]]; then
                log "$server (ws): $WS_PATH answers 404 (no WebSocket echo route): skipped"
            else
                log "$server (ws): $WS_PATH refused the upgrade: $out (skipped)"
            fi
            return 2
            ;;
        *) log "$server (ws): the upgrade or the echo on $WS_PATH failed: $out (skipped)"; return 2 ;;
        esac
    done
    log "$server (ws): no WebSocket answer within 60 s"
    return 1
}

# bench_ws_server SERVER: start, check the upgrade and the echo (text, and binary as a warning),
# run wsload once (its own warm-up, then the measured window), stop.
bench_ws_server() {
    local server="$1" port pid out json rc ticks=null f
    port="$(free_port)"
    log "$server (ws): starting on 127.0.0.1:$port"
    if ! start_server "$server" ws "$port"; then
        log "$server (ws): did not start (skipped)"
        SERVER_PID=""
        return 0
    fi
    pid="$SERVER_PID"
    rc=0
    wait_ws_ready "$server" "$pid" "$port" || rc=$?
    if ((rc != 0)); then
        if ((rc == 1)); then tail -n 20 "$WORK/$server-ws.log" >&2 2>/dev/null || true; fi
        stop_tree "$pid"
        SERVER_PID=""
        return 0
    fi
    "$WSLOAD" --port "$port" --path "$WS_PATH" --check --binary >/dev/null 2>&1 ||
        log "$server (ws): WARNING a binary message did not come back as the same binary message"

    log "$server (ws): wsload --connections $WS_CONNECTIONS --size $WS_SIZE --depth $WS_DEPTH --duration $DURATION --warmup $WARMUP $WS_PATH"
    rm -f "$WORK/ticks.start" "$WORK/ticks.end"
    out="$(timeout $((WARMUP + DURATION + 30)) "$WSLOAD" --port "$port" --path "$WS_PATH" \
        --connections "$WS_CONNECTIONS" --size "$WS_SIZE" --depth "$WS_DEPTH" \
        --duration "$DURATION" --warmup "$WARMUP" --marks 2>"$WORK/wsload.err" |
        mark_window "$pid" '# window start' '# window end')" ||
        log "$server (ws): wsload reported a failure: $(head -c 300 "$WORK/wsload.err")"
    if [[ -s "$WORK/ticks.start" && -s "$WORK/ticks.end" ]]; then
        ticks=$(($(cat "$WORK/ticks.end") - $(cat "$WORK/ticks.start")))
    fi
    json="$(grep '^{' <<<"$out" | tail -n 1 || true)"
    IFS=$'\t' read -r -a f <<<"$(json_fields "$json" messages_per_sec p50_us p99_us max_us messages errors)"
    record ws "$server" "$WS_PATH" "${f[0]:-null}" "${f[1]:-null}" "${f[2]:-null}" null null "${f[3]:-null}" \
        "$ticks" "$(if [[ "${f[4]:-null}" == null ]]; then echo 0; else echo "${f[4]}"; fi)" \
        "$(if [[ "${f[5]:-null}" == null ]]; then echo 1; else echo "${f[5]}"; fi)" 0 "$pid"

    log "$server (ws): stopping"
    stop_tree "$pid"
    SERVER_PID=""
}

# bench_sse_server SERVER: start, check that POST SSE_PATH exists, run sse_fanout.py, stop.
bench_sse_server() {
    local server="$1" port pid code="000" out json i need=$((SSE_STREAMS + 200))
    if (($(ulimit -n) < need)); then
        log "$server (sse): the open-file limit $(ulimit -n) is below $need; lower SSE_STREAMS (skipped)"
        return 0
    fi
    port="$(free_port)"
    log "$server (sse): starting on 127.0.0.1:$port"
    if ! start_server "$server" sse "$port"; then
        log "$server (sse): did not start (skipped)"
        SERVER_PID=""
        return 0
    fi
    pid="$SERVER_PID"
    # Up when POST SSE_PATH gets any HTTP answer (a broadcast to no subscriber is harmless).
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        code="$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
            --data '{"data":"probe"}' "http://127.0.0.1:$port$SSE_PATH" || true)"
        [[ "$code" != 000 ]] && break
        sleep 0.1
    done
    if [[ "$code" == 404 ]]; then
        log "$server (sse): POST $SSE_PATH answers 404 (no SSE broadcast route): skipped"
    elif [[ "$code" != 2* ]]; then
        log "$server (sse): POST $SSE_PATH answered '$code' (skipped)"
        tail -n 20 "$WORK/$server-sse.log" >&2 2>/dev/null || true
    else
        log "$server (sse): sse_fanout.py --streams $SSE_STREAMS $SSE_PATH"
        out="$(timeout $((SSE_STREAMS / 100 + 120)) python3 "$ROOT/scripts/sse_fanout.py" \
            "http://127.0.0.1:$port$SSE_PATH" --streams "$SSE_STREAMS" --pid "$pid")" ||
            log "$server (sse): the fan-out did not fully succeed"
        json="$(grep '^{' <<<"$out" | tail -n 1 || true)"
        if [[ -n "$json" ]]; then
            printf '%s\t%s\n' "$server" "$json" >>"$SSE_RESULTS"
            code="$(json_fields "$json" post_status)"
            if [[ "$code" != 200 ]]; then
                log "$server (sse): the broadcast POST answered '$code'; it is connection SSE_STREAMS + 1, so a 503 may be the server's connection limit"
            fi
        fi
    fi
    log "$server (sse): stopping"
    stop_tree "$pid"
    SERVER_PID=""
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL (db). The driver runs are collected as "MODE<TAB>DRIVER<TAB>JSON" lines, JSON being
# the line each run prints: {"driver","mode","count","concurrency","seconds","rate"}.
DB_RESULTS="$WORK/db.tsv"
: >"$DB_RESULTS"
DB_URL=""

# db_sql STATEMENT...: runs the statements on DB_URL; prints their rows unaligned.
db_sql() {
    local args=() q
    for q in "$@"; do args+=(-c "$q"); done
    psql "$DB_URL" -X -q -t -A -v ON_ERROR_STOP=1 "${args[@]}"
}

# db_setup: makes the tables the phase uses, and fills world, where they are missing.
db_setup() {
    db_sql "SET client_min_messages = warning" \
        "CREATE TABLE IF NOT EXISTS world (id integer PRIMARY KEY, randomnumber integer NOT NULL)" \
        "INSERT INTO world SELECT i, 1 + floor(random() * 10000)::integer FROM generate_series(1, 10000) AS i
             ON CONFLICT (id) DO NOTHING" \
        "CREATE TABLE IF NOT EXISTS copy_bench (id integer, name text, score double precision)" \
        "ANALYZE world"
}

# db_run MODE DRIVER COMMAND...: runs one driver run (at most 10 minutes) and records the JSON line
# it prints; false, saying why, if it failed or printed none.
db_run() {
    local mode="$1" driver="$2" out json
    shift 2
    out="$(timeout 600 "$@" 2>"$WORK/$driver-$mode.err")" ||
        { log "$driver (db $mode): failed: $(head -c 300 "$WORK/$driver-$mode.err")"; return 1; }
    json="$(grep '^{' <<<"$out" | tail -n 1 || true)"
    [[ -n "$json" ]] || { log "$driver (db $mode): printed no result"; return 1; }
    printf '%s\t%s\t%s\n' "$mode" "$driver" "$json" >>"$DB_RESULTS"
}

# db_select_loops: DB_LOOP_COUNT prepared selects over DB_LOOP_CONCURRENCY connections through
# fasterapi-pgloop (if fasterapi is in SERVERS), asyncpg and psycopg.
db_select_loops() {
    local driver cmd
    for driver in fasterapi asyncpg psycopg; do
        if [[ "$driver" == fasterapi ]]; then
            has_server fasterapi || continue
            [[ -x "$PGLOOP_BIN" ]] || { log "missing $PGLOOP_BIN (fasterapi's select loop skipped)"; continue; }
            cmd=("$PGLOOP_BIN" --url "$DB_URL" --mode select)
        else
            cmd=("$VENV/bin/python" "$ROOT/Benchmarks/peers/${driver}_loop.py" --url "$DB_URL")
        fi
        log "$driver (db): $DB_LOOP_COUNT prepared selects over $DB_LOOP_CONCURRENCY connections"
        db_run select "$driver" "${cmd[@]}" --count "$DB_LOOP_COUNT" --concurrency "$DB_LOOP_CONCURRENCY" || true
    done
}

# copy_check DRIVER: warns unless copy_bench holds exactly the rows (i, "item-i", i/4) for i in
# 1...DB_COPY_ROWS.
copy_check() {
    local got
    got="$(db_sql "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE id BETWEEN 1 AND $DB_COPY_ROWS
        AND name = 'item-' || id AND score = id::float8 / 4) FROM copy_bench")"
    if [[ "$got" != "$DB_COPY_ROWS|$DB_COPY_ROWS|$DB_COPY_ROWS" ]]; then
        log "$1 (db copy): WARNING copy_bench holds wrong rows (rows|distinct ids|right rows: $got)"
    fi
}

# db_copies: DB_COPY_ROWS rows into the emptied copy_bench, by psql's \copy of a COPY text file
# made beforehand (untimed; psql is timed from start to exit) and by fasterapi-pgloop.
db_copies() {
    local file="$WORK/copy_bench.txt" began seconds
    log "db: writing $DB_COPY_ROWS rows in COPY text format"
    python3 -c 'import sys; sys.stdout.writelines(f"{i}\titem-{i}\t{i / 4!r}\n" for i in range(1, int(sys.argv[1]) + 1))' \
        "$DB_COPY_ROWS" >"$file"
    db_sql "TRUNCATE copy_bench"
    log "psql (db): \\copy of $DB_COPY_ROWS rows"
    began="$EPOCHREALTIME"
    if timeout 600 psql "$DB_URL" -X -q -v ON_ERROR_STOP=1 -c "\\copy copy_bench FROM '$file'" >/dev/null; then
        seconds="$(awk -v a="$began" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f", b - a }')"
        printf 'copy\tpsql\t{"driver":"psql","mode":"copy","count":%s,"seconds":%s,"rate":%s}\n' "$DB_COPY_ROWS" \
            "$seconds" "$(awk -v n="$DB_COPY_ROWS" -v s="$seconds" 'BEGIN { printf "%.1f", n / s }')" >>"$DB_RESULTS"
        copy_check psql
    else
        log "psql (db): \\copy failed"
    fi
    has_server fasterapi || return 0
    [[ -x "$PGLOOP_BIN" ]] || { log "missing $PGLOOP_BIN (fasterapi's copy skipped)"; return 0; }
    db_sql "TRUNCATE copy_bench"
    log "fasterapi (db): COPY of $DB_COPY_ROWS rows"
    if db_run copy fasterapi "$PGLOOP_BIN" --url "$DB_URL" --mode copy --count "$DB_COPY_ROWS"; then
        copy_check fasterapi
    fi
}

# bench_db: the db phase. Starts PostgreSQL and makes its tables, loads each HTTP server that
# speaks db, then runs the driver loops and the COPYs.
bench_db() {
    local url server
    log "db: starting PostgreSQL ($PG_NAME on 127.0.0.1:$PG_PORT)"
    PG_STARTED=1
    if ! url="$("$ROOT/scripts/pg.sh" start "$PG_NAME" "$PG_PORT")"; then
        log "db: PostgreSQL did not start (db skipped)"
        return 0
    fi
    DB_URL="$url?sslmode=disable"
    if ! db_setup; then
        log "db: could not make the tables (db skipped)"
        return 0
    fi
    for server in $SERVERS; do
        speaks "$server" db || continue
        bench_server db "$server"
    done
    db_select_loops
    db_copies
}

# ---------------------------------------------------------------------------------------------
# MCP tool calls (mcp). Each client run is one line "MODE<TAB>SERVER<TAB>SESSIONS<TAB>JSON<TAB>
# CPU_US_PER_CALL<TAB>RSS_MIB", JSON being the line fasterapi-mcpload prints:
# {"calls","sessions","seconds","rps","p50_us","p99_us"} ("null" if the run failed). MODE is
# http-single (one session), http-multi (MCP_SESSIONS sessions) or stdio.
MCP_RESULTS="$WORK/mcp.tsv"
: >"$MCP_RESULTS"

# The stdio servers run under this wrapper (the client spawns it, with the server's command after
# the output file): it records the server's PID in OUT.pid, forwards SIGTERM, and once the server
# has exited writes "CPU_SECONDS PEAK_RSS_KIB" (the server's rusage) to OUT. It reads nothing
# from the pipes: the server has the client's stdin and stdout to itself.
MCP_RUSAGE="$WORK/mcp_rusage.py"
cat >"$MCP_RUSAGE" <<'PY'
import resource, signal, subprocess, sys
out = sys.argv[1]
child = subprocess.Popen(sys.argv[2:])
with open(out + ".pid", "w") as f:
    f.write(f"{child.pid}\n")
signal.signal(signal.SIGTERM, lambda *_: child.terminate())
rc = child.wait()
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as f:
    f.write(f"{usage.ru_utime + usage.ru_stime:.6f} {usage.ru_maxrss}\n")
sys.exit(rc)
PY

# mcp_timeout CALLS: the bound of one client run, in seconds (2 minutes, plus 20 ms a call).
mcp_timeout() { echo $((120 + $1 / 50)); }

# mcp_record MODE SERVER SESSIONS JSON CPU_US_PER_CALL RSS_MIB
mcp_record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-null}" "${5:-null}" "${6:-null}" >>"$MCP_RESULTS"; }

# mcp_initialize PORT: POSTs an MCP initialize to /mcp; prints the HTTP status ("000" if no
# answer). The body goes to $WORK/body. The session it opens is left to the server.
mcp_initialize() {
    rm -f "$WORK/body"
    curl -s --max-time 2 -o "$WORK/body" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
        "http://127.0.0.1:$1/mcp" || true
}

# wait_mcp_ready SERVER PID PORT: waits (at most 60 s) until an initialize on /mcp is answered
# (as JSON or as SSE). Returns 1 if the server died or never answered, 2 if /mcp answers 404 (no
# MCP endpoint) or something that is not an initialize result; says why in either case.
wait_mcp_ready() {
    local server="$1" pid="$2" port="$3" i code
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || { log "$server (mcp): the server exited"; return 1; }
        code="$(mcp_initialize "$port")"
        case "$code" in
        000) sleep 0.1 ;;
        404) log "$server (mcp): POST /mcp answers 404 (no MCP endpoint): skipped"; return 2 ;;
        2*)
            grep -q '"protocolVersion"' "$WORK/body" 2>/dev/null && return 0
            log "$server (mcp): initialize answered '$(head -c 300 "$WORK/body" 2>/dev/null)' (skipped)"
            return 2
            ;;
        *) log "$server (mcp): initialize answered $code: '$(head -c 300 "$WORK/body" 2>/dev/null)' (skipped)"; return 2 ;;
        esac
    done
    log "$server (mcp): no MCP answer within 60 s"
    return 1
}

# mcp_http_run MODE SERVER PID PORT CALLS SESSIONS: one client run against a running server; the
# server's CPU is read before and after it, so it covers the handshakes and warm-up calls too, and
# is divided by every call served.
mcp_http_run() {
    local mode="$1" server="$2" pid="$3" port="$4" calls="$5" sessions="$6" url before after out json cpu=null
    url="http://127.0.0.1:$port/mcp"
    log "$server (mcp $mode): fasterapi-mcpload --calls $calls --sessions $sessions --http $url"
    before="$(cpu_ticks "$pid")"
    out="$(timeout "$(mcp_timeout "$calls")" "$MCPLOAD_BIN" --calls "$calls" --sessions "$sessions" --http "$url" \
        2>"$WORK/mcpload.err")" || log "$server (mcp $mode): the client failed (exit $?): $(tail -n 3 "$WORK/mcpload.err" | head -c 300)"
    after="$(cpu_ticks "$pid")"
    kill -0 "$pid" 2>/dev/null || log "$server (mcp $mode): WARNING the server exited during the run"
    json="$(grep '^{' <<<"$out" | tail -n 1 || true)"
    if [[ -n "$json" ]]; then
        cpu="$(awk -v d=$((after - before)) -v hz="$CLK_TCK" -v n=$((calls + sessions * MCP_WARMUP_CALLS)) \
            'BEGIN { printf "%.2f", d / hz * 1e6 / n }')"
    fi
    mcp_record "$mode" "$server" "$sessions" "$json" "$cpu" \
        "$(awk -v k="$(rss_kib "$pid")" 'BEGIN { printf "%.1f", k / 1024 }')"
}

# bench_mcp_http SERVER: start, wait for /mcp, one-session run, MCP_SESSIONS-session run, stop.
bench_mcp_http() {
    local server="$1" port pid rc
    port="$(free_port)"
    log "$server (mcp): starting on 127.0.0.1:$port"
    if ! start_server "$server" mcp "$port"; then
        log "$server (mcp): did not start (skipped)"
        SERVER_PID=""
        return 0
    fi
    pid="$SERVER_PID"
    rc=0
    wait_mcp_ready "$server" "$pid" "$port" || rc=$?
    if ((rc != 0)); then
        if ((rc == 1)); then tail -n 20 "$WORK/$server-mcp.log" >&2 2>/dev/null || true; fi
        stop_tree "$pid"
        SERVER_PID=""
        return 0
    fi
    mcp_http_run http-single "$server" "$pid" "$port" "$MCP_CALLS" 1
    mcp_http_run http-multi "$server" "$pid" "$port" "$MCP_CALLS_16" "$MCP_SESSIONS"
    log "$server (mcp): stopping"
    stop_tree "$pid"
    SERVER_PID=""
}

# mcp_stdio_command SERVER: sets MCP_COMMAND to the server's stdio command; false for a server
# left out of stdio.
mcp_stdio_command() {
    case "$1" in
    fasterapi) MCP_COMMAND=("$FASTERAPI_BIN" mcp-stdio) ;;
    mcp-python) MCP_COMMAND=("$VENV/bin/python" "$MCP_PY_SERVER" stdio) ;;
    *) return 1 ;;
    esac
}

# mcp_stdio_load SERVER CALLS TAG: one client run spawning the server (under the rusage wrapper,
# into $WORK/mcp-TAG.rusage); prints the client's JSON line, or nothing if it failed. A server
# left running (the client stops it on its way out; a killed client may not) is stopped.
mcp_stdio_load() {
    local server="$1" calls="$2" usage="$WORK/mcp-$3.rusage" out child
    rm -f "$usage" "$usage.pid"
    out="$(timeout "$(mcp_timeout "$calls")" "$MCPLOAD_BIN" --calls "$calls" \
        --stdio "$(command -v python3)" "$MCP_RUSAGE" "$usage" "${MCP_COMMAND[@]}" 2>"$WORK/mcpload.err")" ||
        log "$server (mcp stdio): the client failed (exit $?): $(tail -n 3 "$WORK/mcpload.err" | head -c 300)"
    child="$(cat "$usage.pid" 2>/dev/null || true)"
    if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
        log "$server (mcp stdio): WARNING the server outlived the client; stopping it"
        stop_tree "$child"
    fi
    grep '^{' <<<"$out" | tail -n 1 || true
}

# bench_mcp_stdio SERVER: a 1-call run (start-up, handshake and warm-up), then MCP_STDIO_CALLS
# calls; the server's CPU per call is the difference of the two over MCP_STDIO_CALLS - 1.
bench_mcp_stdio() {
    local server="$1" json cpu=null rss=null base=() full=()
    if ! mcp_stdio_command "$server"; then
        log "$server (mcp stdio): left out (the Swift SDK's stdio transport sleeps 10 ms whenever its pipe is empty)"
        return 0
    fi
    if [[ "$server" == fasterapi && ! -x "$FASTERAPI_BIN" ]]; then
        log "missing $FASTERAPI_BIN (fasterapi's stdio run skipped)"
        return 0
    fi
    log "$server (mcp stdio): fasterapi-mcpload --calls 1 --stdio ${MCP_COMMAND[*]} (the CPU baseline)"
    mcp_stdio_load "$server" 1 "$server-base" >/dev/null
    log "$server (mcp stdio): fasterapi-mcpload --calls $MCP_STDIO_CALLS --stdio ${MCP_COMMAND[*]}"
    json="$(mcp_stdio_load "$server" "$MCP_STDIO_CALLS" "$server")"
    read -r -a base <<<"$(cat "$WORK/mcp-$server-base.rusage" 2>/dev/null || true)"
    read -r -a full <<<"$(cat "$WORK/mcp-$server.rusage" 2>/dev/null || true)"
    if [[ -n "$json" && ${#full[@]} == 2 ]]; then
        rss="$(awk -v k="${full[1]}" 'BEGIN { printf "%.1f", k / 1024 }')"
        if [[ ${#base[@]} == 2 ]] && ((MCP_STDIO_CALLS > 1)); then
            cpu="$(awk -v a="${base[0]}" -v b="${full[0]}" -v n="$MCP_STDIO_CALLS" \
                'BEGIN { printf "%.2f", (b - a) * 1e6 / (n - 1) }')"
        else
            log "$server (mcp stdio): no CPU baseline (CPU per call not measured)"
        fi
    fi
    mcp_record stdio "$server" 1 "$json" "$cpu" "$rss"
}

# bench_mcp: the mcp phase. Every server that speaks mcp over Streamable HTTP, then over stdio.
bench_mcp() {
    local server
    [[ -x "$MCPLOAD_BIN" ]] || { log "missing $MCPLOAD_BIN (mcp skipped)"; return 0; }
    for server in $SERVERS; do
        speaks "$server" mcp || continue
        bench_mcp_http "$server"
    done
    for server in $SERVERS; do
        speaks "$server" mcp || continue
        bench_mcp_stdio "$server"
    done
}

# ---------------------------------------------------------------------------------------------
# QUIC (quic). Results, tab-separated ("null" for what was not measured):
#   QUIC_BULK:  server client alpn bytes seconds gbit_per_s server_cpu_s server_rss_mib
#               server_peak_mib client_cpu_s client_peak_mib verified (yes; NO: wrong sha256;
#               failed: no file, or the server did not start)
#   QUIC_HS:    server status handshakes_per_s server_cpu_us_per_handshake server_rss_mib
#   QUIC_IDLES: server status connections rss_before_mib rss_after_mib kib_per_connection
#               (status: ok, failed, or n/a when the client command is missing)
QUIC_BULK="$WORK/quic-bulk.tsv"
QUIC_HS="$WORK/quic-hs.tsv"
QUIC_IDLES="$WORK/quic-idle.tsv"
: >"$QUIC_BULK"
: >"$QUIC_HS"
: >"$QUIC_IDLES"
QUIC_DIR="$WORK/quic"
QUIC_ROOT="$QUIC_DIR/root"
QUIC_OUT="$QUIC_DIR/out"
QUIC_FILE=blob.bin
QUIC_SHA=""
QUIC_CURL=0 # 1 once curl_cffi imports

# quic_prepare: the served folder: the random QUIC_BYTES-byte file (its sha256 kept) and a small
# probe file.
quic_prepare() {
    mkdir -p "$QUIC_ROOT" "$QUIC_OUT"
    log "quic: writing $QUIC_BYTES random bytes to $QUIC_ROOT/$QUIC_FILE"
    head -c "$QUIC_BYTES" /dev/urandom >"$QUIC_ROOT/$QUIC_FILE"
    QUIC_SHA="$(sha256sum "$QUIC_ROOT/$QUIC_FILE" | cut -d' ' -f1)"
    printf 'quic probe\n' >"$QUIC_ROOT/probe.txt"
    if has_server caddy && "$VENV/bin/python" -c 'import curl_cffi' 2>/dev/null; then QUIC_CURL=1; fi
}

# free_udp_port: a loopback port free for UDP and for TCP alike (caddy takes both).
free_udp_port() {
    python3 -c '
import socket
while True:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]
    try:
        socket.socket().bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break'
}

# Peak resident set size (VmHWM) in KiB summed over a process tree.
hwm_kib() {
    local pid total=0 kib
    for pid in $(tree_pids "$1"); do
        kib="$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" || continue
        total=$((total + ${kib:-0}))
    done
    echo "$total"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# quic_has_command NAME: true if FASTERAPI_QUIC_BIN has the subcommand NAME (its name is one of
# the binary's strings).
quic_has_command() { [[ -x "$FASTERAPI_QUIC_BIN" ]] && grep -qaF -- "$1" "$FASTERAPI_QUIC_BIN"; }

# The bulk clients of each server, the first of them also fetching the probe; and what they speak.
quic_clients() {
    case "$1" in
    fasterapi) echo quic-get ;;
    aioquic) echo aioquic ;;
    caddy) if ((QUIC_CURL)); then echo aioquic-h3 curl_cffi; else echo aioquic-h3; fi ;;
    esac
}
quic_alpn() { case "$1" in quic-get | aioquic) echo hq-interop ;; *) echo h3 ;; esac; }

# quic_client_run CLIENT URL OUTPUT SECONDS [RUSAGE]: one fetch of URL into OUTPUT, bounded by
# SECONDS; with RUSAGE, under the mcp phase's rusage wrapper ("CPU_SECONDS PEAK_RSS_KIB" to RUSAGE).
# quic-get writes into OUTPUT's folder under the URL's file name: OUTPUT must end with that name.
quic_client_run() {
    local client="$1" url="$2" output="$3" seconds="$4" wrap=() cmd
    if [[ -n "${5:-}" ]]; then wrap=(python3 "$MCP_RUSAGE" "$5"); fi
    case "$client" in
    quic-get) cmd=("$FASTERAPI_QUIC_BIN" quic-get "$url" --insecure --output "$(dirname "$output")") ;;
    aioquic) cmd=("$VENV/bin/python" "$QUIC_PEERS/hq_get.py" "$url" "$output" --timeout "$seconds") ;;
    aioquic-h3) cmd=("$VENV/bin/python" "$QUIC_PEERS/h3_get.py" "$url" "$output" --timeout "$seconds") ;;
    curl_cffi) cmd=("$VENV/bin/python" "$QUIC_PEERS/curl_h3_get.py" "$url" "$output" --timeout "$seconds") ;;
    *) log "unknown quic client '$client'"; return 1 ;;
    esac
    timeout -k 10 "$seconds" "${wrap[@]}" "${cmd[@]}"
}

# start_quic_server NAME PORT [CPU]: sets SERVER_PID; with CPU, the server is pinned to it.
start_quic_server() {
    local name="$1" port="$2" pin=() logf="$WORK/$1-quic.log" dir
    if [[ -n "${3:-}" ]]; then pin=(taskset -c "$3"); fi
    case "$name" in
    fasterapi)
        [[ -x "$FASTERAPI_QUIC_BIN" ]] || { log "missing $FASTERAPI_QUIC_BIN"; return 1; }
        "${pin[@]}" "$FASTERAPI_QUIC_BIN" quic-serve --port "$port" --root "$QUIC_ROOT" --cert "$CERT" --key "$KEY" \
            --host 127.0.0.1 >"$logf" 2>&1 &
        ;;
    aioquic)
        "${pin[@]}" "$VENV/bin/python" "$QUIC_PEERS/hq_server.py" --port "$port" --root "$QUIC_ROOT" \
            --cert "$CERT" --key "$KEY" --host 127.0.0.1 >"$logf" 2>&1 &
        ;;
    caddy)
        # HTTP/3 (and HTTP/1.1, HTTP/2 over TCP) with the run's certificate; no admin endpoint, no
        # port-80 redirect server, nothing written outside its temporary HOME (its autosaved config
        # included: Caddy 2.6's Caddyfile has no persist_config).
        dir="$QUIC_DIR/caddy-$port"
        mkdir -p "$dir/home"
        cat >"$dir/Caddyfile" <<EOF
{
	admin off
	auto_https disable_redirects
	skip_install_trust
	storage file_system $dir/home/data
	servers {
		protocols h1 h2 h3
	}
}
https://127.0.0.1:$port {
	bind 127.0.0.1
	tls $CERT $KEY
	root * $QUIC_ROOT
	file_server
}
EOF
        env HOME="$dir/home" XDG_DATA_HOME="$dir/home/data" XDG_CONFIG_HOME="$dir/home/config" \
            "${pin[@]}" caddy run --config "$dir/Caddyfile" --adapter caddyfile >"$logf" 2>&1 &
        ;;
    *)
        log "unknown quic server '$name'"; return 1 ;;
    esac
    SERVER_PID=$!
    STARTED+=("$SERVER_PID")
}

# wait_quic_ready SERVER PID PORT: waits (at most 60 s) until the server's log says it listens,
# then fetches probe.txt with the server's first client and compares it (at most 3 tries of 15 s):
# that fetch is the warm-up too.
wait_quic_ready() {
    local server="$1" pid="$2" port="$3" i ready='listening on' client
    [[ "$server" == caddy ]] && ready='serving initial configuration'
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || { log "$server (quic): the server exited"; return 1; }
        grep -qF "$ready" "$WORK/$server-quic.log" 2>/dev/null && break
        sleep 0.1
    done
    ((i < 600)) || { log "$server (quic): not listening within 60 s"; return 1; }
    read -r client _ <<<"$(quic_clients "$server")"
    for ((i = 0; i < 3; i++)); do
        rm -f "$QUIC_OUT/probe.txt"
        if quic_client_run "$client" "https://127.0.0.1:$port/probe.txt" "$QUIC_OUT/probe.txt" 15 \
            >/dev/null 2>"$WORK/quic-probe.err" && cmp -s "$QUIC_OUT/probe.txt" "$QUIC_ROOT/probe.txt"; then
            return 0
        fi
        sleep 0.5
    done
    log "$server (quic): the probe fetch with $client failed: $(tail -n 3 "$WORK/quic-probe.err" | head -c 300)"
    return 1
}

# quic_start SERVER [CPU]: a fresh server on a free port, ready; sets SERVER_PID and QUIC_PORT.
# False (the server stopped, its log shown) if it did not start.
quic_start() {
    QUIC_PORT="$(free_udp_port)"
    log "$1 (quic): starting on 127.0.0.1:$QUIC_PORT${2:+, pinned to CPU $2}"
    if ! start_quic_server "$1" "$QUIC_PORT" "${2:-}" || ! wait_quic_ready "$1" "$SERVER_PID" "$QUIC_PORT"; then
        log "$1 (quic): did not start; log follows (skipped)"
        tail -n 20 "$WORK/$1-quic.log" >&2 2>/dev/null || true
        if [[ -n "$SERVER_PID" ]]; then stop_tree "$SERVER_PID"; fi
        SERVER_PID=""
        return 1
    fi
}

quic_stop() {
    log "$1 (quic): stopping"
    stop_tree "$SERVER_PID"
    SERVER_PID=""
}

# quic_bulk SERVER PID PORT CLIENT: CLIENT fetches the bulk file once from the running server.
quic_bulk() {
    local server="$1" pid="$2" port="$3" client="$4" out="$QUIC_OUT/$QUIC_FILE" usage="$WORK/quic-client.rusage"
    local before after began ended rc=0 seconds=null gbps=null verified=failed cu=() cpu rss peak
    log "$server (quic): $client fetches /$QUIC_FILE ($QUIC_BYTES bytes, at most $QUIC_TIMEOUT s)"
    rm -f "$out" "$usage"
    before="$(cpu_ticks "$pid")"
    began="$EPOCHREALTIME"
    quic_client_run "$client" "https://127.0.0.1:$port/$QUIC_FILE" "$out" "$QUIC_TIMEOUT" "$usage" \
        >"$WORK/quic-client.out" 2>"$WORK/quic-client.err" || rc=$?
    ended="$EPOCHREALTIME"
    after="$(cpu_ticks "$pid")"
    kill -0 "$pid" 2>/dev/null || log "$server (quic): WARNING the server exited during the fetch"
    if ((rc == 0)) && [[ -f "$out" ]]; then
        if [[ "$(sha256sum "$out" | cut -d' ' -f1)" == "$QUIC_SHA" ]]; then
            verified=yes
            seconds="$(awk -v a="$began" -v b="$ended" 'BEGIN { printf "%.3f", b - a }')"
            gbps="$(awk -v n="$QUIC_BYTES" -v s="$seconds" 'BEGIN { printf "%.3f", n * 8 / s / 1e9 }')"
        else
            verified=NO
            log "$server (quic) $client: WARNING the file fetched ($(stat -c %s "$out") bytes) is not the file served"
        fi
    elif ((rc == 124 || rc == 137)); then
        log "$server (quic) $client: the fetch did not end within $QUIC_TIMEOUT s (QUIC_TIMEOUT)"
    else
        log "$server (quic) $client: the fetch failed (exit $rc): $(tail -n 3 "$WORK/quic-client.err" | head -c 300)"
    fi
    cpu="$(awk -v d=$((after - before)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d / hz }')"
    rss="$(mib "$(rss_kib "$pid")")"
    peak="$(mib "$(hwm_kib "$pid")")"
    read -r -a cu <<<"$(cat "$usage" 2>/dev/null || true)"
    if ((${#cu[@]} == 2)); then
        cu=("$(awk -v c="${cu[0]}" 'BEGIN { printf "%.2f", c }')" "$(mib "${cu[1]}")")
    else
        cu=(null null)
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$client" "$(quic_alpn "$client")" \
        "$QUIC_BYTES" "$seconds" "$gbps" "$cpu" "$rss" "$peak" "${cu[0]}" "${cu[1]}" "$verified" >>"$QUIC_BULK"
    rm -f "$out"
}

# quic_handshakes SERVER: a fresh server pinned to CPU 0, and `fasterapi quic-handshakes` pinned
# to CPU 1 (neither pinned on a one-CPU machine); the server's CPU is read around the client run.
quic_handshakes() {
    local server="$1" spin="" cpin=() pid out rc=0 rate before after cpu
    if ! quic_has_command quic-handshakes; then
        log "$server (quic): $FASTERAPI_QUIC_BIN has no quic-handshakes command (not available)"
        printf '%s\tn/a\tnull\tnull\tnull\n' "$server" >>"$QUIC_HS"
        return 0
    fi
    if (($(nproc) >= 2)); then spin=0; cpin=(taskset -c 1); else log "quic: one CPU, handshakes not pinned"; fi
    quic_start "$server" "$spin" || { printf '%s\tfailed\tnull\tnull\tnull\n' "$server" >>"$QUIC_HS"; return 0; }
    pid="$SERVER_PID"
    log "$server (quic): fasterapi quic-handshakes --count $QUIC_HANDSHAKES --concurrency $QUIC_HS_CONCURRENCY"
    before="$(cpu_ticks "$pid")"
    out="$(timeout -k 10 $((120 + QUIC_HANDSHAKES / 50)) "${cpin[@]}" "$FASTERAPI_QUIC_BIN" quic-handshakes \
        "https://127.0.0.1:$QUIC_PORT/" --count "$QUIC_HANDSHAKES" --concurrency "$QUIC_HS_CONCURRENCY" --insecure \
        2>"$WORK/quic-hs.err")" || rc=$?
    after="$(cpu_ticks "$pid")"
    rate="$(awk '$1 == "handshakes/s" { print $2; exit }' <<<"$out")"
    if ((rc != 0)) || [[ ! "$rate" =~ ^[0-9.]+([eE][-+]?[0-9]+)?$ ]]; then
        log "$server (quic): quic-handshakes failed (exit $rc): $(tail -n 3 "$WORK/quic-hs.err" | head -c 300)"
        printf '%s\tfailed\tnull\tnull\t%s\n' "$server" "$(mib "$(rss_kib "$pid")")" >>"$QUIC_HS"
    else
        cpu="$(awk -v d=$((after - before)) -v hz="$CLK_TCK" -v n="$QUIC_HANDSHAKES" 'BEGIN { printf "%.1f", d / hz * 1e6 / n }')"
        printf '%s\tok\t%s\t%s\t%s\n' "$server" "$rate" "$cpu" "$(mib "$(rss_kib "$pid")")" >>"$QUIC_HS"
    fi
    quic_stop "$server"
}

# quic_idle SERVER: a fresh server; its RSS before `fasterapi quic-idle` opens QUIC_IDLE_CONNS
# connections and 1 s after it says `open N`; the client is then stopped.
quic_idle() {
    local server="$1" pid helper before after opened="" i limit
    if ! quic_has_command quic-idle; then
        log "$server (quic): $FASTERAPI_QUIC_BIN has no quic-idle command (not available)"
        printf '%s\tn/a\t%s\tnull\tnull\tnull\n' "$server" "$QUIC_IDLE_CONNS" >>"$QUIC_IDLES"
        return 0
    fi
    quic_start "$server" || { printf '%s\tfailed\t%s\tnull\tnull\tnull\n' "$server" "$QUIC_IDLE_CONNS" >>"$QUIC_IDLES"; return 0; }
    pid="$SERVER_PID"
    log "$server (quic): RSS with $QUIC_IDLE_CONNS idle connections (fasterapi quic-idle)"
    before="$(rss_kib "$pid")"
    "$FASTERAPI_QUIC_BIN" quic-idle "https://127.0.0.1:$QUIC_PORT/" --connections "$QUIC_IDLE_CONNS" --insecure \
        >"$WORK/quic-idle.out" 2>"$WORK/quic-idle.err" &
    helper=$!
    STARTED+=("$helper")
    limit=$((600 + QUIC_IDLE_CONNS / 2)) # tenths of a second: 60 s plus 50 ms a connection
    for ((i = 0; i < limit; i++)); do
        opened="$(awk '$1 == "open" { print $2; exit }' "$WORK/quic-idle.out" 2>/dev/null)"
        [[ -n "$opened" ]] && break
        kill -0 "$helper" 2>/dev/null || break
        sleep 0.1
    done
    if [[ "$opened" =~ ^[1-9][0-9]*$ ]]; then
        sleep 1 # let the server settle
        after="$(rss_kib "$pid")"
        ((opened == QUIC_IDLE_CONNS)) || log "$server (quic): WARNING quic-idle opened $opened connections, not $QUIC_IDLE_CONNS"
        awk -v s="$server" -v n="$opened" -v b="$before" -v a="$after" \
            'BEGIN { printf "%s\tok\t%d\t%.1f\t%.1f\t%.1f\n", s, n, b / 1024, a / 1024, (a - b) / n }' >>"$QUIC_IDLES"
    else
        log "$server (quic): quic-idle did not say 'open N' in time: $(tail -n 3 "$WORK/quic-idle.err" | head -c 300)"
        printf '%s\tfailed\t%s\tnull\tnull\tnull\n' "$server" "$QUIC_IDLE_CONNS" >>"$QUIC_IDLES"
    fi
    stop_tree "$helper"
    quic_stop "$server"
}

# bench_quic: the quic phase. Bulk fetches from each server, then handshakes and idle connections
# (fasterapi and aioquic, each on a fresh server).
bench_quic() {
    local server client pid
    quic_prepare
    for server in $SERVERS; do
        speaks "$server" quic || continue
        if ! quic_start "$server"; then
            # Rows all the same: a server that did not start has no throughput.
            for client in $(quic_clients "$server"); do
                printf '%s\t%s\t%s\t%s\tnull\tnull\tnull\tnull\tnull\tnull\tnull\tfailed\n' "$server" "$client" \
                    "$(quic_alpn "$client")" "$QUIC_BYTES" >>"$QUIC_BULK"
            done
            continue
        fi
        pid="$SERVER_PID"
        for client in $(quic_clients "$server"); do quic_bulk "$server" "$pid" "$QUIC_PORT" "$client"; done
        quic_stop "$server"
    done
    for server in $SERVERS; do
        [[ "$server" == fasterapi || "$server" == aioquic ]] || continue
        quic_handshakes "$server"
    done
    ((QUIC_IDLE_CONNS > 0)) || return 0
    for server in $SERVERS; do
        [[ "$server" == fasterapi || "$server" == aioquic ]] || continue
        quic_idle "$server"
    done
}

for proto in $PROTOCOLS; do
    if [[ "$proto" == db ]]; then
        bench_db
        continue
    fi
    if [[ "$proto" == quic ]]; then
        bench_quic
        continue
    fi
    if [[ "$proto" == mcp ]]; then
        bench_mcp
        continue
    fi
    for server in $SERVERS; do
        speaks "$server" "$proto" || continue
        case "$proto" in
        ws) bench_ws_server "$server" ;;
        sse) bench_sse_server "$server" ;;
        *) bench_server "$proto" "$server" ;;
        esac
    done
done

# ---------------------------------------------------------------------------------------------
# Report: per protocol a table and ratios; idle deltas; SSE; the db drivers; MCP; then JSON.

# metric PROTOCOL SERVER ROUTE COLUMN -> value from RESULTS (empty if absent).
metric() { awk -F'\t' -v p="$1" -v s="$2" -v r="$3" -v c="$4" '$1 == p && $2 == s && $3 == r { print $c }' "$RESULTS"; }
# db_value MODE DRIVER KEY -> a field of a driver run's JSON line from DB_RESULTS ("null" if absent).
db_value() { json_fields "$(awk -F'\t' -v m="$1" -v d="$2" '$1 == m && $2 == d { print $3 }' "$DB_RESULTS")" "$3"; }
# ratio A B -> A/B with 2 decimals, or "null".
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && a != "null" && b != "null" && b + 0 > 0) printf "%.2f", a / b; else print "null" }'; }
short_name() {
    case "$1" in
    hummingbird) echo hb ;;
    node-ws) echo node ;;
    *) echo "$1" ;;
    esac
}
# What one completed unit is.
protocol_unit() { if [[ "$1" == ws ]]; then echo msg; else echo req; fi; }

# Sets the latency columns a protocol's load tool gives (RESULTS column numbers and headings),
# and the one compared in the ratios (lower is better) with Hummingbird, or FastAPI in db.
latency_columns() {
    if [[ "$1" == db ]]; then LAT_PEER=fastapi; else LAT_PEER=hummingbird; fi
    if [[ "$1" == h2tls ]]; then
        LAT_COLS=(7 8 9); LAT_NAMES=('mean µs' 'sd µs' 'max µs')
        LAT_RATIO_COL=7; LAT_RATIO_NAME="mean fa/$(short_name "$LAT_PEER") (lower)"; LAT_RATIO_KEY="fasterapi_over_${LAT_PEER}_mean_latency"
    else
        LAT_COLS=(5 6); LAT_NAMES=('p50 µs' 'p99 µs')
        LAT_RATIO_COL=6; LAT_RATIO_NAME="p99 fa/$(short_name "$LAT_PEER") (lower)"; LAT_RATIO_KEY="fasterapi_over_${LAT_PEER}_p99"
    fi
}

protocol_title() {
    case "$1" in
    h1) echo "h1: HTTP/1.1 cleartext, wrk -t1 -c$CONNECTIONS --latency, ${DURATION} s per route" ;;
    h1tls) echo "h1tls: HTTP/1.1 over TLS, wrk -t1 -c$CONNECTIONS --latency, ${DURATION} s per route" ;;
    h2tls) echo "h2tls: HTTP/2 over TLS (ALPN h2), h2load -t1 -c$H2_CLIENTS -m$H2_STREAMS, ${DURATION} s per route after ${WARMUP} s warm-up" ;;
    ws) echo "ws: WebSocket echo, wsload $WS_CONNECTIONS connections x $WS_DEPTH in flight, $WS_SIZE-byte text messages, ${DURATION} s after ${WARMUP} s warm-up (msg/s = round trips/s)" ;;
    db) echo "db: TechEmpower queries on PostgreSQL 15, pools of $DB_POOL connections, wrk -t1 -c$CONNECTIONS --latency, ${DURATION} s per route (CPU: the HTTP server's, not PostgreSQL's)" ;;
    esac
}

RATIOS_JSON=""
for proto in $PROTOCOLS; do
    [[ "$proto" == sse || "$proto" == mcp || "$proto" == quic ]] && continue # their own tables below
    latency_columns "$proto"
    unit="$(protocol_unit "$proto")"
    echo
    protocol_title "$proto"
    printf '%-12s %-15s %12s' server route "$unit/s"
    printf ' %10s' "${LAT_NAMES[@]}"
    printf ' %12s %9s\n' "CPU µs/$unit" 'RSS MiB'
    while IFS=$'\t' read -r -a row; do
        [[ "${row[0]}" == "$proto" ]] || continue
        rps="$(awk -v v="${row[3]}" 'BEGIN { if (v == "null") print v; else printf "%.0f", v }')"
        printf '%-12s %-15s %12s' "${row[1]}" "${row[2]}" "$rps"
        for c in "${LAT_COLS[@]}"; do printf ' %10s' "${row[c - 1]}"; done
        printf ' %12s %9s\n' "${row[9]}" "${row[10]}"
    done <"$RESULTS"

    peers=()
    for s in $(protocol_servers "$proto"); do
        if [[ "$s" != fasterapi ]]; then peers+=("$s"); fi
    done
    echo
    printf '%-15s' route
    for s in "${peers[@]}"; do printf ' %16s' "fa/$(short_name "$s") $unit/s"; done
    printf ' %18s\n' "$LAT_RATIO_NAME"
    for route in $(protocol_routes "$proto"); do
        fa_rps="$(metric "$proto" fasterapi "$route" 4)"
        fields="\"protocol\": \"$proto\", \"route\": \"$route\""
        printf '%-15s' "$route"
        for s in "${peers[@]}"; do
            r="$(ratio "$fa_rps" "$(metric "$proto" "$s" "$route" 4)")"
            printf ' %16s' "$r"
            fields+=", \"fasterapi_over_${s}_rps\": $r"
        done
        r="$(ratio "$(metric "$proto" fasterapi "$route" "$LAT_RATIO_COL")" "$(metric "$proto" "$LAT_PEER" "$route" "$LAT_RATIO_COL")")"
        printf ' %18s\n' "$r"
        RATIOS_JSON+="${RATIOS_JSON:+,}
    {$fields, \"$LAT_RATIO_KEY\": $r}"
    done
done

if [[ -s "$IDLE" ]]; then
    echo
    echo "RSS growth with $IDLE_CONNS idle keep-alive connections (h1):"
    while IFS=$'\t' read -r s b a d; do
        printf '  %-12s %8s MiB -> %8s MiB   delta %6s MiB\n' "$s" "$b" "$a" "$d"
    done <"$IDLE"
fi

SSE_JSON=""
if [[ -s "$SSE_RESULTS" ]]; then
    echo
    echo "sse: $SSE_STREAMS idle SSE streams on GET $SSE_PATH, then one POST $SSE_PATH broadcast (targets with 10,000 streams: RSS <= 200 MiB, broadcast < 1000 ms)"
    printf '%-12s %8s %8s %9s %10s %10s %9s %9s %10s %13s %8s %8s\n' server streams open 'RSS MiB' 'dRSS MiB' \
        'bcast ms' 'p50 ms' 'post ms' delivered 'client CPU ms' 'RSS ok' 'bcast ok'
    while IFS=$'\t' read -r s json; do
        IFS=$'\t' read -r -a f <<<"$(json_fields "$json" streams open rss_mib rss_delta_mib broadcast_ms p50_ms post_ms delivered client_cpu_ms)"
        # The targets are stated for 10,000 streams: fewer prove nothing.
        rss_ok="$(awk -v n="${f[0]}" -v v="${f[2]}" 'BEGIN { if (n + 0 < 10000) print "n/a"; else if (v == "null") print "-"; else print (v + 0 <= 200 ? "yes" : "NO") }')"
        bcast_ok="$(awk -v n="${f[0]}" -v v="${f[4]}" 'BEGIN { if (n + 0 < 10000) print "n/a"; else if (v == "null") print "NO"; else print (v + 0 < 1000 ? "yes" : "NO") }')"
        printf '%-12s %8s %8s %9s %10s %10s %9s %9s %10s %13s %8s %8s\n' "$s" "${f[@]}" "$rss_ok" "$bcast_ok"
        SSE_JSON+="${SSE_JSON:+,}
    {\"server\": \"$s\", \"result\": $json}"
    done <"$SSE_RESULTS"
fi

DB_JSON=""
DB_SELECT_ASYNCPG="$(ratio "$(db_value select fasterapi rate)" "$(db_value select asyncpg rate)")"
DB_SELECT_PSYCOPG="$(ratio "$(db_value select fasterapi rate)" "$(db_value select psycopg rate)")"
DB_COPY_PSQL="$(ratio "$(db_value copy fasterapi seconds)" "$(db_value copy psql seconds)")"
if [[ -s "$DB_RESULTS" ]]; then
    echo
    echo "db drivers: select = $DB_LOOP_COUNT prepared single-row selects over $DB_LOOP_CONCURRENCY connections; copy = $DB_COPY_ROWS rows into copy_bench"
    printf '%-8s %-10s %10s %12s %10s %12s\n' mode driver count concurrency seconds 'rows/s'
    while IFS=$'\t' read -r mode driver json; do
        IFS=$'\t' read -r -a f <<<"$(json_fields "$json" count concurrency seconds rate)"
        f[2]="$(awk -v v="${f[2]}" 'BEGIN { if (v == "null") print v; else printf "%.3f", v }')"
        f[3]="$(awk -v v="${f[3]}" 'BEGIN { if (v == "null") print v; else printf "%.0f", v }')"
        printf '%-8s %-10s %10s %12s %10s %12s\n' "$mode" "$driver" "${f[@]}"
        DB_JSON+="${DB_JSON:+,}
    {\"mode\": \"$mode\", \"driver\": \"$driver\", \"result\": $json}"
    done <"$DB_RESULTS"
    echo
    echo "select rows/s fa/asyncpg $DB_SELECT_ASYNCPG, fa/psycopg $DB_SELECT_PSYCOPG;" \
        "copy seconds fa/psql $DB_COPY_PSQL (lower; target <= 1.5:" \
        "$(awk -v r="$DB_COPY_PSQL" 'BEGIN { print (r == "null") ? "-" : (r + 0 <= 1.5 ? "yes" : "NO") }'))"
fi

MCP_JSON=""
MCP_RATIOS_JSON=""
# mcp_value MODE SERVER KEY -> a field of that run's client JSON ("null" if absent).
mcp_value() { json_fields "$(awk -F'\t' -v m="$1" -v s="$2" '$1 == m && $2 == s { print $4 }' "$MCP_RESULTS")" "$3"; }
# meets VALUE OP LIMIT -> "yes" or "NO" as VALUE >= or < LIMIT, "-" if VALUE is absent.
meets() {
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        if (v == "" || v == "null") print "-"
        else if (op == ">=") print (v + 0 >= t ? "yes" : "NO")
        else print (v + 0 < t ? "yes" : "NO") }'
}
# all_met VERDICT... -> the JSON for "every target met": false if any is "NO", else null if any is
# "-" (not measured), else true.
all_met() { case " $* " in *" NO "*) echo false ;; *" - "*) echo null ;; *) echo true ;; esac; }
mcp_title() {
    case "$1" in
    http-single) echo "mcp http, 1 session: tools/call add over Streamable HTTP (POST /mcp), $MCP_CALLS calls after $MCP_WARMUP_CALLS warm-up calls" ;;
    http-multi) echo "mcp http, $MCP_SESSIONS sessions: tools/call add over Streamable HTTP (POST /mcp), $MCP_CALLS_16 calls spread over $MCP_SESSIONS concurrent sessions, after $MCP_WARMUP_CALLS warm-up calls each" ;;
    stdio) echo "mcp stdio, 1 session: tools/call add, the client spawning the server, $MCP_STDIO_CALLS calls after $MCP_WARMUP_CALLS warm-up calls (CPU: less a 1-call run; RSS: peak)" ;;
    esac
}
if [[ -s "$MCP_RESULTS" ]]; then
    for mode in http-single http-multi stdio; do
        awk -F'\t' -v m="$mode" '$1 == m { found = 1 } END { exit !found }' "$MCP_RESULTS" || continue
        echo
        mcp_title "$mode"
        printf '%-12s %10s %10s %10s %13s %9s\n' server 'calls/s' 'p50 µs' 'p99 µs' 'CPU µs/call' 'RSS MiB'
        while IFS=$'\t' read -r m s n json cpu rss; do
            [[ "$m" == "$mode" ]] || continue
            IFS=$'\t' read -r -a f <<<"$(json_fields "$json" rps p50_us p99_us)"
            for i in 0 1 2; do
                f[i]="$(awk -v v="${f[i]}" -v d=$((i == 0 ? 0 : 1)) 'BEGIN { if (v == "null") print v; else printf "%.*f", d, v }')"
            done
            printf '%-12s %10s %10s %10s %13s %9s\n' "$s" "${f[@]}" "$cpu" "$rss"
            MCP_JSON+="${MCP_JSON:+,}
    {\"mode\": \"$m\", \"transport\": \"${m%%-*}\", \"server\": \"$s\", \"sessions\": $n, \"result\": $json, \"server_cpu_us_per_call\": $cpu, \"server_rss_mib\": $rss}"
        done <"$MCP_RESULTS"
    done

    echo
    echo "mcp: fasterapi over the SDK servers in calls/s, and the targets (HTTP: >= 10 x the Python SDK server, >= 3 x the Swift SDK server, p50 < 1 ms with 1 session; stdio: >= 10 x Python)"
    for mode in http-single http-multi stdio; do
        awk -F'\t' -v m="$mode" '$1 == m { found = 1 } END { exit !found }' "$MCP_RESULTS" || continue
        fa_rps="$(mcp_value "$mode" fasterapi rps)"
        over_py="$(ratio "$fa_rps" "$(mcp_value "$mode" mcp-python rps)")"
        py_ok="$(meets "$over_py" '>=' 10)"
        case "$mode" in
        http-single) label="http, 1 session:" ;;
        http-multi) label="http, $MCP_SESSIONS sessions:" ;;
        stdio) label="stdio, 1 session:" ;;
        esac
        if [[ "$mode" == stdio ]]; then
            printf '  %-20s fa/mcp-python %6s (>= 10: %s)\n' "$label" "$over_py" "$py_ok"
            MCP_RATIOS_JSON+="${MCP_RATIOS_JSON:+,}
    {\"mode\": \"$mode\", \"fasterapi_over_mcp-python_calls_per_sec\": $over_py, \"target_python_min\": 10, \"target_met\": $(all_met "$py_ok")}"
            continue
        fi
        over_sw="$(ratio "$fa_rps" "$(mcp_value "$mode" mcp-swift rps)")"
        sw_ok="$(meets "$over_sw" '>=' 3)"
        fa_p50="$(mcp_value "$mode" fasterapi p50_us)"
        fa_p50_shown="$(awk -v v="$fa_p50" 'BEGIN { if (v == "null") print "-"; else printf "%.1f", v }')"
        # The p50 target is judged on the one-session run (see the header).
        if [[ "$mode" == http-single ]]; then
            p50_ok="$(meets "$fa_p50" '<' 1000)"
            p50_target=1000
            printf '  %-20s fa/mcp-python %6s (>= 10: %s), fa/mcp-swift %6s (>= 3: %s), fasterapi p50 %s µs (< 1000: %s)\n' \
                "$label" "$over_py" "$py_ok" "$over_sw" "$sw_ok" "$fa_p50_shown" "$p50_ok"
        else
            p50_ok=yes
            p50_target=null
            printf '  %-20s fa/mcp-python %6s (>= 10: %s), fa/mcp-swift %6s (>= 3: %s), fasterapi p50 %s µs\n' \
                "$label" "$over_py" "$py_ok" "$over_sw" "$sw_ok" "$fa_p50_shown"
        fi
        MCP_RATIOS_JSON+="${MCP_RATIOS_JSON:+,}
    {\"mode\": \"$mode\", \"fasterapi_over_mcp-python_calls_per_sec\": $over_py, \"fasterapi_over_mcp-swift_calls_per_sec\": $over_sw, \"fasterapi_p50_us\": $fa_p50, \"target_python_min\": 10, \"target_swift_min\": 3, \"target_p50_max_us\": $p50_target, \"target_met\": $(all_met "$py_ok" "$sw_ok" "$p50_ok")}"
    done
fi

QUIC_JSON=""
QUIC_HS_JSON=""
QUIC_IDLE_JSON=""
QUIC_RATIOS_JSON=""
# quic_gbps SERVER [CLIENT] -> Gbit/s of that row, or the best of SERVER's rows ("null" if none).
quic_gbps() {
    awk -F'\t' -v s="$1" -v c="${2:-}" '$1 == s && (c == "" || $2 == c) && $6 != "null" && $6 + 0 > best { best = $6 + 0; v = $6 }
        END { print (v == "") ? "null" : v }' "$QUIC_BULK"
}
over_aq=null over_caddy=null over_caddy_h3=null over_caddy_curl=null caddy_ok=- fa_hs="" hs_ok=-
if [[ -s "$QUIC_BULK" ]]; then
    echo
    echo "quic bulk: one connection, one stream, GET of a $QUIC_BYTES-byte random file ($(mib $((QUIC_BYTES / 1024))) MiB; sha256 checked), timed from the client's start to its exit"
    printf '%-10s %-11s %-10s %9s %8s %9s %12s %11s %12s %10s %13s\n' server client alpn seconds 'Gbit/s' \
        'srv CPU s' 'srv RSS MiB' 'srv peak MiB' 'cli CPU s' 'cli peak MiB' sha256
    while IFS=$'\t' read -r s c a n secs g cpu rss peak ccpu cpeak ok; do
        printf '%-10s %-11s %-10s %9s %8s %9s %12s %11s %12s %10s %13s\n' "$s" "$c" "$a" "$secs" "$g" "$cpu" "$rss" \
            "$peak" "$ccpu" "$cpeak" "$ok"
        QUIC_JSON+="${QUIC_JSON:+,}
    {\"server\": \"$s\", \"client\": \"$c\", \"alpn\": \"$a\", \"bytes\": $n, \"seconds\": $secs, \"gbit_per_s\": $g, \"server_cpu_s\": $cpu, \"server_rss_mib\": $rss, \"server_peak_rss_mib\": $peak, \"client_cpu_s\": $ccpu, \"client_peak_rss_mib\": $cpeak, \"sha256_ok\": $([[ "$ok" == yes ]] && echo true || echo false)}"
    done <"$QUIC_BULK"
    fa_g="$(quic_gbps fasterapi)"
    over_aq="$(ratio "$fa_g" "$(quic_gbps aioquic)")"
    over_caddy="$(ratio "$fa_g" "$(quic_gbps caddy)")"
    over_caddy_h3="$(ratio "$fa_g" "$(quic_gbps caddy aioquic-h3)")"
    over_caddy_curl="$(ratio "$fa_g" "$(quic_gbps caddy curl_cffi)")"
    caddy_ok="$(meets "$over_caddy" '>=' 1.5)"
    # A fasterapi fetch that failed or brought the wrong bytes misses the target, whatever caddy did.
    if awk -F'\t' '$1 == "fasterapi" && $12 != "yes" { bad = 1 } END { exit !bad }' "$QUIC_BULK"; then caddy_ok=NO; fi
    echo
    echo "quic bulk Gbit/s: fa/caddy $over_caddy over caddy's faster client (>= 1.5: $caddy_ok); by caddy's client: fa/caddy(aioquic-h3) $over_caddy_h3, fa/caddy(curl_cffi) $over_caddy_curl; fa/aioquic $over_aq"
    echo "  note: the clients differ: fasterapi is fetched by its own quic-get over hq-interop, caddy (HTTP/3 only) by aioquic's H3 client and curl_cffi, until fasterapi's client speaks HTTP/3"
fi
if [[ -s "$QUIC_HS" ]]; then
    echo
    echo "quic handshakes: fasterapi quic-handshakes --count $QUIC_HANDSHAKES --concurrency $QUIC_HS_CONCURRENCY, server on CPU 0, client on CPU 1 (hq-interop)"
    printf '%-10s %-8s %13s %14s %9s\n' server status 'handshakes/s' 'CPU µs/hshake' 'RSS MiB'
    while IFS=$'\t' read -r s st rate cpu rss; do
        shown="$(awk -v v="$rate" 'BEGIN { if (v == "null") print "-"; else printf "%.0f", v }')"
        if [[ "$st" == n/a ]]; then
            printf '%-10s %-8s %13s %14s %9s\n' "$s" "$st" 'not available' - -
        else
            printf '%-10s %-8s %13s %14s %9s\n' "$s" "$st" "$shown" "$cpu" "$rss"
        fi
        QUIC_HS_JSON+="${QUIC_HS_JSON:+,}
    {\"server\": \"$s\", \"status\": \"$st\", \"handshakes_per_sec\": $rate, \"server_cpu_us_per_handshake\": $cpu, \"server_rss_mib\": $rss}"
    done <"$QUIC_HS"
    fa_hs="$(awk -F'\t' '$1 == "fasterapi" { print $3 }' "$QUIC_HS")"
    fa_hs_status="$(awk -F'\t' '$1 == "fasterapi" { print $2 }' "$QUIC_HS")"
    if [[ "$fa_hs_status" == n/a ]]; then
        hs_ok=-
        echo "fasterapi handshakes/s: not available (no quic-handshakes command in $FASTERAPI_QUIC_BIN) (>= 1000: -)"
    elif [[ -z "$fa_hs_status" ]]; then
        hs_ok=-
    else
        hs_ok="$(meets "${fa_hs:-null}" '>=' 1000)"
        [[ "$fa_hs_status" == failed ]] && hs_ok=NO
        echo "fasterapi handshakes/s: $(awk -v v="${fa_hs:-null}" 'BEGIN { if (v == "null") print "-"; else printf "%.0f", v }') (>= 1000: $hs_ok); fa/aioquic $(ratio "${fa_hs:-null}" "$(awk -F'\t' '$1 == "aioquic" { print $3 }' "$QUIC_HS")")"
    fi
fi
if [[ -s "$QUIC_IDLES" ]]; then
    echo
    echo "quic idle: fasterapi quic-idle --connections $QUIC_IDLE_CONNS (server RSS before, and 1 s after every connection is open)"
    printf '%-10s %-8s %12s %15s %14s %10s\n' server status connections 'RSS before MiB' 'RSS after MiB' 'KiB/conn'
    while IFS=$'\t' read -r s st n b a k; do
        if [[ "$st" == n/a ]]; then
            printf '%-10s %-8s %12s %15s %14s %10s\n' "$s" "$st" "$n" 'not available' - -
        else
            printf '%-10s %-8s %12s %15s %14s %10s\n' "$s" "$st" "$n" "$b" "$a" "$k"
        fi
        QUIC_IDLE_JSON+="${QUIC_IDLE_JSON:+,}
    {\"server\": \"$s\", \"status\": \"$st\", \"connections\": $n, \"rss_before_mib\": $b, \"rss_after_mib\": $a, \"kib_per_connection\": $k}"
    done <"$QUIC_IDLES"
fi
if has_protocol quic; then
    QUIC_RATIOS_JSON="{\"gbit_per_s_fasterapi_over_caddy\": $over_caddy, \"gbit_per_s_fasterapi_over_caddy_aioquic_h3\": $over_caddy_h3, \"gbit_per_s_fasterapi_over_caddy_curl_cffi\": $over_caddy_curl, \"gbit_per_s_fasterapi_over_aioquic\": $over_aq, \"target_caddy_min\": 1.5, \"caddy_target_met\": $(all_met "$caddy_ok"), \"fasterapi_handshakes_per_sec\": ${fa_hs:-null}, \"target_handshakes_min\": 1000, \"handshakes_target_met\": $(all_met "$hs_ok")}"
fi

RESULTS_JSON=""
while IFS=$'\t' read -r p s r rps p50 p99 mean sd max cpu rss n errs non2xx; do
    RESULTS_JSON+="${RESULTS_JSON:+,}
    {\"protocol\": \"$p\", \"server\": \"$s\", \"route\": \"$r\", \"requests_per_sec\": $rps, \"p50_us\": $p50, \"p99_us\": $p99, \"mean_us\": $mean, \"sd_us\": $sd, \"max_us\": $max, \"cpu_us_per_request\": $cpu, \"rss_mib\": $rss, \"requests\": $n, \"errors\": $errs, \"non_2xx\": $non2xx}"
done <"$RESULTS"
IDLE_JSON=""
while IFS=$'\t' read -r s b a d; do
    IDLE_JSON+="${IDLE_JSON:+,}
    {\"server\": \"$s\", \"rss_before_mib\": $b, \"rss_after_mib\": $a, \"delta_mib\": $d}"
done <"$IDLE"
PROTOCOLS_JSON="$(printf '"%s",' $PROTOCOLS)"
DB_ROUTES_JSON="$(printf '"%s",' $DB_ROUTES)"

mkdir -p "$OUT_DIR"
cat >"$OUT_DIR/bench.json" <<EOF
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
  "cpus": $(nproc),
  "protocols": [${PROTOCOLS_JSON%,}],
  "wrk": {"threads": 1, "connections": $CONNECTIONS, "duration_s": $DURATION, "warmup_s": $WARMUP},
  "h2load": {"threads": 1, "clients": $H2_CLIENTS, "max_concurrent_streams": $H2_STREAMS, "duration_s": $DURATION, "warmup_s": $WARMUP},
  "tls": {"certificate": "self-signed ECDSA P-256", "nghttpd_workers": 1},
  "ws": {"tool": "Benchmarks/wsload/wsload.c", "path": "$WS_PATH", "connections": $WS_CONNECTIONS, "message_bytes": $WS_SIZE, "in_flight_per_connection": $WS_DEPTH, "message_type": "text", "compression": false, "duration_s": $DURATION, "warmup_s": $WARMUP, "note": "ws rows: requests_per_sec = echo round trips/s, cpu_us_per_request = server CPU per round trip"},
  "sse": {"path": "$SSE_PATH", "streams": $SSE_STREAMS, "servers": [$SSE_JSON
  ]},
  "db": {"postgres": "15, scripts/pg.sh instance $PG_NAME on 127.0.0.1:$PG_PORT, sslmode=disable", "routes": [${DB_ROUTES_JSON%,}], "pool": $DB_POOL, "select_loop": {"count": $DB_LOOP_COUNT, "concurrency": $DB_LOOP_CONCURRENCY}, "copy_rows": $DB_COPY_ROWS, "note": "db rows in results: cpu_us_per_request is the HTTP server's CPU, not PostgreSQL's", "drivers": [$DB_JSON
  ], "ratios": {"select_rate_fasterapi_over_asyncpg": $DB_SELECT_ASYNCPG, "select_rate_fasterapi_over_psycopg": $DB_SELECT_PSYCOPG, "copy_seconds_fasterapi_over_psql": $DB_COPY_PSQL, "copy_target_max": 1.5}},
  "mcp": {"client": ".build/release/fasterapi-mcpload, the same for every server", "tool": "add", "warmup_calls_per_session": $MCP_WARMUP_CALLS, "http": {"path": "/mcp", "calls_single": $MCP_CALLS, "calls_multi": $MCP_CALLS_16, "sessions_multi": $MCP_SESSIONS, "servers": {"mcp-python": "Python SDK MCPServer on uvicorn, JSON answers", "mcp-swift": "Swift SDK Server with StatefulHTTPServerTransport, SSE answers"}}, "stdio": {"calls": $MCP_STDIO_CALLS, "note": "the Swift SDK's stdio transport is left out: it sleeps 10 ms whenever its pipe is empty"}, "note": "http: server CPU over the whole client run, handshakes and warm-up included, divided by every call served; stdio: the server's rusage CPU of the run less that of a 1-call run, over calls - 1, and its peak RSS", "runs": [$MCP_JSON
  ], "ratios": [$MCP_RATIOS_JSON
  ]},
  "quic": {"bytes": $QUIC_BYTES, "timeout_s": $QUIC_TIMEOUT, "handshakes": $QUIC_HANDSHAKES, "handshake_concurrency": $QUIC_HS_CONCURRENCY, "idle_connections": $QUIC_IDLE_CONNS, "note": "bulk: wall time of the client process (start-up, handshake, transfer, writing the file); the clients differ by server (fasterapi: quic-get over hq-interop; aioquic: hq_get.py; caddy: HTTP/3 through aioquic's H3Connection and curl_cffi); handshakes: server on CPU 0, client on CPU 1", "bulk": [$QUIC_JSON
  ], "handshakes_runs": [$QUIC_HS_JSON
  ], "idle": [$QUIC_IDLE_JSON
  ], "ratios": ${QUIC_RATIOS_JSON:-null}},
  "results": [$RESULTS_JSON
  ],
  "ratios": [$RATIOS_JSON
  ],
  "idle_connections": {"count": $IDLE_CONNS, "servers": [$IDLE_JSON
  ]}
}
EOF
echo
log "wrote $OUT_DIR/bench.json"
