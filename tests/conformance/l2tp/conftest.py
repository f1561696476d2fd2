"""Fixtures of the lnsd namespace tests (helpers in lnsd_helpers.py)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from lnsd_helpers import BIN, BUILD, Lnsd  # noqa: E402


@pytest.fixture(scope="module")
def lnsd_lab(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if not (BIN / "lnsd").exists() or not (BIN / "lnsctl").exists():
        pytest.skip(f"lnsd / lnsctl not built in {BIN}")
    try:
        from dlab import _native  # noqa: F401
    except ImportError as e:
        pytest.skip(f"dlab._native not built in {BUILD / 'bindings'}: {e}")
    from dlab import lab as L
    from dlab import topology as T
    run_dir = tmp_path_factory.mktemp("lnsd")
    with L.Lab(T.load(Path(__file__).with_name("topology.yaml")), run_dir=run_dir) as lab:
        lab.tshark_judge_from = {"198.51.100.1"}   # lnsd; the scripted LAC sends malformed messages on purpose
        yield lab, Lnsd(lab, run_dir)
