#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then checks format,
# lints and runs every test. Tests run as root (PID namespaces, cgroups).
set -euo pipefail
cd "$(dirname "$0")/.."

# Started in the background or under nohup, a shell has INT and QUIT (or HUP) ignored, children
# inherit that, and a shell cannot trap what it started with ignored; several tests send these
# signals. Run the suite with them at their default action (perl-base is on every Debian).
if [ -z "${TETHER_TEST_SIGNALS_DEFAULT:-}" ]; then
  export TETHER_TEST_SIGNALS_DEFAULT=1
  exec perl -e '$SIG{$_} = "DEFAULT" for qw(HUP INT QUIT); exec @ARGV or die "exec: $!"' \
    bash "scripts/test.sh" "$@"
fi

need=()
command -v unshare >/dev/null || need+=(util-linux)
command -v timeout >/dev/null || need+=(coreutils)
command -v pidwait >/dev/null || need+=(procps)
command -v python3 >/dev/null || need+=(python3)
command -v setsid >/dev/null || need+=(util-linux)
command -v openssl >/dev/null || need+=(openssl)   # self-signed HTTPS test of wait-for
command -v tini >/dev/null || need+=(tini)         # tether init's side-by-side tests
command -v script >/dev/null || need+=(bsdutils)   # the terminal cases of tether init
command -v strace >/dev/null || need+=(strace)     # descendants are walked without a /proc scan
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Every public item documented, no broken links (doc examples run in cargo test).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p tether -p tether-report
cargo test --workspace
bash scripts/test-c.sh
bash scripts/test-go.sh
bash scripts/test-python.sh
bash scripts/test-node.sh
