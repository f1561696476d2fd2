"""A scripted LNS (the project's L2TP engine in the LNS role, dl-lns-script) places an
outgoing call to lac-emu in its own namespace; lac-emu places it through isdn-emu, and each exchange
behaviour yields the RFC 2661 result: OCCN, or CDN with the matching Result Code and Q.931 cause.

Binaries come from $DL_BUILD_DIR (default: build/, then build-int/)."""
from __future__ import annotations

import json

import pytest

from dlab.control_api import request as control
from dlab.wait import wait_for

SECRET = "peers-secret"

# number -> (behaviour config, expected outcome)
NUMBERS = {
    "5551000": ({"behaviour": "answer"}, {"result": "OCCN", "tx_connect_speed": 64000, "framing_type": 1}),
    "5551001": ({"behaviour": "answer-after", "delay": "2s"}, {"result": "OCCN"}),
    "5551002": ({"behaviour": "busy"}, {"result": "CDN", "code": 8, "q931_cause": 17}),
    "5551003": ({"behaviour": "no-answer"}, {"result": "CDN", "code": 10, "q931_cause": 19}),
    "5551004": ({"behaviour": "reject"}, {"result": "CDN", "code": 4, "q931_cause": 21}),
    "5551005": ({"behaviour": "unallocated"}, {"result": "CDN", "code": 6, "q931_cause": 1}),
    "5551099": (None, {"result": "CDN", "code": 6, "q931_cause": 1}),  # nobody registered it
}


def _daemons(c: dict) -> None:
    """isdn-emu, lac-emu and cpe-emu, all in `lac`; no lnsd (the test runs dl-lns-script)."""
    for role in ("isdn2", "lac2", "cpe2", "lnsd"):
        c[role] = None
    c["isdn"].update({"timers": {"no-answer": "3s"}, "numbers": {n: b for n, (b, _) in NUMBERS.items() if b}})
    c["lac"].update({"secret": SECRET, "hide_avps": True, "incoming_auth": "chap", "domains": {"*": "198.51.100.1"}})
    c["cpe"]["sites"] = [{"number": "5552000", "name": "cpe-remote", "secret": "cpe-pass"},
                         {"number": "5552001", "fault": "busy"}]


# The plugin's module lab on this folder's topology.yaml (a scripted LNS and lac-emu's host).
pytestmark = pytest.mark.lab_config(topology="topology.yaml", configure=_daemons, hosts={"cpe": "lac"})


@pytest.fixture(scope="module")
def peers_lab(lab):
    return lab


def dial(lab, number: str, *extra: str) -> dict:
    cp = lab.exec("lns", [str(lab.bdir / "peers/lac/dl-lns-script"), "--lac", "198.51.100.2", "--called", number,
                          "--secret", SECRET, "--hide", "--timeout", "20", *extra], timeout=40, check=False)
    lines = [ln for ln in cp.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no outcome from dl-lns-script (exit {cp.returncode}): {cp.stdout}{cp.stderr}"
    return json.loads(lines[0])


@pytest.mark.parametrize("number", list(NUMBERS))
def test_exchange_behaviour_gives_rfc2661_result(peers_lab, number):
    got = dial(peers_lab, number)
    want = NUMBERS[number][1]
    assert {k: got.get(k) for k in want} == want, got
    if want["result"] == "CDN":
        assert got["q931_msg"] == 0x4D, "Q.931 Cause AVP names the RELEASE message"


def test_analog_bearer_gives_async_framing(peers_lab):
    got = dial(peers_lab, "5551000", "--bearer", "analog")
    assert got["result"] == "OCCN" and got["framing_type"] == 2, got


def test_behaviour_changed_at_run_time(peers_lab):
    ctl = peers_lab.run_dir / "isdn.ctl"
    control(ctl, "set number", {"number": "5551000", "behaviour": "busy"})
    try:
        assert dial(peers_lab, "5551000")["q931_cause"] == 17
    finally:
        control(ctl, "set number", {"number": "5551000", "behaviour": "answer"})
    control(ctl, "refuse next", {"cause": 34})
    got = dial(peers_lab, "5551000")
    assert (got["code"], got["q931_cause"]) == (4, 34), got


def test_lac_refuses_next_call_on_command(peers_lab):
    control(peers_lab.run_dir / "lac.ctl", "refuse next", {"result": 9, "cause": 41})
    got = dial(peers_lab, "5551000")
    assert (got["result"], got["code"], got["q931_cause"]) == ("CDN", 9, 41), got
    state = control(peers_lab.run_dir / "lac.ctl", "show state")
    assert state["counters"]["refused_injected"] == 1
    assert state["isdn_connected"] is True


def test_wrong_secret_gets_no_call(peers_lab):
    cp = peers_lab.exec("lns", [str(peers_lab.bdir / "peers/lac/dl-lns-script"), "--lac", "198.51.100.2",
                                "--called", "5551000", "--secret", "wrong", "--timeout", "15"],
                        timeout=30, check=False)
    got = json.loads([ln for ln in cp.stdout.splitlines() if ln.startswith("{")][0])
    assert got["result"] != "OCCN", got


def test_cpe_answers_and_starts_lcp(peers_lab):
    """A call to a cpe-emu site is answered (OCCN) and the CPE's PPP peer starts LCP on the B-channel."""
    got = dial(peers_lab, "5552000", "--hold", "2")
    assert got["result"] == "OCCN", got
    events = (peers_lab.run_dir / "cpe-events.jsonl").read_text().splitlines()
    recs = [json.loads(e) for e in events]
    assert any(r["entity"] == "cpe.call" and r["event"] == "setup" and r["id"] == "5552000" for r in recs)
    assert any(r["entity"] == "ppp.lcp" and r.get("to") == "Req-Sent" for r in recs), "CPE never sent LCP"


def test_cpe_faults(peers_lab):
    got = dial(peers_lab, "5552001")
    assert (got["code"], got["q931_cause"]) == (8, 17), got
    ctl = peers_lab.run_dir / "cpe.ctl"
    control(ctl, "set fault", {"number": "5552000", "fault": "reject"})
    try:
        got = dial(peers_lab, "5552000")
        assert (got["code"], got["q931_cause"]) == (4, 21), got
    finally:
        control(ctl, "set fault", {"number": "5552000", "fault": "none"})
    state = control(ctl, "show state")
    assert [s["number"] for s in state["sites"]] == ["5552000", "5552001"]
    assert state["isdn_connected"] is True


def test_cpe_dials_in_and_lac_tunnels_with_proxy_avps(peers_lab):
    """JunosE "Implementing L2TP" "Sequence of Events on the LAC": a CPE dials lac-emu's number; lac-emu runs LCP and
    CHAP with it, picks the LNS by domain and sends ICRQ/ICCN whose proxy LCP and proxy
    authentication AVPs carry what the CPE negotiated."""
    lns = peers_lab.start("lns-accept", "lns", [str(peers_lab.bdir / "peers/lac/dl-lns-script"), "--accept",
                                                "198.51.100.1", "--secret", SECRET, "--timeout", "20", "--hold", "1"],
                          ready="lns-script ready")
    control(peers_lab.run_dir / "cpe.ctl", "dial", {"number": "5552000", "called": "1701"})

    def iccn():
        return next((ln for ln in lns.log_text().splitlines() if ln.startswith("{")), None)
    got = json.loads(wait_for(iccn, 20, "the scripted LNS to receive the ICCN"))
    assert got["result"] == "ICCN", got
    assert (got["calling_number"], got["called_number"]) == ("5552000", "1701"), got
    assert got["proxy_authen_type"] == 2 and got["proxy_authen_name"] == "cpe-remote", got
    assert len(got["proxy_authen_response"]) == 32 and got["proxy_authen_challenge"], got
    for avp in ("initial_received_lcp_confreq", "last_received_lcp_confreq", "last_sent_lcp_confreq"):
        assert got[avp], f"{avp} missing: {got}"
    # The LAC asked for CHAP-MD5: Authentication-Protocol option 03 05 c2 23 05 in its CONFREQ.
    assert "0305c22305" in got["last_sent_lcp_confreq"], got
    # The CPE's request carries its Magic-Number option (type 5, length 6).
    assert "0506" in got["last_received_lcp_confreq"], got
