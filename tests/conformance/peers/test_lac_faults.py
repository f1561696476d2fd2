"""The emulated peers take faults and hang-ups on command, and the real LNS copes.

The default dial-out lab (dlab.dialout_lab: lnsd with real FreeRADIUS, isdn-emu + lac-emu, cpe-emu)
with short L2TP timers on lnsd (retransmit 1 s, capped at 2 s, 4 retransmissions, Hello after 4 s
idle, which is also its tunnel set-up limit) and on lac-emu (retransmit 2 s, so a 1.5 s delay is
not overtaken by a retransmission). Each
test arms a fault on lac-emu's control API, pings 10.10.1.1 from `home` (the dial-out trigger) and
checks what lnsd saw (its counters, `show l2tp tunnel detail` channel statistics, its JSON-lines
events):

- drop: the control message lac-emu sends next is lost; only lac-emu's retransmission (RFC 2661
  §5.8) can deliver it, and the dial-out reaches inService;
- duplicate: lnsd counts the copy as a duplicate (recognised by its Ns, acknowledged, not
  redelivered) and the call completes;
- corrupt: the first AVP's Length is 5 (RFC 2661 §4.1 minimum 6): lnsd counts one malformed
  message, discards it without acknowledging, the retransmission completes the call;
- delay: the call takes at least the delay at lnsd (without it: milliseconds);
- no-hello: lac-emu ignores lnsd's Hellos; lnsd gives up after its retransmissions, the tunnel
  goes and the dial-out session leaves inService;
- hang-ups by lac-emu, isdn-emu and cpe-emu: the LNS gets the CDN, the session leaves inService.

Binaries: $DL_BUILD_DIR (lnsd and the peers). Runs as root (network namespaces)."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from dlab.dialout_lab import KEY, control
from dlab.wait import wait_for

REQ_FAULTS = "PEER.faults"


def _configure(cfgs: dict) -> None:
    # retransmit-cap stays at its RFC 2661 §5.8 floor (8 s): a dead peer takes 4 + 1+2+4+8+8 s.
    cfgs["lnsd"]["timers"] = {"hello": "4s", "retransmit": "1s"}
    cfgs["lnsd"]["max-retransmits"] = 4
    cfgs["lac"]["timers"] = {"retransmit": "2s"}
    for role in ("isdn2", "lac2", "cpe2"):  # vr-b's peers are not needed here
        cfgs[role] = None


pytestmark = pytest.mark.lab_config(configure=_configure)  # the plugin's module lab


@pytest.fixture(scope="module")
def flab(lab):
    return lab, lab.lnsd


def lac(lab, cmd: str, args: dict | None = None) -> dict:
    return control(lab.run_dir / "lac.ctl", cmd, args)


def session_state(d) -> str | None:
    s = [x for x in d.ctl("show", "l2tp", "dial-out", "session") if x["session"] == KEY]
    return s[0]["state"] if s else None


def lac_call(lab) -> str | None:
    calls = [c for c in lac(lab, "show state")["calls"] if c["state"] == "connected"]
    return calls[0]["id"] if calls else None


def hang_up_if_in_service(lab, d) -> None:
    """Leave no dial-out call up: lac-emu hangs up (CDN 3) and the session leaves inService."""
    if session_state(d) == "inService":
        call = wait_for(lambda: lac_call(lab), 10, "lac-emu's connected call")
        lac(lab, "hangup", {"call": call})
        wait_for(lambda: session_state(d) != "inService", 15, "dial-out session to leave inService")


def dial_out(lab, d) -> int:
    """Trigger the dial-out and wait for inService; returns the lnsd event index before the trigger."""
    mark = len(d.event_list())
    lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)
    wait_for(lambda: session_state(d) == "inService", 45, "dial-out session inService")
    return mark


def channel_totals(d) -> dict:
    """Sum of the channel statistics of lnsd's tunnels (`show l2tp tunnel detail`)."""
    tot: dict[str, int] = {}
    for t in d.ctl("show", "l2tp", "tunnel", "detail"):
        for k, v in (t.get("channel") or {}).items():
            tot[k] = tot.get(k, 0) + v
    return tot


def malformed(d) -> int:
    return d.ctl("show", "l2tp")["system"]["counters"]["malformed"]


def applied(lab, kind: str) -> list[dict]:
    f = lab.run_dir / "lac-events.jsonl"
    recs = [json.loads(x) for x in f.read_text().splitlines() if x.strip()] if f.exists() else []
    return [r for r in recs if r["entity"] == "lac.fault" and r["event"] == "applied" and r["cause"] == kind]


def ts(e: dict) -> dt.datetime:
    return dt.datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.req(REQ_FAULTS)
def test_dropped_message_is_retransmitted_and_the_dial_out_completes(flab):
    lab, d = flab
    hang_up_if_in_service(lab, d)
    before = lac(lab, "show state")["faults"]["dropped"]
    assert lac(lab, "fault", {"kind": "drop", "count": 1})["pending"] == 1
    dial_out(lab, d)
    st = lac(lab, "show state")
    assert st["faults"]["dropped"] == before + 1, st["faults"]
    assert st["faults_pending"] == 0, st
    hit = applied(lab, "drop")
    assert hit and hit[-1]["extra"]["message_type"] in (2, 8, 9), hit  # SCCRP, OCRP or OCCN
    hang_up_if_in_service(lab, d)


@pytest.mark.req(REQ_FAULTS)
def test_duplicated_message_is_acknowledged_and_ignored(flab):
    lab, d = flab
    hang_up_if_in_service(lab, d)
    dup0, bad0 = channel_totals(d).get("duplicates", 0), malformed(d)
    lac(lab, "fault", {"kind": "duplicate", "count": 1})
    dial_out(lab, d)
    assert lac(lab, "show state")["faults"]["duplicated"] >= 1
    dup = channel_totals(d).get("duplicates", 0)
    assert dup == dup0 + 1, f"lnsd should count exactly the one copy as a duplicate: {dup0} -> {dup}"
    assert malformed(d) == bad0, "a duplicate is not malformed"
    tunnels = d.ctl("show", "l2tp", "tunnel")
    assert len([t for t in tunnels if t.get("state") == "established"]) == 1, tunnels
    hang_up_if_in_service(lab, d)


@pytest.mark.req(REQ_FAULTS)
@pytest.mark.tshark_tolerates("lac-emu corrupts an AVP Length on purpose: tshark sees it malformed too")
def test_corrupted_message_is_counted_malformed_and_recovered(flab):
    lab, d = flab
    hang_up_if_in_service(lab, d)
    bad0 = malformed(d)
    rtx0 = channel_totals(d).get("received", 0)
    lac(lab, "fault", {"kind": "corrupt", "count": 1})
    dial_out(lab, d)
    assert lac(lab, "show state")["faults"]["corrupted"] >= 1
    assert malformed(d) == bad0 + 1, "lnsd must detect the corrupted AVP Length (RFC 2661 §4.1)"
    assert channel_totals(d).get("received", 0) > rtx0
    ev = d.event_list()
    assert any(e["entity"] == "l2tp.tunnel" and e["event"] == "malformed" and "Length 5" in e["cause"]
               for e in ev), "lnsd's malformed event names the bad AVP Length"
    hang_up_if_in_service(lab, d)


@pytest.mark.req(REQ_FAULTS)
def test_delayed_message_arrives_after_the_delay(flab):
    lab, d = flab
    hang_up_if_in_service(lab, d)
    lac(lab, "fault", {"kind": "delay", "count": 1, "delay": "1500ms"})
    mark = dial_out(lab, d)
    assert lac(lab, "show state")["faults"]["delayed"] >= 1
    ev = d.event_list()[mark:]
    est = [e for e in ev if e["entity"] == "l2tp.session" and e.get("to") == "established"]
    assert est, "no l2tp.session established event"
    sid = est[0]["id"]
    first = next(e for e in ev if e["entity"] == "l2tp.session" and e["id"] == sid)
    took = (ts(est[0]) - ts(first)).total_seconds()
    print(f"lnsd: call placed -> established with a 1.5 s delay on lac-emu's next control message: {took * 1000:.1f} ms")
    assert took >= 1.5, f"the call completed {took:.3f} s after it was placed: the 1.5 s delay was not applied"
    assert took < 2.0, f"{took:.3f} s: the delayed message, not lac-emu's retransmission (2 s), should complete it"
    hang_up_if_in_service(lab, d)


def cpe_released(lab, cause: str) -> bool:
    """cpe-emu's event log has a call released with `cause` (its ISDN RELEASE crosses lnsd's CDN)."""
    f = lab.run_dir / "cpe-events.jsonl"
    return f.exists() and any(e["entity"] == "cpe.call" and e["event"] == "released" and e["cause"] == cause
                              for e in (json.loads(x) for x in f.read_text().splitlines() if x.strip()))


@pytest.mark.req("PEER.hangup")
def test_lac_hangup_sends_cdn_and_release(flab):
    lab, d = flab
    if session_state(d) != "inService":
        dial_out(lab, d)
    mark = len(d.event_list())
    call = wait_for(lambda: lac_call(lab), 10, "lac-emu's connected call")
    r = lac(lab, "hangup", {"call": call, "result": 3, "cause": 31})
    assert r["released"] is True, r
    wait_for(lambda: session_state(d) != "inService", 15, "dial-out session to leave inService")
    ev = d.event_list()[mark:]
    assert any(e["entity"] == "l2tp.session" and e["event"] == "recv-CDN" and e["cause"] == "CDN result 3"
               for e in ev), [(e["entity"], e["event"], e["cause"]) for e in ev]
    wait_for(lambda: cpe_released(lab, "cause 31"), 10, "cpe-emu's call released with cause 31")
    with pytest.raises(Exception, match="no such call"):
        lac(lab, "hangup", {"call": call})


@pytest.mark.req("PEER.hangup")
def test_isdn_hangup_releases_the_call_and_the_lns_sees_the_cdn(flab):
    lab, d = flab
    if session_state(d) != "inService":
        dial_out(lab, d)
    mark = len(d.event_list())
    ictl = lab.run_dir / "isdn.ctl"
    active = [c for c in control(ictl, "show state")["calls"] if c["state"] == "Active"]
    assert len(active) == 1, active
    control(ictl, "hangup", {"call": active[0]["id"], "cause": 41})
    wait_for(lambda: session_state(d) != "inService", 15, "dial-out session to leave inService")
    ev = d.event_list()[mark:]
    # After CONNECT any release is loss of carrier (Result Code 1) at lac-emu (cdn_result_for).
    assert any(e["entity"] == "l2tp.session" and e["event"] == "recv-CDN" and e["cause"] == "CDN result 1"
               for e in ev), [(e["entity"], e["event"], e["cause"]) for e in ev]
    wait_for(lambda: cpe_released(lab, "cause 41"), 10, "cpe-emu's call released with cause 41")
    assert not [c for c in control(ictl, "show state")["calls"] if c["state"] == "Active"]


@pytest.mark.req("PEER.hangup")
def test_cpe_hangup_releases_the_call_and_the_lns_sees_the_cdn(flab):
    lab, d = flab
    if session_state(d) != "inService":
        dial_out(lab, d)
    mark = len(d.event_list())
    r = control(lab.run_dir / "cpe.ctl", "hangup", {"number": "5551001", "cause": 16})
    assert r == {"released": True, "cause": 16}, r
    wait_for(lambda: session_state(d) != "inService", 15, "dial-out session to leave inService")
    ev = d.event_list()[mark:]
    assert any(e["entity"] == "l2tp.session" and e["event"] == "recv-CDN" and e["cause"] == "CDN result 1"
               for e in ev), [(e["entity"], e["event"], e["cause"]) for e in ev]
    lac_ev = [json.loads(x) for x in (lab.run_dir / "lac-events.jsonl").read_text().splitlines() if x.strip()]
    assert any(e["entity"] == "lac.call" and e.get("to") == "released" and e["cause"] == "cause 16"
               for e in lac_ev), "lac-emu got the RELEASE with cause 16"
    with pytest.raises(Exception, match="no call"):
        control(lab.run_dir / "cpe.ctl", "hangup", {"number": "5551001"})


@pytest.mark.req(REQ_FAULTS)
def test_unanswered_hello_makes_lnsd_declare_the_tunnel_dead(flab):
    """Last: it takes the tunnel down."""
    lab, d = flab
    if session_state(d) != "inService":
        dial_out(lab, d)
    mark = len(d.event_list())
    lac(lab, "fault", {"kind": "no-hello"})
    t0 = time.monotonic()
    try:
        wait_for(lambda: session_state(d) != "inService", 60, "lnsd to give up on the silent LAC")
        print(f"lnsd: dial-out session left inService {time.monotonic() - t0:.1f} s after Hellos stopped "
              "being answered")
        ev = d.event_list()[mark:]
        gone = [e for e in ev if e["entity"] == "l2tp.tunnel" and "retransmissions exhausted" in e.get("cause", "")]
        assert gone, [(e["entity"], e["event"], e.get("to"), e["cause"]) for e in ev if e["entity"] == "l2tp.tunnel"]
        ignored = lac(lab, "show state")["faults"]["hello_ignored"]
        assert ignored >= 5, f"the Hello and its 4 retransmissions were ignored, got {ignored}"
    finally:
        lac(lab, "fault", {"kind": "no-hello", "on": False})
