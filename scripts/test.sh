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

echo "== tests"
cargo test --locked --all-targets
