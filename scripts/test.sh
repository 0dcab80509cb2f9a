#!/usr/bin/env bash
# Runs every check otpbot has, on a fresh machine as on a developer's, and says how long each
# stage took: no reference outside the repository, Terraform formatting and security scan, Rust
# formatting, lints, the fuzz crate's lock file, and the whole test suite (the documentation's
# commands and every committed fuzz corpus file included). Installs what they need first.
# Fuzzing campaigns (nightly, instrumented) are not part of it: see scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
stage_name=""
stage_start=$SECONDS
timings=()

# Starts a stage, closing the one before with its time.
stage() {
  finish_stage
  stage_name="$1"
  stage_start=$SECONDS
  echo "== $stage_name"
}

finish_stage() {
  if [ -n "$stage_name" ]; then
    local took=$((SECONDS - stage_start))
    timings+=("$(printf '%5d s  %s' "$took" "$stage_name")")
    echo "   ($stage_name: ${took} s)"
  fi
  stage_name=""
}

report() {
  local status=$?
  finish_stage
  echo
  echo "== stage times"
  printf '%s\n' "${timings[@]}"
  printf '%5d s  total' "$((SECONDS - started))"
  if [ "$status" -ne 0 ]; then printf ' (FAILED)'; fi
  echo
}
trap report EXIT

stage "no reference to paths outside the repository"
python3 scripts/check-paths.py

stage "python tools (.venv)"
# The pins in requirements-dev.txt (soupsieve, among others) need Python 3.11.5 or newer.
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11, 5))'; then
  echo "the test tools need Python 3.11.5 or newer; python3 here is $(python3 -V 2>&1 | cut -d' ' -f2)" >&2
  exit 1
fi
if [ ! -x .venv/bin/moto_server ] || ! cmp -s requirements-dev.txt .venv/.installed-requirements; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  cp requirements-dev.txt .venv/.installed-requirements
fi

stage "Microsoft 365 Agents Playground (tests/playground, pinned by its lock file)"
if command -v npm >/dev/null; then
  (cd tests/playground && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
else
  echo "npm not found: the Teams playground test will be skipped"
fi

stage "terraform fmt"
.venv/bin/terraform fmt -check -recursive terraform/

stage "checkov (Terraform security scan)"
.venv/bin/checkov -d terraform --framework terraform --skip-download --compact --quiet

stage "rustfmt"
cargo fmt --all -- --check
rustfmt --check --edition 2021 fuzz/fuzz_targets/*.rs

stage "clippy (the Lambda build; the default build is linted as the tests compile)"
if ! command -v clippy-driver >/dev/null; then
  echo "the tests compile with clippy-driver, which is not installed: rustup component add clippy" >&2
  exit 1
fi
# The Lambda package's build: no local store, no QR reader (scripts/package-lambda.sh).
cargo clippy --locked --no-default-features --bin otpbot -- -D warnings

stage "fuzz crate's lock file (fuzz/Cargo.lock)"
# Fails when fuzz/Cargo.lock would need a change; tests/fuzz_corpus.rs checks that it pins the
# versions Cargo.lock ships.
cargo metadata --locked --manifest-path fuzz/Cargo.toml --format-version 1 >/dev/null

stage "tests, linted by Clippy as they compile"
# Nothing a test runs may write into the real configuration directory (where otpbot keeps the
# local store's keys by default): tests point OTPBOT_KEY_DIR elsewhere, and this catches one
# that forgets.
XDG_CONFIG_HOME="$(mktemp -d)"
export XDG_CONFIG_HOME
# Every target of the default build (library, binary, tests, benchmarks) is compiled by
# clippy-driver with warnings denied (scripts/clippy-rustc), as `cargo clippy --all-targets
# -- -D warnings` would check them, without compiling every dependency a second time for it.
RUSTC_WORKSPACE_WRAPPER="$PWD/scripts/clippy-rustc" cargo test --locked --all-targets
if [ -n "$(ls -A "$XDG_CONFIG_HOME")" ]; then
  echo "a test wrote into the configuration directory:" >&2
  find "$XDG_CONFIG_HOME" >&2
  exit 1
fi
rm -rf "$XDG_CONFIG_HOME"
