"""pytest set-up for the bindings' unit tests (no namespaces needed): dlab and the built module.

The module is looked for in $DLAB_BUILD_DIR/bindings (default build/): ./lab sets PYTHONPATH to
bindings/python:build/bindings; running pytest by hand works the same way."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
BUILD = Path(os.environ.get("DLAB_BUILD_DIR", REPO / "build"))
for p in (REPO / "bindings" / "python", BUILD / "bindings"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
import dlab  # noqa: E402  (tests/conftest.py may have imported it before the build dir was on sys.path)

if str(BUILD / "bindings" / "dlab") not in dlab.__path__:
    dlab.__path__.insert(0, str(BUILD / "bindings" / "dlab"))


@pytest.fixture(scope="session")
def native():
    from dlab import _native
    return _native


@pytest.fixture(scope="session")
def captures() -> Path:
    path = SHARED / "captures"
    if not path.is_dir():
        pytest.skip(f"{path} not present")
    return path
