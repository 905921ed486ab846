#!/usr/bin/env bash
# The full benchmark of docs/BENCHMARKS.md, on SQLite and on PostgreSQL: every workload at the
# default sizes, the concurrency sweep with the peak search and the 80 %-of-peak check, an
# open-model run, an overload run (load shedding), the SQLite writer queue on and off, and the
# full-size city (100,000 residents, 180 days).
# Each run writes bench-results/<name>.json and its table to bench-results/<name>.txt, with
# the load average before it, so the figures can be read and compared later.
#
# Run on a quiet machine for figures that mean anything (check `uptime` first):
#   bench/run-all.sh                      # everything, 3 repetitions of the main runs
#   REPEAT=1 ONLY=sqlite bench/run-all.sh # one pass, SQLite only
# Environment:
#   PG_URL     PostgreSQL database to WIPE and use (default postgres://postgres@127.0.0.1:5432/yoyaku_bench;
#              never the `test` database, which the harness refuses)
#   REPEAT     repetitions of each main run (default 3; report the median)
#   ONLY       `sqlite` or `pg` to run one engine
#   OUT        folder for the results (default bench-results)
#   SKIP_BUILD set to skip `cargo build --release`
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target}"
# Per-request logging at info costs time: the figures are taken at warn. sqlx warns of every
# slow pool acquire, thousands of lines under overload (the open model's point): kept quiet.
export RUST_LOG="${RUST_LOG:-warn,sqlx::pool::acquire=error}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/yoyaku_bench}"
REPEAT="${REPEAT:-3}"
ONLY="${ONLY:-}"
OUT="${OUT:-bench-results}"
SWEEP="1,2,4,8,16,32,64"

if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build -p yoyaku --release
fi
BIN="$CARGO_TARGET_DIR/release/yoyaku"
mkdir -p "$OUT"

run() {
  local name="$1"
  shift
  echo "== $name (load average $(cut -d' ' -f1-3 /proc/loadavg))" | tee "$OUT/$name.txt"
  "$BIN" bench --out "$OUT/$name.json" "$@" | tee -a "$OUT/$name.txt"
}

engines=()
[ "$ONLY" != "pg" ] && engines+=(sqlite)
[ "$ONLY" != "sqlite" ] && engines+=(pg)

for engine in "${engines[@]}"; do
  if [ "$engine" = pg ]; then
    db=(--database-url "$PG_URL")
    command -v pgbench >/dev/null || echo "note: no pgbench on the PATH; L0-pgbench rows will be missing"
  else
    db=() # a fresh temporary SQLite file per run
  fi
  for i in $(seq 1 "$REPEAT"); do
    # A–E at the defaults, closed model, concurrency 32.
    run "$engine-all-$i" "${db[@]}" --workloads a,b,c,d,e
    # The sweep of C (L0, pgbench on PostgreSQL, L2) and the open-model run at 80 % of peak.
    # 30 days of slots: 7 levels × (L0, pgbench, L2) × 1,000 bookings, and the 80 % run.
    run "$engine-sweep-$i" "${db[@]}" --workloads e --read-requests 500 --days 30 \
      --sweep "$SWEEP" --sweep-requests 1000 --peak-duration 10
  done
  # The open model: 10 s of arrivals at a fixed rate for A, C, D and E.
  run "$engine-open-200" "${db[@]}" --workloads c,a,d,e --rate 200 --duration 10
  # Overload at the rush: arrivals at 1,500 a second, well above any peak here, against a server
  # that serves 64 requests at once. It must shed the rest at once with 503 `overloaded` and
  # Retry-After (never a timeout, never another 5xx), and keep the bookings it takes fast.
  run "$engine-overload" "${db[@]}" --workloads c --rate 1500 --duration 10 --server-max-in-flight 64
  # The full-size city: seeding time, and every workload on it.
  run "$engine-full-size" "${db[@]}" --residents 100000 --days 180 --workloads a,b,c,d,e
done

# SQLite writers: queued in the process (the default) against SQLite's busy handler alone.
if [ "$ONLY" != "pg" ]; then
  for i in $(seq 1 "$REPEAT"); do
    run "sqlite-queue-off-$i" --workloads c,b --sqlite-writer-queue off
    run "sqlite-queue-on-$i" --workloads c,b --sqlite-writer-queue on
  done
  # Not durable against power loss: for comparison only.
  YOYAKU_SQLITE_SYNCHRONOUS=normal run "sqlite-normal" --workloads c
fi

echo "results in $OUT/ (JSON and the printed tables)"
