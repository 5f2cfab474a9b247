#!/usr/bin/env bash
# The Go binding (bindings/go): builds the static C library from this repository's sources
# (go generate: cargo build --profile bindings -p tether-ffi) and the tether program the jobs
# need (TETHER_BIN), then vets and tests the package.
# Go is on the machine; cgo needs gcc, installed when missing. The package has no Go
# dependencies, so nothing is fetched.
set -euo pipefail
cd "$(dirname "$0")/../bindings/go"

command -v go >/dev/null || { echo "test-go.sh: go is not installed" >&2; exit 1; }
if ! command -v gcc >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc
fi

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "test-go.sh: not gofmt-formatted: $unformatted" >&2
  exit 1
fi
go generate ./...
# Jobs are supervised by the tether program (debug profile; built already when scripts/test.sh
# runs this).
cargo build -q -p tether-cli --manifest-path ../../Cargo.toml
TETHER_BIN="$(cd ../.. && pwd)/target/debug/tether"
export TETHER_BIN
go vet ./...
go test -count=1 ./...
# The jobs' state directories are the tests' own (t.TempDir: /tmp/TestJob…): none of their
# supervisors may be left.
if ps -eo args | grep -v grep | grep -q "__job-supervisor /tmp/TestJob"; then
  echo "test-go.sh: job supervisors were left running:" >&2
  ps -eo pid,args | grep "__job-supervisor /tmp/TestJob" | grep -v grep >&2
  exit 1
fi
# The benchmark (bench/go_run, its own module over this one) must keep building.
(cd ../../bench/go_run && gofmt -l . | grep . && exit 1; go vet .)
