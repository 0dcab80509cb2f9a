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
# Built for size (opt-level z, one code unit, whole-program LTO): the function waits on AWS, not
# on its CPU, and its peak memory is mostly the binary's pages it touches: 14.3 MB, against 15.6
# at opt-level s and 25.6 built for speed (docs/performance.md).
# Built without AWS-LC's CPU jitter entropy source (AWS_LC_SYS_NO_JITTER_ENTROPY, aws-lc-rs's
# "Entropy configuration"): gathering it takes 20-25 ms of CPU at the process's first TLS
# handshake, more than half of a cold start (docs/performance.md). AWS-LC then seeds from the
# kernel's getrandom (and the CPU's generator where there is one), the source otpbot's own keys
# come from (docs/security.md).
AWS_LC_SYS_NO_JITTER_ENTROPY=1 \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  PATH="$PWD/.venv/bin:$PATH" cargo lambda build --release --arm64 --output-format zip --no-default-features --bin otpbot
ls -l target/lambda/otpbot/bootstrap.zip
