#!/usr/bin/env bash
# The C ABI (crates/tether-ffi): the committed header is what cbindgen generates, and the C test
# program (every function, every error path) passes as built and under AddressSanitizer,
# LeakSanitizer and UBSan. Installs gcc and its sanitizer runtimes when missing. (Not valgrind:
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

cargo test -p tether-ffi
