#!/usr/bin/env bash
# The Python binding's suite, on a fresh machine: a venv under target/ with maturin and pytest
# (psutil is for bench/python.py only, not the tests), the abi3 wheel built from this checkout
# with the unwinding `bindings` profile, installed into the venv, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/venv-python
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -m venv "$venv"; then
    # Debian's python3 keeps venv in a package of its own.
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    "$python" -m venv "$venv"
  fi
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check 'maturin>=1.5,<2' 'pytest>=7'

# Jobs need the tether program (their supervisor, `tether __job-supervisor`): the debug build,
# which scripts/test.sh has built already by the time it runs this script.
cargo build -q -p tether-cli
export TETHER_BIN="$PWD/target/debug/tether"

rm -rf target/wheels-python
"$venv/bin/maturin" build -q -m bindings/python/Cargo.toml --out target/wheels-python
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps \
  target/wheels-python/tether-*.whl
# From the package's directory, so that pytest reads its settings there; the installed wheel is
# what is imported (the sources' directory is not on sys.path).
cd bindings/python
"../../$venv/bin/python" -m pytest -q tests
