"""Records the golden captures of pcaps/ (pcaps/README.md): the incoming call of the project's own
scenario (test_incoming_modes: cpe-emu dials lac-emu, which tunnels the call to lnsd with proxy LCP
and proxy CHAP, RFC 2661 §4.4.5) in each LNS authentication mode, captured in the `lns` namespace
on every interface (LINUX_SLL) for L2TP and RADIUS. Not collected by `./lab test` (no test_ prefix
on the file); pcaps/record runs it."""
from __future__ import annotations

import pytest

from test_incoming_modes import ALICE, dial, env, hang_up, pytestmark, wait_network_up  # noqa: F401  (env: the fixture, pytestmark: its lab)

from dlab.dialout_lab import REPO
from dlab.replay_run import golden_capture

MODES = ["proxy", "lcp-renegotiation", "mandatory-chap"]


@pytest.mark.parametrize("mode", MODES)
def test_record_incoming_call(env, mode):  # noqa: F811
    d = env.use(mode)
    with golden_capture(env.lab, f"golden-{mode}", "lns", REPO / "pcaps" / f"incoming-{mode}.pcap"):
        dial(env, ALICE, d)
        wait_network_up(env, ALICE, d)
        hang_up(env, ALICE, d)
