#!/usr/bin/env bash
# Benchmarks (`make bench`): criterion hot paths, release binary sizes (x86_64; arm64 attempted),
# then in one run, side by side: the cold starts of every function and of the baselines (floor,
# naive SDK, Python peer), the memory runs (1,000 warm invocations) and the inputs of the cost
# table; then rewrites the generated section of docs/BENCHMARKS.md (raw outputs stay in
# target/bench-report/). Exits non-zero when the cold-start/memory bench failed (for example RSS
# grew), after writing what it measured.
#
# Gentle on a shared 2-core machine: every build runs under `nice -n 19` with one job, one at a
# time; the measurements themselves are not niced. Duration on 2 cores: nothing to rebuild
# ~3 minutes (criterion ~1.5 min, cold starts ~1 min). A change in shared/ relinks every
# function for x86_64 and arm64 with the release profile's fat LTO (~2-3 min per binary at
# -j 1, so 30+ minutes; BENCH_ARM64=0 halves it). A fresh machine compiles three release
# dependency trees (x86_64, arm64, host for criterion/coldstart): 40-60 minutes.
#
# The baselines (benches/baselines: floor, naive SDK) are built once into target/baselines/ and
# reused; the Python peer (awslambdaric + boto3, benches/baselines/python/requirements.txt) is
# installed into the git-ignored .venv once.
#
# Knobs: BENCH_JOBS (1), BENCH_RUNS (30 interleaved rounds), BENCH_MEMORY_INVOCATIONS (1000),
# BENCH_WARMUP_SECS (1), BENCH_MEASURE_SECS (3), BENCH_ARM64 (1; 0 skips the arm64 attempt).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/.venv/bin:$PATH"

JOBS=${BENCH_JOBS:-1}
RUNS=${BENCH_RUNS:-30}
MEMORY_INVOCATIONS=${BENCH_MEMORY_INVOCATIONS:-1000}
WARMUP=${BENCH_WARMUP_SECS:-1}
MEASURE=${BENCH_MEASURE_SECS:-3}
OUT=target/bench-report
NICE=(nice -n 19)

step() { printf '\n== %s (%ss elapsed)\n' "$*" "$SECONDS" >&2; }

[ -x .venv/bin/cargo-lambda ] && [ -x .venv/bin/python ] || make venv
.venv/bin/python -c 'import awslambdaric, boto3' 2>/dev/null ||
  .venv/bin/pip install --quiet --disable-pip-version-check -r benches/baselines/python/requirements.txt

rm -rf "$OUT"
mkdir -p "$OUT"

# Every function crate (functions/<name>/, binary <name>), however many there are.
packages=()
present=()
for dir in functions/*/; do
  f=$(basename "$dir")
  if [ -f "$dir/Cargo.toml" ]; then
    packages+=(-p "$f")
    present+=("$f")
  fi
done

step "release build, x86_64: cargo lambda build --release --x86-64 ${packages[*]}"
"${NICE[@]}" cargo lambda build --release --x86-64 -j "$JOBS" "${packages[@]}"

step "binary sizes"
: >"$OUT/sizes.tsv"
for f in "${present[@]}"; do
  bin="target/lambda/$f/bootstrap"
  if [ -f "$bin" ]; then
    kind=$(file -b "$bin" | grep -o 'not stripped\|stripped' | head -n1 || true)
    printf '%s\t%s\t%s\n' "$f" "$(stat -c %s "$bin")" "${kind:-?}" >>"$OUT/sizes.tsv"
  else
    printf '%s\t-\tno %s\n' "$f" "$bin" >>"$OUT/sizes.tsv"
  fi
done
cat "$OUT/sizes.tsv" >&2

step "release build, arm64 (attempt): cargo lambda build --release --arm64"
# Separate lambda dir so the x86_64 binaries measured below stay in place.
if [ "${BENCH_ARM64:-1}" = 0 ]; then
  echo "skipped (BENCH_ARM64=0)" >"$OUT/arm64.txt"
elif "${NICE[@]}" cargo lambda build --release --arm64 -j "$JOBS" --lambda-dir target/lambda-arm64 \
    "${packages[@]}" </dev/null >"$OUT/arm64.log" 2>&1; then
  echo "built (no cold start: arm64 binaries cannot run on this x86_64 machine)" >"$OUT/arm64.txt"
  for f in "${present[@]}"; do
    printf '%s\t%s\n' "$f" "$(stat -c %s "target/lambda-arm64/$f/bootstrap")" >>"$OUT/sizes-arm64.tsv"
  done
  cat "$OUT/sizes-arm64.tsv" >&2
else
  status=$?
  {
    echo "failed (exit $status); the x86_64 build above is what is measured. Exact output"
    grep -v '^\s*\(Compiling\|Checking\|Downloaded\|Downloading\|Blocking\)' "$OUT/arm64.log" | tail -n 25
  } >"$OUT/arm64.txt"
fi
cat "$OUT/arm64.txt" >&2

step "criterion hot paths (warm-up ${WARMUP}s, measurement ${MEASURE}s per benchmark)"
"${NICE[@]}" cargo bench -j "$JOBS" -p benches --bench hot_paths --no-run
# Other work on the machine skews timings: record the load right before measuring.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Not niced (already built): a niced benchmark measures whatever else runs on the machine.
CRITERION_HOME="$ROOT/$OUT/criterion" cargo bench -j "$JOBS" -p benches --bench hot_paths -- \
  --warm-up-time "$WARMUP" --measurement-time "$MEASURE"

step "baselines (cached in target/baselines): cargo lambda build --release floor naive"
CARGO_TARGET_DIR="$ROOT/target/baselines" "${NICE[@]}" cargo lambda build --release --x86-64 -j "$JOBS" \
  --manifest-path benches/baselines/Cargo.toml --lambda-dir target/baselines/lambda

step "cold starts side by side ($RUNS interleaved rounds), memory ($MEMORY_INVOCATIONS warm invocations), cost inputs"
"${NICE[@]}" cargo build --release -j "$JOBS" -p benches --bin coldstart --bin bench-report
"${NICE[@]}" cargo build -j "$JOBS" -p local-stack
# Not niced: scheduling delays would be measured as cold start. A failure is reported in
# docs/BENCHMARKS.md (with what was measured) and fails the run at the end.
coldstart_status=0
target/release/coldstart --lambda-dir target/lambda --baselines-dir target/baselines/lambda \
  --rounds "$RUNS" --memory-invocations "$MEMORY_INVOCATIONS" --out "$OUT/coldstart.json" \
  2> >(tee "$OUT/coldstart.log" >&2) || coldstart_status=$?
if [ "$coldstart_status" != 0 ]; then
  tail -n 20 "$OUT/coldstart.log" >"$OUT/coldstart.error"
fi

step "docs/BENCHMARKS.md"
# The command as run: the knobs that were set, in front of it.
knobs=""
for k in BENCH_JOBS BENCH_RUNS BENCH_MEMORY_INVOCATIONS BENCH_WARMUP_SECS BENCH_MEASURE_SECS BENCH_ARM64; do
  [ -n "${!k:-}" ] && knobs+="$k=${!k} "
done
cat >"$OUT/machine.txt" <<EOF
command=${knobs}make bench   # = ${knobs}bash infra/bench.sh
date=$(date -u '+%Y-%m-%d %H:%M:%S')
nproc=$(nproc)
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
rustc=$(rustc -V)
kernel=$(uname -sr)
criterion_args=--warm-up-time $WARMUP --measurement-time $MEASURE (100 samples)
load_before_measuring=criterion: $load_before; cold starts and memory: in their sections (1/5/15 min load averages; other work on the 2 cores skews timings)
elapsed=${SECONDS} s (builds included)
EOF
target/release/bench-report --dir "$OUT" --markdown docs/BENCHMARKS.md >/dev/null
step "done: docs/BENCHMARKS.md updated; raw outputs in $OUT/"
if [ "$coldstart_status" != 0 ]; then
  echo "bench: the cold-start/memory bench failed (exit $coldstart_status): see $OUT/coldstart.error" >&2
  exit 1
fi
