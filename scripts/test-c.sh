#!/usr/bin/env bash
# The C ABI (crates/tether-ffi): the committed header is what cbindgen generates, and the C test
# program (every function, every error path) passes as built and under AddressSanitizer,
# LeakSanitizer and UBSan, jobs included (with the tether program built here as TETHER_BIN).
# Installs gcc and its sanitizer runtimes when missing. (Not valgrind:
# Debian 12's valgrind 3.19 does not know pidfd_open, which tether uses everywhere.)
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizers_work() {
  echo 'int main(void) { return 0; }' |
    gcc -fsanitize=address,undefined -x c - -o /dev/null 2>/dev/null
}
if ! command -v gcc >/dev/null || ! sanitizers_work; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libasan8 libubsan1
fi

# Jobs are supervised by the tether program (debug profile; built already when scripts/test.sh
# runs this).
cargo build -q -p tether-cli
export TETHER_BIN="$PWD/target/debug/tether"

cargo test -p tether-ffi

# The C program's jobs live in /tmp/tether-c-jobs-*: none of their supervisors may be left.
if ps -eo args | grep -v grep | grep -q "__job-supervisor /tmp/tether-c-jobs-"; then
  echo "test-c.sh: job supervisors were left running:" >&2
  ps -eo pid,args | grep "__job-supervisor /tmp/tether-c-jobs-" | grep -v grep >&2
  exit 1
fi
