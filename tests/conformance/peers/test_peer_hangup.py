"""lac-emu hangs up a tunnelled incoming call on command (RFC 2661 §7.4.1 call, then
CDN towards the LNS with the Result Code and Q.931 Cause AVP the operator names, §4.4.2 / §4.4.10,
and an ISDN RELEASE with the cause towards the client).

A cpe-emu site dials lac-emu's number; lac-emu authenticates it (CHAP) and tunnels it to a scripted
LNS (dl-lns-script --accept, the project's engine in the LNS role) that prints the ICCN, holds the
call and prints the CDN it then receives. Same lab as test_lac_outgoing.py (its fixture)."""
from __future__ import annotations

import json

import pytest

from dlab.control_api import request as control
from dlab.wait import wait_for

from .test_lac_outgoing import SECRET, peers_lab, pytestmark  # noqa: F401  (module-scoped lab fixture; its lab_config mark: the same lab)


def _lines(proc) -> list[dict]:
    return [json.loads(ln) for ln in proc.log_text().splitlines() if ln.startswith("{")]


@pytest.mark.req("PEER.hangup")
def test_lac_hangs_up_a_tunnelled_incoming_call(peers_lab):  # noqa: F811
    lab = peers_lab
    lns = lab.start("lns-hold", "lns", [str(lab.bdir / "peers/lac/dl-lns-script"), "--accept", "198.51.100.1",
                                        "--secret", SECRET, "--timeout", "30", "--hold", "30"],
                    ready="lns-script ready")
    control(lab.run_dir / "cpe.ctl", "dial", {"number": "5552000", "called": "1701"})
    got = wait_for(lambda: _lines(lns) or None, 20, "the scripted LNS to receive the ICCN")
    assert got[0]["result"] == "ICCN", got

    ctl = lab.run_dir / "lac.ctl"
    incoming = wait_for(lambda: [c for c in control(ctl, "show state")["incoming"] if c["call"]], 10,
                        "lac-emu to list the tunnelled incoming call")
    assert len(incoming) == 1 and incoming[0]["calling"] == "5552000", incoming
    r = control(ctl, "hangup", {"call": incoming[0]["call"], "result": 1, "cause": 31})
    assert r == {"released": True, "result": 1, "cause": 31}, r

    cdn = wait_for(lambda: len(_lines(lns)) > 1 and _lines(lns)[1], 10, "the scripted LNS to receive the CDN")
    assert (cdn["result"], cdn["code"], cdn["q931_cause"], cdn["q931_msg"]) == ("CDN", 1, 31, 0x4D), cdn

    def cpe_released():
        recs = [json.loads(x) for x in (lab.run_dir / "cpe-events.jsonl").read_text().splitlines() if x.strip()]
        return [r for r in recs if r["entity"] == "cpe.call" and r["id"] == "5552000" and r["event"] == "released"]
    rel = wait_for(cpe_released, 10, "cpe-emu to see the RELEASE")
    assert rel[-1]["cause"] == "cause 31", rel
    state = control(ctl, "show state")
    assert state["incoming"] == [] and state["counters"]["hangups"] >= 1, state
    with pytest.raises(Exception, match="no such call"):
        control(ctl, "hangup", {"call": incoming[0]["call"]})
