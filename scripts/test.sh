#!/usr/bin/env bash
# Runs every check otpbot has, on a fresh machine as on a developer's: Terraform formatting and
# security scan, Rust formatting, lints, and the whole test suite. Installs what they need first.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== python tools (.venv)"
if [ ! -x .venv/bin/moto_server ] || ! cmp -s requirements-dev.txt .venv/.installed-requirements; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  cp requirements-dev.txt .venv/.installed-requirements
fi

echo "== Microsoft 365 Agents Playground (tests/playground, pinned by its lock file)"
if command -v npm >/dev/null; then
  (cd tests/playground && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
else
  echo "npm not found: the Teams playground test will be skipped"
fi

echo "== terraform fmt"
.venv/bin/terraform fmt -check -recursive terraform/

echo "== checkov (Terraform security scan)"
.venv/bin/checkov -d terraform --framework terraform --skip-download --compact --quiet

echo "== rustfmt"
cargo fmt --all -- --check

echo "== clippy"
cargo clippy --locked --all-targets -- -D warnings
# The Lambda package's build: no local store, no QR reader (scripts/package-lambda.sh).
cargo clippy --locked --no-default-features --bin otpbot -- -D warnings

echo "== tests"
cargo test --locked --all-targets

echo "== fuzz (short run of each target)"
# Each target runs for FUZZ_SECONDS (default 20) from the committed corpus; the long runs and
# their counts are in the README ("Fuzzing"). Needs the nightly toolchain; cargo-fuzz is
# installed when missing.
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "SKIPPED: no nightly toolchain (\`cargo +nightly\`); fuzz targets not run"
else
  if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
  fi
  # The instrumented build of the whole dependency tree takes about 20 minutes cold, so it is
  # kept outside the checkout, where later runs on the same machine reuse it.
  fuzz_target_dir="${OTPBOT_FUZZ_TARGET_DIR:-$HOME/.cache/otpbot/fuzz-target}"
  # Safe Rust needs no allocation stack traces or quarantine; without them runs are ~3x faster.
  asan="malloc_context_size=0:quarantine_size_mb=1:detect_leaks=0"
  for target in $(cd fuzz && cargo +nightly fuzz list); do
    # Run on a copy so the committed corpus stays as it is.
    corpus="$(mktemp -d)"
    cp -r "fuzz/corpus/$target/." "$corpus/" 2>/dev/null || true
    log="$(mktemp)"
    if (cd fuzz && CARGO_TARGET_DIR="$fuzz_target_dir" ASAN_OPTIONS="$asan" \
      cargo +nightly fuzz run -O "$target" "$corpus" -- \
      -max_total_time="${FUZZ_SECONDS:-20}" -print_final_stats=1) >"$log" 2>&1; then
      runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
      echo "$target: ${runs:-?} executions, no crash"
    else
      tail -n 40 "$log"
      echo "fuzz target $target failed"
      exit 1
    fi
    rm -rf "$corpus" "$log"
  done
fi
