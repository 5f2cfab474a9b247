"""The package: version, typing files, and stubs that match the native module."""

from __future__ import annotations

import ast
import pathlib
import re

import tether
import tether._tether as native

ROOT = pathlib.Path(__file__).resolve().parents[3]
PACKAGE = pathlib.Path(tether.__file__).parent


def test_version_is_the_crates():
    manifest = (ROOT / "Cargo.toml").read_text()
    version = re.search(r'^\[workspace\.package\][^\[]*?^version = "([^"]+)"', manifest, re.M | re.S)
    assert version and tether.__version__ == version.group(1)


def test_typing_files_are_installed():
    assert (PACKAGE / "py.typed").exists()
    assert (PACKAGE / "_tether.pyi").exists()


def stub_names():
    """Top-level names of the stub, and the public members of each class in it."""
    tree = ast.parse((PACKAGE / "_tether.pyi").read_text())
    top, classes = set(), {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            top.add(node.name)
            classes[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        elif isinstance(node, ast.FunctionDef):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            top.add(node.target.id)
    return top, classes


def test_stubs_match_the_native_module():
    top, classes = stub_names()
    public = {n for n in dir(native) if not n.startswith("_")} | {"__version__"}
    aliases = {"Duration", "Port", "Attr", "Status"}  # type aliases of the stub only
    assert top - aliases == public
    for name, members in classes.items():
        cls = getattr(native, name)
        real = {m for m in dir(cls) if not m.startswith("_")}
        assert {m for m in members if not m.startswith("_")} == real, name


def test_everything_exported_exists():
    for name in tether.__all__:
        assert hasattr(tether, name), name


def test_a_rust_panic_is_an_exception_not_an_abort():
    # Were the module built with the workspace's release profile (panic = "abort"), this
    # would end the interpreter; the `bindings` profile unwinds and PyO3 raises instead.
    try:
        native._panic("deliberate")
    except BaseException as e:  # PanicException derives from BaseException, by PyO3's design
        assert type(e).__name__ == "PanicException" and "deliberate" in str(e)
    else:
        raise AssertionError("no exception")
