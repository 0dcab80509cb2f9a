#!/usr/bin/env bash
# Builds the arm64 Lambda package: target/lambda/otpbot/bootstrap.zip (the binary as `bootstrap`,
# for the provided.al2023 runtime), the file the Terraform module deploys.
# Built without the default features `local` (the SQLite store) and `qr` (the QR reader): the
# function only ever runs on the AWS backend.
# Installs what it needs first: cargo-lambda (brings zig) into .venv, and the Rust target.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/cargo-lambda ] || ! cmp -s requirements-deploy.txt .venv/.installed-deploy; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-deploy.txt
  cp requirements-deploy.txt .venv/.installed-deploy
fi
rustup target add aarch64-unknown-linux-gnu
PATH="$PWD/.venv/bin:$PATH" cargo lambda build --release --arm64 --output-format zip --no-default-features --bin otpbot
ls -l target/lambda/otpbot/bootstrap.zip
