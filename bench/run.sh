#!/usr/bin/env bash
# OMS benchmark harness. See bench/README.md.
#
#   bench/run.sh [OMS_BINARY] [--mode embedded|cluster] [--replicas N]
#                [--durability full|normal] [--duration S] [--rate R] [--repeat N]
#                [--threads T] [--connections C] [--warmup S] [--paced-threads N]
#                [--drain-idle S] [--drain-max S] [--out FILE] [--keep]
#                [--no-nginx] [--no-paced] [--oms-arg ARG]...
#                [--idle-probe] [--keep-up R] [--overload]
#
# --mode cluster measures distributed mode instead: scripts/cluster up (PostgreSQL, nats-server,
# one `oms serve` process per service and replica, all on this machine); --durability does not
# apply there (PostgreSQL commits with fsync, see docs/PERFORMANCE.md).
# Needs: wrk, nginx (package nginx-light), python3. Runs everything on 127.0.0.1 and stops
# everything it started when it exits. No timing assertions: it measures and reports.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

OMS_BIN="$ROOT/build/oms"
MODE=embedded
REPLICAS=1
DURABILITY=full
DURATION=20
RATE=500
REPEAT=3
THREADS=2
CONNS=32
WARMUP=2
PACED_THREADS=64
DRAIN_IDLE=15
DRAIN_MAX=""
OUT=""
KEEP=0
DO_NGINX=1
DO_PACED=1
IDLE_PROBE=0
KEEP_UP=""
OVERLOAD=0
OVERLOAD_PENDING=2000
OMS_EXTRA=()
PRODUCT=bench-1
PRICE=1.00
STOCK=1000000

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --mode) MODE=$2; shift 2 ;;
    --replicas) REPLICAS=$2; shift 2 ;;
    --durability) DURABILITY=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --paced-threads) PACED_THREADS=$2; shift 2 ;;
    --drain-idle) DRAIN_IDLE=$2; shift 2 ;;
    --drain-max) DRAIN_MAX=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --no-nginx) DO_NGINX=0; shift ;;
    --no-paced) DO_PACED=0; shift ;;
    --idle-probe) IDLE_PROBE=1; shift ;;
    --keep-up) KEEP_UP=$2; shift 2 ;;
    --overload) OVERLOAD=1; shift ;;
    --oms-arg) OMS_EXTRA+=("$2"); shift 2 ;;
    --oms) OMS_BIN=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    --*) echo "run.sh: unknown option $1" >&2; usage 2 ;;
    *) OMS_BIN=$1; shift ;;
  esac
done

case "$DURABILITY" in full|normal) ;; *) echo "run.sh: --durability must be full or normal" >&2; exit 2 ;; esac
case "$MODE" in embedded|cluster) ;; *) echo "run.sh: --mode must be embedded or cluster" >&2; exit 2 ;; esac
for n in "$REPLICAS" "$DURATION" "$REPEAT" "$THREADS" "$CONNS" "$WARMUP" "$PACED_THREADS"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "run.sh: expected an integer, got '$n'" >&2; exit 2; }
done
[[ "$RATE" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "run.sh: bad --rate '$RATE'" >&2; exit 2; }
[[ -z "$KEEP_UP" || "$KEEP_UP" =~ ^[0-9]+$ ]] || { echo "run.sh: bad --keep-up '$KEEP_UP'" >&2; exit 2; }
[[ -n "$DRAIN_MAX" ]] || DRAIN_MAX=$(( DURATION * 10 > 120 ? DURATION * 10 : 120 ))

[[ "$OMS_BIN" = /* ]] || OMS_BIN="$PWD/$OMS_BIN"
for tool in wrk python3; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (scripts/deps.sh bench installs it)" >&2; exit 1; }
done
NGINX=$(command -v nginx || true)
[[ -n "$NGINX" || ! -x /usr/sbin/nginx ]] || NGINX=/usr/sbin/nginx
if [[ $DO_NGINX = 1 && -z "$NGINX" ]]; then
  echo "run.sh: nginx not found (package nginx-light); use --no-nginx to skip the HTTP ceiling" >&2; exit 1
fi
[[ -x "$OMS_BIN" ]] || { echo "run.sh: oms binary not found or not executable: $OMS_BIN" >&2; exit 1; }

# Run a private copy: the lead may relink build/oms while a long benchmark is running, and every
# repeat must measure the same binary.
OMS_ORIG=$OMS_BIN
LIB="python3 $HERE/benchlib.py"
# The operator password of every oms this run starts (staff creates the bench product; the
# orders come from the customer "bench", as a shop's would).
export OMS_ADMIN_PASSWORD=${OMS_ADMIN_PASSWORD:-bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')}
LUA="$HERE/create_orders.lua"
PACED="$HERE/paced.py"
COST="python3 $HERE/cost.py"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/oms-bench.XXXXXX")
RESULTS="$WORK/results.jsonl"
DATA_FS=$(findmnt -no FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK" 2>/dev/null || echo unknown)
if [[ "$DATA_FS" = tmpfs || "$DATA_FS" = ramfs ]]; then
  log "WARNING: $WORK is on $DATA_FS: fsync is free there, so --durability full measures nothing; set TMPDIR to a disk directory"
fi
cp "$OMS_ORIG" "$WORK/oms"
OMS_BIN="$WORK/oms"
OMS_SHA=$(sha256sum "$OMS_BIN" | cut -c1-16)
OMS_PID=""
NGINX_PID=""
CHILD_PID=""
SAMPLER_PID=""
PROBE_PID=""
FAILED=1

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

stop_pid() {  # stop_pid PID NAME: SIGTERM, wait up to 20 s, then SIGKILL
  local pid=$1 name=$2 i
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) did not stop within 20 s of SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  [[ -z "$SAMPLER_PID" ]] || { kill -TERM "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; }
  [[ -z "$CHILD_PID" ]] || { kill -TERM "$CHILD_PID" 2>/dev/null || true; wait "$CHILD_PID" 2>/dev/null || true; }
  [[ -z "$PROBE_PID" ]] || { kill -TERM "$PROBE_PID" 2>/dev/null || true; wait "$PROBE_PID" 2>/dev/null || true; }
  stop_pid "$OMS_PID" oms; OMS_PID=""
  stop_cluster
  stop_pid "$NGINX_PID" nginx; NGINX_PID=""
  if [[ $FAILED = 1 || $KEEP = 1 ]]; then
    log "logs and raw results kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run a load generator as a child we can stop: `wait` returns at once on SIGTERM/SIGINT, so the
# EXIT trap runs without waiting for the end of the load phase.
child() {
  "$@" &
  CHILD_PID=$!
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=""
  return $rc
}

wait_port() {  # wait_port PORT PID SECONDS
  local port=$1 pid=$2 secs=$3 i
  for ((i = 0; i < secs * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

start_nginx() {  # start_nginx DIR -> sets NGINX_PID, NGINX_URL
  local d=$1 port
  mkdir -p "$d/tmp"
  port=$($LIB freeport)
  cat >"$d/nginx.conf" <<EOF
# generated by bench/run.sh: the HTTP ceiling (no application work at all)
user root;
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port;
        location / { default_type text/plain; return 200 "ok"; }
    }
}
EOF
  "$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/error.log" >"$d/stdout" 2>&1 &
  NGINX_PID=$!
  if ! wait_port "$port" "$NGINX_PID" 10; then
    log "nginx did not start:"; cat "$d/stdout" "$d/error.log" >&2 2>/dev/null || true
    exit 1
  fi
  NGINX_URL="http://127.0.0.1:$port"
}

CLUSTER_DIR=""
start_cluster() {  # start_cluster DIR -> sets CLUSTER_DIR, OMS_URL
  mkdir -p "$1"
  CLUSTER_DIR=$1/cluster
  OMS_CMD=(python3 "$ROOT/scripts/cluster" up --dir "$CLUSTER_DIR" --free-ports --replicas "$REPLICAS" --bin "$OMS_BIN"
           -- --demo-data true --log-level warn "${OMS_EXTRA[@]}")
  "${OMS_CMD[@]}" >"$1/cluster_up.txt" 2>&1 || { log "scripts/cluster up failed:"; cat "$1/cluster_up.txt" >&2; exit 1; }
  OMS_URL="http://127.0.0.1:$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ports"]["gateway"])' "$CLUSTER_DIR/cluster.json")"
}

stop_cluster() {
  [[ -n "$CLUSTER_DIR" ]] || return 0
  python3 "$ROOT/scripts/cluster" down --dir "$CLUSTER_DIR" >&2 || true
  CLUSTER_DIR=""
}

start_oms() {  # start_oms DIR -> sets OMS_PID, OMS_URL
  local d=$1 i line
  if [[ $MODE = cluster ]]; then start_cluster "$d"; return; fi
  mkdir -p "$d/data"
  OMS_CMD=("$OMS_BIN" run --port 0 --data-dir "$d/data" --demo-data true --log-level warn
           --durability "$DURABILITY" "${OMS_EXTRA[@]}")
  # stdbuf: line-buffer stdout in case the ready line is written through a buffered stream
  stdbuf -oL "${OMS_CMD[@]}" >"$d/oms.stdout" 2>"$d/oms.stderr" &
  OMS_PID=$!
  OMS_URL=""
  for ((i = 0; i < 600; i++)); do
    line=$(grep -m1 -o 'oms listening on http://[^[:space:]]*' "$d/oms.stdout" 2>/dev/null || true)
    if [[ -n "$line" ]]; then OMS_URL=${line#oms listening on }; break; fi
    if ! kill -0 "$OMS_PID" 2>/dev/null; then
      log "oms exited before printing its ready line. stdout/stderr:"
      tail -n 30 "$d/oms.stdout" "$d/oms.stderr" >&2 || true
      OMS_PID=""; exit 1
    fi
    sleep 0.1
  done
  if [[ -z "$OMS_URL" ]]; then
    log "no 'oms listening on http://HOST:PORT' line on stdout within 60 s"; tail -n 30 "$d/oms.stderr" >&2 || true
    exit 1
  fi
}

run_wrk() {  # run_wrk URL OUTFILE DURATION [CONNECTIONS]
  OMS_BENCH_PRODUCT=$PRODUCT OMS_BENCH_PRICE=$PRICE \
    child wrk -t"$THREADS" -c"${4:-$CONNS}" -d"${3}s" --timeout 10s --latency -s "$LUA" "$1" >"$2" 2>&1 || {
      log "wrk failed:"; cat "$2" >&2; exit 1; }
  grep -q '^{"bench":"create_orders"' "$2" || { log "wrk printed no result line:"; cat "$2" >&2; exit 1; }
}

cost_snapshot() {  # cost_snapshot OUTFILE: the counters of the cost model (bench/cost.py)
  $COST snapshot "$OMS_URL" --work "$WORK" ${CLUSTER_DIR:+--cluster-json "$CLUSTER_DIR/cluster.json"} >"$1" ||
    log "  (cost snapshot failed; the cost rows will be n/a)"
}

wrk_cmd_text() { echo "OMS_TOKEN=<token> OMS_BENCH_PRODUCT=$PRODUCT OMS_BENCH_PRICE=$PRICE wrk -t$THREADS -c$CONNS -d${2}s --timeout 10s --latency -s bench/create_orders.lua $1"; }
paced_cmd_text() { echo "OMS_TOKEN=<token> python3 bench/paced.py --url $1 --rate $RATE --duration $DURATION --threads $PACED_THREADS --product $PRODUCT --price $PRICE"; }

short() {  # one-line digest of a result line
  python3 - "$1" <<'EOF'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
if d.get("bench") == "create_orders":
    print("%.0f ok/s, non-2xx %d, p50 %s ms, p99 %s ms" % (d["ok_per_s"], d["non_2xx"], d["latency_ms"]["p50"], d["latency_ms"]["p99"]))
elif d.get("bench") == "paced":
    print("offered %s/s achieved %s/s, p50 %s ms, p99 %s ms, late %d, non-2xx+err %d" % (d["offered_rate"], d["achieved_rate"], d["latency_ms"]["p50"], d["latency_ms"]["p99"], d["late_sends"], d["non_2xx"] + d["errors"]))
elif "outcome" in d:
    m = d["drained"]["metrics"]
    print("%s after %.2f s: orders %s, completed %s, failed %s, cancelled %s" % (d["outcome"], d["drain_s"], m["orders_created"], m["sagas_completed"], m["sagas_failed"], m["sagas_cancelled"]))
EOF
}

# ---------------------------------------------------------------------------------------- run
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //' || true)
python3 - "$WORK/meta.json" <<EOF
import json, sys
json.dump({
  "when": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "host": "$(nproc) CPUs, ${cpu//\"/}, $(uname -sr), load avg at start $(cut -d' ' -f1-3 /proc/loadavg)",
  "oms": "$OMS_ORIG (modified $(date -u -r "$OMS_ORIG" +%Y-%m-%dT%H:%M:%SZ), sha256 $OMS_SHA…; run from a copy)",
  "mode": "$MODE" + (" ($REPLICAS replica(s) per service; PostgreSQL fsync=on synchronous_commit=on, nats-server 2.9 file store)" if "$MODE" == "cluster" else ""),
  "durability": "$DURABILITY (data dirs under $WORK, filesystem $DATA_FS)" if "$MODE" == "embedded" else "n/a (PostgreSQL; data under $WORK, filesystem $DATA_FS)",
  "duration": "${DURATION} s per load phase, warm-up ${WARMUP} s",
  "repeat": "$REPEAT (each repeat: fresh oms process and data dir, fresh nginx)",
  "wrk": "-t$THREADS -c$CONNS, closed loop",
  "rate": "paced.py offers $RATE orders/s with $PACED_THREADS keep-alive connections",
}, open(sys.argv[1], "w"))
EOF

log "work dir $WORK; mode=$MODE oms=$OMS_ORIG (copy, sha256 $OMS_SHA…) durability=$DURABILITY duration=${DURATION}s repeat=$REPEAT"
for ((r = 1; r <= REPEAT; r++)); do
  RD="$WORK/run$r"
  mkdir -p "$RD"
  CMDS="$RD/commands.txt"
  : >"$CMDS"
  keys=()

  # ---- (f) HTTP ceiling: nginx return 200, same wrk threads/connections/duration/script
  if [[ $DO_NGINX = 1 ]]; then
    start_nginx "$RD/nginx"
    echo "$NGINX -p $RD/nginx -c $RD/nginx/nginx.conf -e $RD/nginx/error.log   # config: see bench/run.sh start_nginx" >>"$CMDS"
    log "run $r/$REPEAT: nginx ceiling at $NGINX_URL"
    OMS_TOKEN=not-a-real-token run_wrk "$NGINX_URL" "$RD/nginx_wrk.txt" "$DURATION"
    wrk_cmd_text "$NGINX_URL" "$DURATION" >>"$CMDS"
    log "  nginx: $(short "$RD/nginx_wrk.txt")"
    keys+=(--key "nginx_wrk=$RD/nginx_wrk.txt")
    if [[ $DO_PACED = 1 ]]; then
      # generator self-check: can paced.py offer RATE/s on this machine at all?
      OMS_TOKEN=not-a-real-token child python3 "$PACED" --url "$NGINX_URL" --rate "$RATE" --duration "$DURATION" \
        --threads "$PACED_THREADS" --product "$PRODUCT" --price "$PRICE" --label nginx >"$RD/paced_nginx.json"
      paced_cmd_text "$NGINX_URL" >>"$CMDS"
      log "  paced.py vs nginx: $(short "$RD/paced_nginx.json")"
      keys+=(--key "paced_nginx=$RD/paced_nginx.json")
    fi
    stop_pid "$NGINX_PID" nginx; NGINX_PID=""
  fi

  # ---- (b) start oms on a free port, (c) bench product + token
  start_oms "$RD/oms"
  echo "${OMS_CMD[*]}   # oms = copy of $OMS_ORIG" >>"$CMDS"
  log "run $r/$REPEAT: oms ($MODE) ${OMS_PID:+pid $OMS_PID }at $OMS_URL"
  TOKEN=$($LIB login "$OMS_URL" bench)
  export OMS_TOKEN=$TOKEN
  STAFF_TOKEN=$($LIB login "$OMS_URL" staff --password "$OMS_ADMIN_PASSWORD")
  st=$($LIB create-product "$OMS_URL" "$STAFF_TOKEN" "$PRODUCT" "$STOCK" "$PRICE")
  {
    echo "python3 bench/benchlib.py login $OMS_URL bench          # POST /api/auth/login?userId=bench (a customer)"
    echo "python3 bench/benchlib.py login $OMS_URL staff --password \$OMS_ADMIN_PASSWORD   # staff, for the product"
    echo "python3 bench/benchlib.py create-product $OMS_URL <staff token> $PRODUCT $STOCK $PRICE   # POST /api/inventory -> $st"
  } >>"$CMDS"

  # ---- idle: one order at a time on the otherwise idle system, and its cost
  if [[ $IDLE_PROBE = 1 ]]; then
    cost_snapshot "$RD/cost_idle0.json"
    child python3 "$HERE/idle_probe.py" --url "$OMS_URL" --count 100 --gap-ms 10 --product "$PRODUCT" --price "$PRICE" \
      >"$RD/idle.json"
    child $LIB drain "$OMS_URL" --idle "$DRAIN_IDLE" --max "$DRAIN_MAX" >/dev/null
    cost_snapshot "$RD/cost_idle1.json"
    echo "OMS_TOKEN=<token> python3 bench/idle_probe.py --url $OMS_URL --count 100 --gap-ms 10 --product $PRODUCT --price $PRICE" >>"$CMDS"
    log "  idle: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("POST p50 %s ms p99 %s ms; create->COMPLETED p50 %s ms p99 %s ms" % (d["post_ms"]["p50"], d["post_ms"]["p99"], d["complete_ms"]["p50"], d["complete_ms"]["p99"]))' "$RD/idle.json")"
    keys+=(--key "idle=$RD/idle.json" --key "cost_idle0=$RD/cost_idle0.json" --key "cost_idle1=$RD/cost_idle1.json")
  fi

  # warm-up (not measured), then let its sagas finish so the window starts with no backlog
  if [[ $WARMUP -gt 0 ]]; then
    run_wrk "$OMS_URL" "$RD/warmup_wrk.txt" "$WARMUP"
    child $LIB drain "$OMS_URL" --idle "$DRAIN_IDLE" --max "$DRAIN_MAX" >"$RD/warmup_drain.json"
    log "  warm-up: $(short "$RD/warmup_wrk.txt"); sagas $(short "$RD/warmup_drain.json")"
  fi

  # ---- (d) closed-loop load with wrk, (e) sagas/s over the window and the drain afterwards
  $LIB sample "$OMS_URL" --interval 1 >"$RD/oms_timeline.jsonl" &
  SAMPLER_PID=$!
  $LIB snapshot "$OMS_URL" >"$RD/oms_m0.json"
  run_wrk "$OMS_URL" "$RD/oms_wrk.txt" "$DURATION"
  kill -TERM "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""
  child $LIB drain "$OMS_URL" --idle "$DRAIN_IDLE" --max "$DRAIN_MAX" >"$RD/oms_drain.json"
  wrk_cmd_text "$OMS_URL" "$DURATION" >>"$CMDS"
  echo "python3 bench/benchlib.py snapshot $OMS_URL   # before wrk; after wrk: python3 bench/benchlib.py drain $OMS_URL --idle $DRAIN_IDLE --max $DRAIN_MAX" >>"$CMDS"
  log "  oms wrk: $(short "$RD/oms_wrk.txt")"
  log "  sagas: $(short "$RD/oms_drain.json")"
  keys+=(--key "oms_wrk=$RD/oms_wrk.txt" --key "oms_m0=$RD/oms_m0.json" --key "oms_drain=$RD/oms_drain.json")

  # ---- paced (open-loop) latency at RATE orders/s offered
  # (the cost model: counters before the paced run, and after its sagas drained)
  if [[ $DO_PACED = 1 ]]; then
    child $LIB drain "$OMS_URL" --idle "$DRAIN_IDLE" --max "$DRAIN_MAX" >/dev/null
    cost_snapshot "$RD/cost_paced0.json"
    child python3 "$PACED" --url "$OMS_URL" --rate "$RATE" --duration "$DURATION" \
      --threads "$PACED_THREADS" --product "$PRODUCT" --price "$PRICE" --label oms >"$RD/paced_oms.json"
    paced_cmd_text "$OMS_URL" >>"$CMDS"
    log "  paced vs oms: $(short "$RD/paced_oms.json")"
    keys+=(--key "paced_oms=$RD/paced_oms.json")
  fi
  child $LIB drain "$OMS_URL" --idle "$DRAIN_IDLE" --max "$DRAIN_MAX" >"$RD/oms_final.json"
  log "  final: $(short "$RD/oms_final.json")"
  keys+=(--key "oms_final=$RD/oms_final.json")
  if [[ $DO_PACED = 1 ]]; then
    cost_snapshot "$RD/cost_paced1.json"
    keys+=(--key "cost_paced0=$RD/cost_paced0.json" --key "cost_paced1=$RD/cost_paced1.json")
  fi

  # ---- keep-up: KEEP_UP orders/s paced for DURATION s; the backlog the moment it ends
  if [[ -n "$KEEP_UP" ]]; then
    child python3 "$PACED" --url "$OMS_URL" --rate "$KEEP_UP" --duration "$DURATION" \
      --threads "$PACED_THREADS" --product "$PRODUCT" --price "$PRICE" --label keepup >"$RD/keepup.json"
    $LIB snapshot "$OMS_URL" >"$RD/keepup_end.json"
    child $LIB drain "$OMS_URL" --idle "$DRAIN_IDLE" --max "$DRAIN_MAX" >"$RD/keepup_drain.json"
    echo "OMS_TOKEN=<token> python3 bench/paced.py --url $OMS_URL --rate $KEEP_UP --duration $DURATION --threads $PACED_THREADS --product $PRODUCT --price $PRICE   # then: benchlib.py snapshot (backlog)" >>"$CMDS"
    log "  keep-up at $KEEP_UP/s: $(short "$RD/keepup.json"); then $(short "$RD/keepup_drain.json")"
    keys+=(--key "keepup=$RD/keepup.json" --key "keepup_end=$RD/keepup_end.json")
  fi

  # ---- overload: a fresh oms whose admission control sheds beyond OVERLOAD_PENDING pending orders
  # (about 1 s of work); wrk closed loop with 4x the connections; a 50/s paced probe beside it
  # measures what an accepted client waits
  if [[ $OVERLOAD = 1 ]]; then
    stop_pid "$OMS_PID" oms; OMS_PID=""
    stop_cluster
    saved_extra=("${OMS_EXTRA[@]}")
    OMS_EXTRA+=(--max-pending-orders "$OVERLOAD_PENDING")
    start_oms "$RD/oms_overload"
    OMS_EXTRA=("${saved_extra[@]}")
    echo "${OMS_CMD[*]}   # the overload phase's own oms" >>"$CMDS"
    TOKEN=$($LIB login "$OMS_URL" bench)
    export OMS_TOKEN=$TOKEN
    STAFF_TOKEN=$($LIB login "$OMS_URL" staff --password "$OMS_ADMIN_PASSWORD")
    $LIB create-product "$OMS_URL" "$STAFF_TOKEN" "$PRODUCT" "$STOCK" "$PRICE" >/dev/null
    python3 "$PACED" --url "$OMS_URL" --rate 50 --duration "$DURATION" --threads 8 \
      --product "$PRODUCT" --price "$PRICE" --label overload_probe >"$RD/overload_probe.json" &
    PROBE_PID=$!
    run_wrk "$OMS_URL" "$RD/overload_wrk.txt" "$DURATION" $((CONNS * 4))
    wait "$PROBE_PID"; PROBE_PID=""
    child $LIB drain "$OMS_URL" --idle "$DRAIN_IDLE" --max "$DRAIN_MAX" >"$RD/overload_drain.json"
    echo "$(wrk_cmd_text "$OMS_URL" "$DURATION" | sed "s/-c$CONNS /-c$((CONNS * 4)) /")   # with, at the same time:" >>"$CMDS"
    echo "OMS_TOKEN=<token> python3 bench/paced.py --url $OMS_URL --rate 50 --duration $DURATION --threads 8 --product $PRODUCT --price $PRICE" >>"$CMDS"
    log "  overload: $(short "$RD/overload_wrk.txt"); probe $(short "$RD/overload_probe.json")"
    keys+=(--key "overload_wrk=$RD/overload_wrk.txt" --key "overload_probe=$RD/overload_probe.json")
  fi

  stop_pid "$OMS_PID" oms; OMS_PID=""
  stop_cluster
  unset OMS_TOKEN
  $LIB record --label "run$r" "${keys[@]}" --value "cmds_file=$CMDS" --value "timeline_file=$RD/oms_timeline.jsonl" >>"$RESULTS"
done

$LIB summarize "$RESULTS" --meta "$WORK/meta.json" >"$WORK/summary.md"
if [[ -n "$OUT" ]]; then cp "$WORK/summary.md" "$OUT"; log "summary written to $OUT"; fi
cat "$WORK/summary.md"
FAILED=0
