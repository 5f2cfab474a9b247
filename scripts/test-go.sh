#!/usr/bin/env bash
# The Go binding (bindings/go): builds the static C library from this repository's sources
# (go generate: cargo build --profile bindings -p tether-ffi), then vets and tests the package.
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
go vet ./...
go test -count=1 ./...
# The benchmark (bench/go_run, its own module over this one) must keep building.
(cd ../../bench/go_run && gofmt -l . | grep . && exit 1; go vet .)
