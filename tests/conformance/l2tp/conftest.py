"""Fixtures of the lnsd namespace tests (helpers in lnsd_helpers.py)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from lnsd_helpers import BIN, BUILD, LNS_ADDR, Lnsd  # noqa: E402

from dlab.dialout_lab import LabSpec, open_lab  # noqa: E402


# The lab of this folder's suites: its topology.yaml, no dial-out daemon (Lnsd starts lnsd with
# the suites' config); the tshark judge counts lnsd's packets only (the scripted LAC sends
# malformed messages on purpose).
LAB = LabSpec(topology=Path(__file__).with_name("topology.yaml"), daemons=False, judge_from={LNS_ADDR})


@pytest.fixture(scope="module")
def lnsd_lab():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if not (BIN / "lnsd").exists() or not (BIN / "lnsctl").exists():
        pytest.skip(f"lnsd / lnsctl not built in {BIN}")
    try:
        from dlab import _native  # noqa: F401
    except ImportError as e:
        pytest.skip(f"dlab._native not built in {BUILD / 'bindings'}: {e}")
    with open_lab(LAB) as lab:
        yield lab, Lnsd(lab, lab.run_dir)
