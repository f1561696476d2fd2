"""`./lab replay --dut xl2tpd`: the LNS side of the incoming-call golden capture
pcaps/incoming-lcp-renegotiation.pcap replayed against xl2tpd 1.3.18 as the LAC, with kernel L2TP
and pppd 2.4.9 in a user-mode Linux guest (dlab.uml), so the control connection, the call and PPP
all come from third-party code. The tunnel (with the Challenge of RFC 2661 §5.1.1), the call and
PPP come up (pppd's IPCP), and every counted difference of the report is one docs/replay.md
("--dut xl2tpd") lists as a real difference between lac-emu, which recorded the capture, and
xl2tpd."""
from __future__ import annotations

import pytest

from dlab import replay
from dlab import replay_run as R
from dlab.dialout_lab import REPO

pytestmark = [pytest.mark.interop, pytest.mark.l2tp, pytest.mark.ppp]

PROXY = {"Initial Received LCP CONFREQ", "Last Sent LCP CONFREQ", "Last Received LCP CONFREQ", "Proxy Authen Type",
         "Proxy Authen Name", "Proxy Authen ID", "Proxy Authen Challenge", "Proxy Authen Response"}
# (message, AVP / option) that differ between the captured lac-emu and xl2tpd (docs/replay.md)
EXPLAINED = {("SCCRQ", "Bearer Capabilities"), ("SCCRQ", "Receive Window Size"), ("SCCRQ", "Firmware Revision"),
             ("ICRQ", "Calling Number"), ("ICRQ", "Called Number"), ("ICRQ", "Bearer Type"),
             ("ICCN", "(Tx) Connect Speed"), ("ICCN", "Rx Connect Speed"), ("ICCN", "Framing Type"),
             *{("ICCN", a) for a in PROXY}, ("PPP LCP Configure-Request", "ACCM")}
MISSING_OK = {"CDN", "PPP LCP Configure-Ack"}   # StopCCN instead of CDN; the Ack of our restarted request


@pytest.mark.req("REPLAY.dut-lac")
def test_incoming_golden_against_xl2tpd_and_pppd():
    from dlab import uml
    from dlab.dialout_lab import build_dir_or_skip
    build_dir_or_skip()
    why = uml.unavailable_reason()
    if why:
        pytest.skip(why)
    conv = replay.load(REPO / "pcaps" / "incoming-lcp-renegotiation.pcap", secret="lac-secret")
    rep = R.replay_in_lab(conv, secret="lac-secret", ppp_secret="alice-pass", dut="xl2tpd")
    pppd = rep.stats["xl2tpd"]["pppd"]
    assert "CHAP authentication succeeded" in pppd and "remote IP address" in pppd, pppd
    verdict = {(i.verdict, i.name) for i in rep.items}
    for name in ("SCCCN", "PPP CHAP Response", "PPP IPCP Configure-Ack"):
        assert ("matched", name) in verdict, rep.text()
    for name in ("SCCRQ", "ICRQ", "ICCN"):
        assert ("matched", name) in verdict or ("differed", name) in verdict, rep.text()
    counted = {(i.name, d.field) for i in rep.items if i.verdict == "differed" for d in i.differences if not d.ignored}
    assert counted <= EXPLAINED, (counted - EXPLAINED, rep.text())
    missing = {i.name for i in rep.items if i.verdict == "missing"}
    assert missing <= MISSING_OK, (missing, rep.text())
    assert "the DUT's" not in " ".join(rep.errors), rep.errors       # the Challenge Response checked out
