#!/usr/bin/env bash
# Fuzzing campaigns: each cargo-fuzz target in fuzz/ runs instrumented (nightly toolchain,
# libFuzzer, AddressSanitizer) from a copy of its committed corpus, and prints its executions
# and coverage. Not part of scripts/test.sh, whose ordinary `cargo test` replays every committed
# corpus file through the same checks on stable (tests/fuzz_corpus.rs). docs/fuzzing.md has the
# campaigns' figures and how the corpus is kept.
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 60) each
#   scripts/fuzz.sh render command  # some targets
#   FUZZ_RUNS=10000000 scripts/fuzz.sh render   # a fixed number of executions instead
#
# Installs cargo-fuzz when missing. The instrumented build of the whole dependency
# tree takes about 12 minutes on two cores; it is kept in OTPBOT_FUZZ_TARGET_DIR (default
# ~/.cache/otpbot/fuzz-target), outside the checkout, so later campaigns reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzzing needs the nightly toolchain: rustup toolchain install nightly" >&2
  exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
target_dir="${OTPBOT_FUZZ_TARGET_DIR:-$HOME/.cache/otpbot/fuzz-target}"
# Safe Rust needs no allocation stack traces or quarantine; without them runs are ~3x faster.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0:quarantine_size_mb=1:detect_leaks=0}"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi
if [ -n "${FUZZ_RUNS:-}" ]; then
  limit=(-runs="$FUZZ_RUNS")
else
  limit=(-max_total_time="${FUZZ_SECONDS:-60}")
fi

status=0
for target in "${targets[@]}"; do
  # Run on a copy so the committed corpus stays as it is.
  corpus="$(mktemp -d)"
  cp -r "fuzz/corpus/$target/." "$corpus/" 2>/dev/null || true
  log="$(mktemp)"
  start=$SECONDS
  if (cd fuzz && CARGO_TARGET_DIR="$target_dir" \
    cargo +nightly fuzz run -O "$target" "$corpus" -- "${limit[@]}" -print_final_stats=1) \
    >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    edges=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*' || true)
    echo "$target: ${runs:-?} executions in $((SECONDS - start)) s, ${edges:-?} edges, no crash"
  else
    tail -n 40 "$log"
    echo "fuzz target $target failed; the input is under fuzz/artifacts/$target/" >&2
    status=1
  fi
  rm -rf "$corpus" "$log"
done
exit "$status"
