#!/usr/bin/env bash
# Throw-away PostgreSQL 15 servers for tests and benchmarks, one per NAME in /tmp/fasterapi-pg/NAME.
#   scripts/pg.sh start [NAME] [PORT]  install postgresql-15 if missing, create and start NAME,
#                                      print its URL (the only line on stdout; progress on stderr)
#   scripts/pg.sh url [NAME]           postgres://fasterapi:fasterapi-secret@127.0.0.1:PORT/fasterapi
#   scripts/pg.sh ca [NAME]            path of the CA certificate that signed the server's
#   scripts/pg.sh socket [NAME]        unix socket directory (connect with psql -h DIR -p PORT)
#   scripts/pg.sh stop|down [NAME]     stop, keep the data
#   scripts/pg.sh restart [NAME]       stop, then start on the same port
#   scripts/pg.sh destroy [NAME]       stop and delete NAME's directory
# NAME defaults to main, PORT to 54329 (or the port NAME last ran on). User fasterapi, password
# fasterapi-secret, database fasterapi, SCRAM everywhere; TCP listens on 127.0.0.1 only and takes
# both TLS (server certificate for localhost and 127.0.0.1) and plain connections. fsync is off.
# Every command is idempotent; a start of a running instance only prints the URL. Run it as root
# (it installs the package and runs the server as the `postgres` user).
set -euo pipefail

# Descriptors the caller left open (a test runner's pipes) would be inherited by the server and
# held for its whole life: close all but stdin, stdout, stderr and bash's own script descriptor.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

cmd=${1:-}
name=${2:-main}
[[ $name =~ ^[A-Za-z0-9_-]+$ ]] || { echo "pg.sh: bad instance name '$name'" >&2; exit 2; }
root=/tmp/fasterapi-pg
dir=$root/$name
data=$dir/data
bin=/usr/lib/postgresql/15/bin
password=fasterapi-secret

as_postgres() { runuser -u postgres -- "$@"; }
running() { [ -f "$data/PG_VERSION" ] && as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }
stored_port() { cat "$dir/port" 2>/dev/null; }
url() {
  local port
  port=$(stored_port) || { echo "pg.sh: instance '$name' was never started" >&2; exit 1; }
  echo "postgres://fasterapi:$password@127.0.0.1:$port/fasterapi"
}

install_packages() {
  [ -x "$bin/initdb" ] && command -v openssl >/dev/null && return
  echo "pg.sh: installing postgresql-15" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
    postgresql-15 openssl >&2
  pg_ctlcluster 15 main stop >/dev/null 2>&1 || true  # the distro's cluster on 5432 is not ours
}

make_certs() {
  [ -f "$dir/server.crt" ] && return
  echo "pg.sh: creating TLS certificates in $dir" >&2
  (
    cd "$dir"
    openssl req -x509 -new -nodes -newkey rsa:2048 -days 3650 -subj "/CN=fasterapi test CA ($name)" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -new -nodes -newkey rsa:2048 -subj /CN=localhost -keyout server.key -out server.csr 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
      -days 3650 -out server.crt -extfile <(printf '%s\n' basicConstraints=CA:FALSE \
      subjectAltName=DNS:localhost,IP:127.0.0.1 keyUsage=digitalSignature,keyEncipherment extendedKeyUsage=serverAuth) 2>/dev/null
    rm server.csr
  )
}

init_data() {
  [ -f "$data/PG_VERSION" ] && return
  echo "pg.sh: initdb $data" >&2
  rm -rf "$data"  # a half-made data dir from an interrupted run
  install -d -o postgres -g postgres -m 0700 "$data"
  local pwfile=$dir/pwfile
  echo "$password" >"$pwfile"
  chown postgres "$pwfile"
  as_postgres "$bin/initdb" -D "$data" -U fasterapi -A scram-sha-256 --auth-local=scram-sha-256 \
    --pwfile="$pwfile" -E UTF8 --locale=C --no-sync >/dev/null
  rm "$pwfile"
  install -o postgres -g postgres -m 0600 "$dir/server.crt" "$dir/server.key" "$data/"
  printf '%s\n' "local all all scram-sha-256" "host all all 127.0.0.1/32 scram-sha-256" >"$data/pg_hba.conf"
  echo "ssl = on" >>"$data/postgresql.conf"
}

start() {
  local port=$1
  if running; then
    [ "$port" = "$(stored_port)" ] || { echo "pg.sh: '$name' already runs on port $(stored_port)" >&2; exit 1; }
    url
    return
  fi
  install_packages
  make_certs
  init_data
  install -d -o postgres -g postgres -m 0755 "$dir/socket"
  echo "$port" >"$dir/port"
  echo "pg.sh: starting '$name' on 127.0.0.1:$port" >&2
  # fd 9 (the lock) closed so the server does not hold it
  as_postgres "$bin/pg_ctl" -D "$data" -l "$dir/log" -s -w -t 60 start -o "-c listen_addresses=127.0.0.1 \
    -p $port -k $dir/socket -c max_connections=200 -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off" >&2 9>&- || { tail -n 20 "$dir/log" >&2; exit 1; }
  local psql=("$bin/psql" -X -q -tA -v ON_ERROR_STOP=1
    -d "host=127.0.0.1 port=$port user=fasterapi dbname=postgres sslmode=disable")
  if [ -z "$(PGPASSWORD=$password "${psql[@]}" -c "select 1 from pg_database where datname = 'fasterapi'")" ]; then
    PGPASSWORD=$password "${psql[@]}" -c "create database fasterapi owner fasterapi"
  fi
  url
}

stop() {
  running || return 0
  echo "pg.sh: stopping '$name'" >&2
  as_postgres "$bin/pg_ctl" -D "$data" -s -m fast -w stop >&2
}

lock() {
  install -d -m 0755 "$root"
  install -d -o postgres -g postgres -m 0755 "$dir"  # postgres writes the log here
  exec 9>>"$dir/lock"
  flock 9
}

case $cmd in
  start) lock; start "${3:-$(stored_port || echo 54329)}" ;;
  url) url ;;
  ca) echo "$dir/ca.crt" ;;
  socket) echo "$dir/socket" ;;
  stop | down) [ -d "$dir" ] || exit 0; lock; stop ;;
  restart) lock; port=$(stored_port || echo 54329); stop; start "$port" ;;
  destroy) [ -d "$dir" ] || exit 0; lock; stop; rm -rf "$dir" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
