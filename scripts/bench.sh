#!/usr/bin/env bash
# Side-by-side HTTP/1.1 benchmark: FasterAPI's demo vs Hummingbird 2, FastAPI (uvicorn) and nginx.
#
# For each server: start it on a free loopback port, wait until it answers, warm up, then for
# each route run `wrk -t1 -c64 --latency` and record req/s, p50/p99 latency (µs), the server's
# CPU time per request (µs, from /proc/PID/stat over the whole process tree) and its RSS (MiB).
# For fasterapi and hummingbird it also measures the RSS growth from IDLE_CONNS idle keep-alive
# connections. Prints a table plus ratios and writes bench-results/bench.json.
#
# Environment overrides:
#   SERVERS     servers to run, in order        (default: "fasterapi hummingbird fastapi nginx")
#   ROUTES      routes to load                  (default: "/plaintext /json /users/123 POST:/accounts")
#               a `POST:` prefix sends ACCOUNT_BODY as JSON (the validated five-field body)
#   DURATION    seconds of wrk per route        (default: 10)
#   WARMUP      seconds of warm-up per server   (default: 2)
#   CONNECTIONS wrk connections                 (default: 64)
#   IDLE_CONNS  idle connections for the memory check (default: 1000; 0 skips it)
#   SKIP_BUILD  1 to use the existing release binaries as they are
#   FASTERAPI_BIN  the demo binary (default: .build/release/fasterapi-demo, run with
#               --host 127.0.0.1 --port N)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SERVERS="${SERVERS:-fasterapi hummingbird fastapi nginx}"
ROUTES="${ROUTES:-/plaintext /json /users/123 POST:/accounts}"
ACCOUNT_BODY='{"name":"Ada Lovelace","email":"ada@example.com","age":36,"score":9.5,"tags":["math","poetry"]}'

DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
IDLE_CONNS="${IDLE_CONNS:-1000}"
SKIP_BUILD="${SKIP_BUILD:-0}"

VENV="$ROOT/.venv-bench"
OUT_DIR="$ROOT/bench-results"
FASTERAPI_BIN="${FASTERAPI_BIN:-$ROOT/.build/release/fasterapi-demo}"
HB_PACKAGE="$ROOT/Benchmarks/peers/hb-peer"
HB_BIN="$HB_PACKAGE/.build/release/hb-peer"
CLK_TCK="$(getconf CLK_TCK)"

for n in "$DURATION" "$WARMUP" "$CONNECTIONS" "$IDLE_CONNS"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "bench: DURATION, WARMUP, CONNECTIONS and IDLE_CONNS must be integers" >&2; exit 2; }
done

log() { printf '==> %s\n' "$*" >&2; }
has_server() { [[ " $SERVERS " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------------------
# Cleanup: every server this script starts is recorded in STARTED and killed (with its process
# tree) on exit, whatever the exit path.
WORK="$(mktemp -d /tmp/fasterapi-bench.XXXXXX)"
STARTED=()
SERVER_PID=""

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
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Tools: wrk and nginx from apt (only if missing), FastAPI + uvicorn in .venv-bench/.
apt_install() {
    log "installing $* with apt-get"
    apt-get install -y -qq "$@" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }
}
command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl
command -v ps >/dev/null || apt_install procps
if has_server nginx && ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
    apt_install nginx-light
fi
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"

if has_server fastapi && ! "$VENV/bin/python" -c 'import fastapi, uvicorn, uvloop, httptools' 2>/dev/null; then
    log "creating $VENV with fastapi and uvicorn[standard]"
    # Debian's own python3 needs python3-venv for `-m venv`.
    python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check fastapi 'uvicorn[standard]'
fi

# ---------------------------------------------------------------------------------------------
# Release builds (bounded: 30 minutes each).
if [[ "$SKIP_BUILD" != 1 ]]; then
    if has_server fasterapi; then
        log "building fasterapi-demo (release)"
        timeout 1800 swift build -c release --product fasterapi-demo >&2
    fi
    if has_server hummingbird; then
        log "building hb-peer (release)"
        timeout 1800 swift build -c release --package-path "$HB_PACKAGE" >&2
    fi
fi

# Servers may hold IDLE_CONNS + wrk sockets open.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

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

# wrk latency like "812.00us", "1.23ms", "2.00s" -> microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        m = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : (u == "h") ? 3.6e9 : -1
        if (m < 0) { print "null"; exit }
        printf "%.1f", n * m }'
}

# ---------------------------------------------------------------------------------------------
# Servers. start_server NAME PORT sets SERVER_PID.

start_server() {
    local name="$1" port="$2" logf="$WORK/$1.log"
    case "$name" in
    fasterapi)
        [[ -x "$FASTERAPI_BIN" ]] || { log "missing $FASTERAPI_BIN"; return 1; }
        "$FASTERAPI_BIN" --host 127.0.0.1 --port "$port" >"$logf" 2>&1 &
        ;;
    hummingbird)
        [[ -x "$HB_BIN" ]] || { log "missing $HB_BIN"; return 1; }
        "$HB_BIN" --port "$port" >"$logf" 2>&1 &
        ;;
    fastapi)
        "$VENV/bin/uvicorn" fastapi_app:app --app-dir "$ROOT/Benchmarks/peers" \
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
    *)
        log "unknown server '$name'"; return 1 ;;
    esac
    SERVER_PID=$!
    STARTED+=("$SERVER_PID")
}

# Waits (at most 60 s) until the first route answers 200.
wait_ready() {
    local pid="$1" port="$2" route="$3" i
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port$route")" == 200 ]]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

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

# A wrk script per POST route, and one that cycles through every route for the warm-up.
LUA_BODY="$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$ACCOUNT_BODY")"
POST_LUA="$WORK/post.lua"
printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' "$LUA_BODY" >"$POST_LUA"
WARMUP_LUA="$WORK/warmup.lua"
{
    printf 'local routes = {'
    for r in $ROUTES; do
        if [[ "$r" == POST:* ]]; then printf '{"POST","%s"},' "$(route_path "$r")"; else printf '{"GET","%s"},' "$r"; fi
    done
    printf '}\nlocal i = 0\nrequest = function()\n  i = i %% #routes + 1\n'
    printf '  if routes[i][1] == "POST" then\n'
    printf '    return wrk.format("POST", routes[i][2], {["Content-Type"] = "application/json"}, %s)\n' "$LUA_BODY"
    printf '  end\n  return wrk.format(nil, routes[i][2])\nend\n'
} >"$WARMUP_LUA"

# ---------------------------------------------------------------------------------------------
# Run. Results are collected as tab-separated lines:
#   RESULTS: server route rps p50_us p99_us cpu_us_per_req rss_mib requests socket_errors non_2xx
#   IDLE:    server rss_before_mib rss_after_mib delta_mib
RESULTS="$WORK/results.tsv"
IDLE="$WORK/idle.tsv"
: >"$RESULTS"
: >"$IDLE"
FIRST_ROUTE="${ROUTES%% *}"

for server in $SERVERS; do
    port="$(free_port)"
    log "$server: starting on 127.0.0.1:$port"
    if ! start_server "$server" "$port" || ! wait_ready "$SERVER_PID" "$port" "$FIRST_ROUTE"; then
        log "$server: did not start; log follows (skipped)"
        tail -n 20 "$WORK/$server.log" >&2 2>/dev/null || true
        [[ -n "$SERVER_PID" ]] && stop_tree "$SERVER_PID"
        SERVER_PID=""
        continue
    fi
    pid="$SERVER_PID"

    for route in $ROUTES; do
        want="$(expected_body "$route")"
        mapfile -t extra < <(curl_args "$route")
        got="$(curl -s --max-time 5 "${extra[@]}" "http://127.0.0.1:$port$(route_path "$route")" || true)"
        if [[ -n "$want" && "$got" != "$want" ]] && ! same_json "$got" "$want"; then
            log "$server: WARNING $route returned '$got', expected '$want'"
        fi
    done

    if ((WARMUP > 0)); then
        timeout $((WARMUP + 30)) wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$WARMUP_LUA" \
            "http://127.0.0.1:$port" >/dev/null
    fi

    for route in $ROUTES; do
        log "$server: wrk -t1 -c$CONNECTIONS -d${DURATION}s $route"
        ticks_before="$(cpu_ticks "$pid")"
        script=()
        [[ "$route" == POST:* ]] && script=(-s "$POST_LUA")
        out="$(timeout $((DURATION + 30)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${script[@]}" \
            "http://127.0.0.1:$port$(route_path "$route")")"
        ticks_after="$(cpu_ticks "$pid")"
        rss="$(rss_kib "$pid")"

        rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
        requests="$(awk '/requests in/ { print $1 }' <<<"$out")"
        p50="$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")"
        p99="$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")"
        sock_errors="$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")"
        non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")"
        cpu="$(awk -v d=$((ticks_after - ticks_before)) -v hz="$CLK_TCK" -v n="${requests:-0}" \
            'BEGIN { if (n > 0) printf "%.2f", d / hz * 1e6 / n; else print "null" }')"
        rss_mib="$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
        if [[ "${sock_errors:-0}" != 0 || -n "$non2xx" ]]; then
            log "$server $route: socket errors ${sock_errors:-0}, non-2xx ${non2xx:-0}"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$route" "${rps:-null}" \
            "$p50" "$p99" "$cpu" "$rss_mib" "${requests:-0}" "${sock_errors:-0}" "${non2xx:-0}" >>"$RESULTS"
    done

    # Memory cost of idle keep-alive connections (ours and Hummingbird's).
    if ((IDLE_CONNS > 0)) && [[ "$server" == fasterapi || "$server" == hummingbird ]]; then
        log "$server: RSS with $IDLE_CONNS idle keep-alive connections"
        ready="$WORK/idle.ready"
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
    fi

    log "$server: stopping"
    stop_tree "$pid"
    SERVER_PID=""
done

# ---------------------------------------------------------------------------------------------
# Report: table, ratios, idle deltas; then JSON.

# metric SERVER ROUTE COLUMN -> value from RESULTS (empty if absent).
metric() { awk -F'\t' -v s="$1" -v r="$2" -v c="$3" '$1 == s && $2 == r { print $c }' "$RESULTS"; }
# ratio A B -> A/B with 2 decimals, or "null".
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && a != "null" && b != "null" && b + 0 > 0) printf "%.2f", a / b; else print "null" }'; }

echo
printf '%-12s %-12s %12s %10s %10s %12s %9s\n' server route 'req/s' 'p50 µs' 'p99 µs' 'CPU µs/req' 'RSS MiB'
while IFS=$'\t' read -r s r rps p50 p99 cpu rss _; do
    rps="$(awk -v v="$rps" 'BEGIN { if (v == "null") print v; else printf "%.0f", v }')"
    printf '%-12s %-12s %12s %10s %10s %12s %9s\n' "$s" "$r" "$rps" "$p50" "$p99" "$cpu" "$rss"
done <"$RESULTS"

echo
printf '%-12s %16s %16s %16s %18s\n' route 'fa/hb req/s' 'fa/fastapi req/s' 'fa/nginx req/s' 'p99 fa/hb (lower)'
RATIOS_JSON=""
for route in $ROUTES; do
    fa_rps="$(metric fasterapi "$route" 3)"
    r_hb="$(ratio "$fa_rps" "$(metric hummingbird "$route" 3)")"
    r_fastapi="$(ratio "$fa_rps" "$(metric fastapi "$route" 3)")"
    r_nginx="$(ratio "$fa_rps" "$(metric nginx "$route" 3)")"
    r_p99="$(ratio "$(metric fasterapi "$route" 5)" "$(metric hummingbird "$route" 5)")"
    printf '%-12s %16s %16s %16s %18s\n' "$route" "$r_hb" "$r_fastapi" "$r_nginx" "$r_p99"
    RATIOS_JSON+="${RATIOS_JSON:+,}
    {\"route\": \"$route\", \"fasterapi_over_hummingbird_rps\": $r_hb, \"fasterapi_over_fastapi_rps\": $r_fastapi, \"fasterapi_over_nginx_rps\": $r_nginx, \"fasterapi_over_hummingbird_p99\": $r_p99}"
done

if [[ -s "$IDLE" ]]; then
    echo
    echo "RSS growth with $IDLE_CONNS idle keep-alive connections:"
    while IFS=$'\t' read -r s b a d; do
        printf '  %-12s %8s MiB -> %8s MiB   delta %6s MiB\n' "$s" "$b" "$a" "$d"
    done <"$IDLE"
fi

RESULTS_JSON=""
while IFS=$'\t' read -r s r rps p50 p99 cpu rss n errs non2xx; do
    RESULTS_JSON+="${RESULTS_JSON:+,}
    {\"server\": \"$s\", \"route\": \"$r\", \"requests_per_sec\": $rps, \"p50_us\": $p50, \"p99_us\": $p99, \"cpu_us_per_request\": $cpu, \"rss_mib\": $rss, \"requests\": $n, \"socket_errors\": $errs, \"non_2xx\": $non2xx}"
done <"$RESULTS"
IDLE_JSON=""
while IFS=$'\t' read -r s b a d; do
    IDLE_JSON+="${IDLE_JSON:+,}
    {\"server\": \"$s\", \"rss_before_mib\": $b, \"rss_after_mib\": $a, \"delta_mib\": $d}"
done <"$IDLE"

mkdir -p "$OUT_DIR"
cat >"$OUT_DIR/bench.json" <<EOF
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
  "cpus": $(nproc),
  "wrk": {"threads": 1, "connections": $CONNECTIONS, "duration_s": $DURATION, "warmup_s": $WARMUP},
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
