"""The RFC 2661 conformance suite: one implementation under test (DUT, dlab.dut) against the scripted
peer (dlab.proto.ScriptedL2tp) playing the other role. Every test asserts on what the DUT put on the
wire, so the same test judges lnsd, lac-emu, xl2tpd, l2tpns or a user's stack.

Which DUTs: $DLAB_DUT (a profile name or a .yaml path; `./lab conformance --dut` sets it) with
$DLAB_DUT_ROLE (lac / lns; default the profile's first role); unset, the suite runs against lnsd (LNS)
and lac-emu (LAC). $DLAB_CONFORMANCE_REPORT=DIR writes the verdict matrix (dlab.verdicts) per DUT."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from dlab import dut as D  # noqa: E402
from dlab import verdicts  # noqa: E402
from dlab.dialout_lab import LabSpec, open_lab  # noqa: E402

DUT_ADDR, SECRET_PEER, OPEN_PEER = "198.51.100.1", "198.51.100.2", "198.51.100.3"


def selected() -> list[tuple[str, str]]:
    """(profile, role) pairs this run judges."""
    name = os.environ.get("DLAB_DUT")
    if not name:
        return [("lnsd", "lns"), ("lac-emu", "lac")]
    role = os.environ.get("DLAB_DUT_ROLE") or D.load(name).roles[0]
    return [(name, role)]


PAIRS = selected()
# The DUT's lab: this folder's topology.yaml, no dial-out daemon (the DUT profile starts the
# DUT); the tshark judge counts the DUT's packets only (the scripted peer sends malformed ones).
LAB = LabSpec(topology=HERE / "topology.yaml", daemons=False, judge_from={DUT_ADDR})


# Parametrised on the fixture itself (not per module) so that one DUT serves every module of the run.
@pytest.fixture(scope="session", params=PAIRS, ids=[f"{Path(n).stem}-{r}" for n, r in PAIRS])
def dut(request):
    """The started DUT: a dlab.dut.Dut with .ctx (dlab.dut.Context) and .lab, in its own lab."""
    name, role = request.param
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    try:
        from dlab import _native  # noqa: F401
    except ImportError as e:
        pytest.skip(f"dlab._native not built: {e}")
    d = D.load(name)
    if role not in d.roles:
        pytest.skip(f"n/a: {d.name} does not play {role}")
    why = d.unavailable()
    if why:
        pytest.skip(f"DUT unavailable: {why}")
    with open_lab(LAB) as lab:
        d.ctx = D.Context(lab=lab, host="dut", address=DUT_ADDR, secret_peer=SECRET_PEER, open_peer=OPEN_PEER,
                          role=role, run_dir=lab.run_dir)
        d.lab = lab
        d.start(d.ctx)
        try:
            yield d
        finally:
            d.stop()


def pytest_configure(config):
    config.pluginmanager.register(verdicts.Collector(), "dlab-verdicts")
