#!/usr/bin/env bash
# Run shopevents' cluster mode on one machine: bash scripts/cluster.sh
#
# Starts a 3-node NATS JetStream cluster on loopback, migrates a PostgreSQL database, runs
# `shopevents cluster init`, 2 processors and 2 collectors (http://127.0.0.1:8001 and :8002),
# makes sure the demo store exists, then posts the seed article's purchase through collector 1
# (accepted) and again through collector 2 (duplicate). Ctrl-C stops everything it started.
#
#   --database URL      PostgreSQL to use (default: postgresql://postgres@127.0.0.1:5432/
#                       shopevents_cluster, created when missing; when nothing answers on
#                       127.0.0.1:5432, a private PostgreSQL is started in the data folder)
#   --private-postgres  start a private PostgreSQL in the data folder even when one answers
#   --dir DIR           data folder: JetStream's files, logs, the private PostgreSQL
#                       (default: a new folder under ${TMPDIR:-/tmp}, printed)
#   --port N            collector 1's port; collector 2 gets N+1 (default 8001)
#   --nats-port N       first NATS client port; nodes use N..N+2, routes N+2000..N+2002,
#                       monitoring N+4000..N+4002 (default 14222)
#   --no-demo           skip the demo purchase
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

DATABASE=""
DIR=""
PORT1=8001
NATS_BASE=14222
DEMO=1
PRIVATE_WANTED=0
while [ $# -gt 0 ]; do
  case "$1" in
    --database) DATABASE=${2:?--database needs a URL}; shift 2 ;;
    --dir) DIR=${2:?--dir needs a folder}; shift 2 ;;
    --port) PORT1=${2:?--port needs a number}; shift 2 ;;
    --nats-port) NATS_BASE=${2:?--nats-port needs a number}; shift 2 ;;
    --no-demo) DEMO=0; shift ;;
    --private-postgres) PRIVATE_WANTED=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "scripts/cluster.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$PORT1" "$NATS_BASE"; do
  case "$n" in ''|*[!0-9]*) echo "scripts/cluster.sh: expected a port number, got '$n'" >&2; exit 2 ;; esac
done
PORT2=$((PORT1 + 1))

say() { printf '\033[1m%s\033[0m\n' "$*"; }

as_root() {  # as_root CMD...: run as root (sudo when not root)
  if [ "$(id -u)" = "0" ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
  say "installing $* (Debian packages)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

bash scripts/setup.sh
SE="$ROOT/.venv/bin/shopevents"
PY="$ROOT/.venv/bin/python"
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || apt_install nats-server
NATS_SERVER=$(command -v nats-server || echo /usr/sbin/nats-server)
command -v curl >/dev/null 2>&1 || apt_install curl

if [ -z "$DIR" ]; then
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/shopevents-cluster-XXXXXX")
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
chmod 755 "$DIR"   # a private PostgreSQL runs as the postgres user and must reach its folder

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$PORT1" "$PORT2" \
         $((NATS_BASE)) $((NATS_BASE + 1)) $((NATS_BASE + 2)) \
         $((NATS_BASE + 2000)) $((NATS_BASE + 2001)) $((NATS_BASE + 2002)) \
         $((NATS_BASE + 4000)) $((NATS_BASE + 4001)) $((NATS_BASE + 4002)); do
  if port_busy "$p"; then
    echo "scripts/cluster.sh: port $p on 127.0.0.1 is taken; choose others with --port / --nats-port" >&2
    exit 1
  fi
done

# -- what we start, and how it stops --------------------------------------------------------
APP_PIDS=()    # collectors and processors
NATS_PIDS=()
PRIVATE_PG=""
stop_all() {  # stop_all PID...: SIGTERM, wait up to 30 s, then SIGKILL what is left
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for _ in $(seq 1 300); do
    local alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = "0" ] && break
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}
cleanup() {
  trap - EXIT INT TERM
  say "stopping collectors and processors, then the JetStream nodes"
  # processors finish their batch and release their partitions while NATS is still up
  stop_all "${APP_PIDS[@]}"
  stop_all "${NATS_PIDS[@]}"
  if [ -n "$PRIVATE_PG" ]; then
    pg_as "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  echo "data and logs kept in $DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {  # start NAME CMD...: run CMD in the background, its output in $DIR/NAME.log
  local name=$1; shift
  "$@" >"$DIR/$name.log" 2>&1 &
  if [[ $name == nats-* ]]; then NATS_PIDS+=($!); else APP_PIDS+=($!); fi
}

wait_http() {  # wait_http URL NAME LOG: until URL answers (any status below 500)
  local url=$1 name=$2 log=$3
  for _ in $(seq 1 300); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null || true)
    if [ -n "$code" ] && [ "$code" != "000" ] && [ "$code" -lt 500 ]; then return 0; fi
    sleep 0.1
  done
  echo "scripts/cluster.sh: $name did not answer $url within 30 s; its log ($log) ends with:" >&2
  tail -n 20 "$log" >&2 || true
  exit 1
}

say "data folder: $DIR"

# -- 1. a 3-node JetStream cluster on loopback ---------------------------------------------
ROUTES=""
for i in 1 2 3; do
  ROUTES+="nats-route://127.0.0.1:$((NATS_BASE + 2000 + i - 1)),"
done
ROUTES=${ROUTES%,}
NATS_URLS=""
for i in 1 2 3; do
  mkdir -p "$DIR/nats/n$i"
  cat > "$DIR/nats/n$i.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:$((NATS_BASE + i - 1))
http: 127.0.0.1:$((NATS_BASE + 4000 + i - 1))
jetstream { store_dir: "$DIR/nats/n$i" }
cluster {
  name: shopevents
  listen: 127.0.0.1:$((NATS_BASE + 2000 + i - 1))
  routes: [$(echo "$ROUTES" | sed 's/,/, /g')]
}
EOF
  start "nats-n$i" "$NATS_SERVER" -c "$DIR/nats/n$i.conf"
  NATS_URLS+="nats://127.0.0.1:$((NATS_BASE + i - 1)),"
done
NATS_URLS=${NATS_URLS%,}
for _ in $(seq 1 300); do
  if curl -s "http://127.0.0.1:$((NATS_BASE + 4000))/jsz" 2>/dev/null | grep -q '"leader"'; then
    break
  fi
  sleep 0.1
done
curl -s "http://127.0.0.1:$((NATS_BASE + 4000))/jsz" | grep -q '"leader"' || {
  echo "scripts/cluster.sh: the JetStream cluster elected no leader in 30 s; see $DIR/nats-n1.log" >&2
  exit 1
}
say "JetStream: 3 nodes at $NATS_URLS (configs in $DIR/nats/)"

# -- 2. PostgreSQL ----------------------------------------------------------------------------
pg_as() {  # run a PostgreSQL server program as the postgres user when we are root
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_answers() {  # pg_answers URL: the server of URL accepts connections
  "$PY" - "$1" <<'EOF' >/dev/null 2>&1
import sys, psycopg
psycopg.connect(sys.argv[1].rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
EOF
}
if [ -z "$DATABASE" ]; then
  DATABASE=postgresql://postgres@127.0.0.1:5432/shopevents_cluster
  if [ "$PRIVATE_WANTED" = "1" ] || ! pg_answers "$DATABASE"; then
    # Nothing answers on 5432 (or --private-postgres): a PostgreSQL of our own in the data
    # folder, on its own port.
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$PG_BIN" ]; then
      apt_install postgresql
      PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    PG_PORT=$((NATS_BASE + 1210))
    if port_busy "$PG_PORT"; then
      echo "scripts/cluster.sh: port $PG_PORT is taken; pass --database URL" >&2; exit 1
    fi
    mkdir -p "$DIR/pg"
    [ "$(id -u)" = "0" ] && chown postgres "$DIR/pg"
    if [ ! -d "$DIR/pg/data" ]; then
      pg_as "$PG_BIN/initdb" -D "$DIR/pg/data" -A trust -U postgres >"$DIR/pg/initdb.log" 2>&1
    fi
    pg_as "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/log" -w \
      -o "-p $PG_PORT -k $DIR/pg -c listen_addresses=127.0.0.1" start >/dev/null
    PRIVATE_PG=1
    DATABASE=postgresql://postgres@127.0.0.1:$PG_PORT/shopevents_cluster
    say "PostgreSQL: a private one on port $PG_PORT ($DIR/pg)"
  fi
fi
case "$DATABASE" in
  postgresql://*|postgres://*) ;;
  *) echo "scripts/cluster.sh: cluster mode needs PostgreSQL; expected --database postgresql://..., got $DATABASE" >&2; exit 2 ;;
esac
"$PY" - "$DATABASE" <<'EOF'
import sys, psycopg
from psycopg import sql
url = sys.argv[1]
base, _, name = url.rpartition("/")
name = name.split("?", 1)[0]
with psycopg.connect(base + "/postgres", autocommit=True, connect_timeout=5) as conn:
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"created the database {name}")
EOF
"$SE" --database "$DATABASE" migrate >"$DIR/migrate.log" 2>&1 || { cat "$DIR/migrate.log" >&2; exit 1; }
say "PostgreSQL: $DATABASE (migrated)"

# -- 3. the stream, consumers and buckets; processors; collectors ---------------------------
"$SE" --database "$DATABASE" cluster init --nats "$NATS_URLS" --replicas 3
for i in 1 2; do
  start "process-$i" "$SE" --database "$DATABASE" process --nats "$NATS_URLS"
done
start collect-1 "$SE" --database "$DATABASE" collect --nats "$NATS_URLS" \
  --host 127.0.0.1 --port "$PORT1"
start collect-2 "$SE" --database "$DATABASE" collect --nats "$NATS_URLS" \
  --host 127.0.0.1 --port "$PORT2"
wait_http "http://127.0.0.1:$PORT1/healthz" "collector 1" "$DIR/collect-1.log"
wait_http "http://127.0.0.1:$PORT2/healthz" "collector 2" "$DIR/collect-2.log"
say "collectors: http://127.0.0.1:$PORT1 and http://127.0.0.1:$PORT2; processors: 2 (logs in $DIR)"

# -- 4. the demo store, and its purchase through both collectors -----------------------------
if [ "$DEMO" = "1" ]; then
  STORE=$("$SE" --database "$DATABASE" stores list --json | "$PY" -c '
import json, sys
print(next((s["id"] for s in json.load(sys.stdin) if s["name"] == "Demo store"), ""))')
  if [ -z "$STORE" ]; then
    made=$("$SE" --database "$DATABASE" stores create "Demo store" --json)
  else
    made=$("$SE" --database "$DATABASE" stores keys "$STORE" --create cluster-demo)
  fi
  read -r STORE KEY < <(echo "$made" | "$PY" -c '
import json, sys
d = json.loads(sys.stdin.read().strip().splitlines()[-1])
print(d.get("storeId", sys.argv[1]), d["apiKeyId"] + ":" + d["apiKeySecret"])' "$STORE")
  # the seed article's purchase, with a purchaseId of its own so every run shows `accepted`
  PURCHASE_ID="purchase-cluster-$("$PY" -c 'import uuid; print(uuid.uuid4().hex[:12])')"
  sed "s/purchase-e3418b5a-8709-4593-a7c8-d8a7f12df737/$PURCHASE_ID/" \
    docs/examples/seed-purchase.json > "$DIR/demo-purchase.json"
  INGEST="/integration-type/system/scrippet-notification/$STORE"
  echo
  say "demo store $STORE; REST API key (shown once): $KEY"
  say "purchase $PURCHASE_ID through collector 1 (http://127.0.0.1:$PORT1):"
  curl -s -H 'Content-Type: text/plain' --data-binary @"$DIR/demo-purchase.json" \
    "http://127.0.0.1:$PORT1$INGEST"
  echo
  say "the same purchase through collector 2 (http://127.0.0.1:$PORT2):"
  curl -s -H 'Content-Type: text/plain' --data-binary @"$DIR/demo-purchase.json" \
    "http://127.0.0.1:$PORT2$INGEST"
  echo
  say "the purchase in PostgreSQL, read through the REST API once a processor applied it:"
  seen=""
  for _ in $(seq 1 100); do
    seen=$(curl -s -f -H "Authorization: apiKey $KEY" \
      "http://127.0.0.1:$PORT1/api/purchases/purchase-id/$PURCHASE_ID" || true)
    [ -n "$seen" ] && break
    sleep 0.1
  done
  echo "${seen:-not visible after 10 s: see $DIR/process-*.log}" | cut -c1-300
  echo
  echo "Try it yourself:"
  echo "  curl -s -H 'Content-Type: text/plain' --data-binary @docs/examples/seed-purchase.json \\"
  echo "    http://127.0.0.1:$PORT1$INGEST"
  echo "  curl -s http://127.0.0.1:$PORT2/metrics | grep shopevents_cluster"
fi
echo
say "running; Ctrl-C stops everything (data and logs stay in $DIR)"
wait -n "${APP_PIDS[@]}" "${NATS_PIDS[@]}" || true
echo "scripts/cluster.sh: a process of the cluster exited; stopping the rest (logs in $DIR)" >&2
exit 1
