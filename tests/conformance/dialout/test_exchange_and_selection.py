"""RFC 2661 §4.4.2, §4.4.10 and JunosE "L2TP Dial-Out" Outgoing Call against the real daemons (lnsd, real FreeRADIUS, lac-emu, isdn-emu, cpe-emu): the outgoing
call failing in each way the exchange can fail, and tunnel selection with two LACs.

One lab for the module (the pytest plugin's `lab` with this module's topology and configure, as
test_table75.py; the weighted-mode test, last, restarts its lnsd in that mode): the home server (192.0.2.10) gets one user per case, `0.0.0.0:65000/10.10.<k>.1@
L2TP-dial-out.de.dt`, so a ping from `home` to 10.10.<k>.1 triggers case k with its own dial-out
session; ERX-Dial-Out-Number is 55510<k>.

 - Exchange failures (lac = 198.51.100.2, its isdn-emu): number 55510<k> is busy (Q.850 cause 17),
   does not answer (19, after the exchange's no-answer timer), is rejected (21), unallocated (1), or
   answers and drops after a few seconds (16). lac-emu answers the OCRQ, places the call, and on the
   RELEASE sends CDN with the RFC 2661 §4.4.2 Result Code of `cdn_result_for` (peers/lac/include/dl/
   lac/lac.hpp) and the Q.931 Cause Code AVP (§4.4.10); lnsd clears the call and the dial-out session
   goes `connecting -> inhibited on call-failed` with "result R q931 C" in its cause (JunosE "L2TP Dial-Out" Table
   74), or, for the drop after inService, `inService -> dormant on call-closed`, its access route
   withdrawn. The CDN's AVPs are read back from the `core` capture with tshark.
 - Tunnel selection (lac and lac2 = 198.51.100.3, each with its own exchange; every number of these
   cases exists on both exchanges and at both CPE daemons): the Access-Accept carries two tagged tunnel
   definitions (RFC 2868: Tunnel-Server-Endpoint:1/:2, Tunnel-Preference:1/:2, Tunnel-Password per
   tag). Fail-over: lac2 (preference 1) stopped -> SCCRQ retransmissions to it, then the call goes
   through lac (preference 2) and lac2 is dead; dead time: while dead it is not tried at all; after the
   dead time (scaled down to 12 s) it is tried, and used, again. Round-robin: equal
   preferences alternate across successive dial-outs, open tunnels or not. Weighted (lnsd restarted
   with `tunnel-selection: {mode: weighted}`): each dial-out goes to the LAC with the fewest sessions.
   "Lower preference value wins" is test_table75.py's.

Timers are scaled down (lnsd retransmit 200 ms, 2 retransmissions, dead time 12 s; the exchange's
no-answer timer 2 s). Assertions on state and events with bounded waits (dlab.wait.wait_for).
"""
from __future__ import annotations

import subprocess

import pytest

from dlab import procs
from dlab.dialout_lab import control, site_destination, site_key, site_number, wait_dialout_state
from dlab.wait import wait_for

DOMAIN = "L2TP-dial-out.de.dt"
RD = "0.0.0.0:65000"
LAC = "198.51.100.2"
LAC2 = "198.51.100.3"
LAC2_SECRET = "lac2-secret"
DEAD_TIME_S = 12


dest, key, number = site_destination, site_key, site_number


def tunnel(tag: int, endpoint: str, password: str, preference: int | None = None) -> list[str]:
    out = [f"Tunnel-Type:{tag} = L2TP", f"Tunnel-Medium-Type:{tag} = IPv4",
           f'Tunnel-Server-Endpoint:{tag} = "{endpoint}"', f'Tunnel-Password:{tag} = "{password}"']
    if preference is not None:
        out.append(f"Tunnel-Preference:{tag} = {preference}")
    return out


def accept(k: int, tunnels: list[str]) -> list[str]:
    """Reply items of the home server's Access-Accept for case k (FreeRADIUS `users` syntax)."""
    return ["Service-Type = Outbound-User", *tunnels, f'ERX-Dial-Out-Number = "{number(k)}"',
            f'ERX-PPP-Username = "lns-{k}"', f'ERX-PPP-Password = "lns-{k}-pass"', "ERX-PPP-Auth-Protocol = CHAP",
            "ERX-Bearer-Type = Digital"]


CHECK = ["Service-Type == Outbound-User", "Auth-Type := Accept"]
ONLY_LAC = tunnel(1, LAC, "lac-secret")

# ---- exchange failures: k -> (isdn-emu number behaviour, Q.850 cause, RFC 2661 §4.4.2 CDN Result Code)
BUSY, NO_ANSWER, REJECT, UNALLOCATED, DROP = 71, 72, 73, 74, 75
EXCHANGE_CASES = {
    BUSY: ({"behaviour": "busy"}, 17, 8),                 # user busy -> Result 8 (busy)
    NO_ANSWER: ({"behaviour": "no-answer"}, 19, 10),      # no answer -> Result 10 (no answer in time)
    REJECT: ({"behaviour": "reject"}, 21, 4),             # call rejected -> Result 4 (no facilities, temp.)
    UNALLOCATED: ({"behaviour": "unallocated"}, 1, 6),    # unallocated number -> Result 6 (invalid dest.)
}
DROP_AFTER_S = 4
DROP_CASE = ({"behaviour": "drop-after", "delay": f"{DROP_AFTER_S}s", "cause": 16}, 16, 1)  # -> 1 loss of carrier

# ---- tunnel selection
FAILOVER, WHILE_DEAD, AFTER_DEAD = 81, 82, 83       # lac2 preference 1, lac preference 2
ROUND_ROBIN = (91, 92, 93, 94)                      # lac and lac2, both preference 3


def failover_tunnels() -> list[str]:
    return tunnel(1, LAC2, LAC2_SECRET, 1) + tunnel(2, LAC, "lac-secret", 2)


def rr_tunnels() -> list[str]:
    return tunnel(1, LAC, "lac-secret", 3) + tunnel(2, LAC2, LAC2_SECRET, 3)


# the transitions of a dial-out that succeeds at once (JunosE "L2TP Dial-Out" Table 74)
UP = [("", "authenticating", "trigger"), ("authenticating", "connecting", "aaa-grant"),
      ("connecting", "connecting", "call-connected"), ("connecting", "inService", "route-verified")]

SELECTION_CASES = {FAILOVER: failover_tunnels(), WHILE_DEAD: failover_tunnels(), AFTER_DEAD: failover_tunnels(),
                   **{k: rr_tunnels() for k in ROUND_ROBIN}}
SITES = [DROP, *SELECTION_CASES]   # cases whose call is answered by a CPE site


def _topology(raw: dict) -> None:
    home, lns = raw["radius"]["home"]["users"], raw["radius"]["lns"]["users"]
    for k in EXCHANGE_CASES:
        home.append({"name": f"{RD}/{dest(k)}@{DOMAIN}", "check": CHECK, "reply": accept(k, ONLY_LAC)})
    home.append({"name": f"{RD}/{dest(DROP)}@{DOMAIN}", "check": CHECK, "reply": accept(DROP, ONLY_LAC)})
    for k, tunnels in SELECTION_CASES.items():
        home.append({"name": f"{RD}/{dest(k)}@{DOMAIN}", "check": CHECK, "reply": accept(k, tunnels)})
    for k in SITES:
        lns.append({"name": f"cpe-t{k}", "check": ['Cleartext-Password := "cpe-pass"'],
                    "reply": ["Service-Type = Framed-User", "Framed-Protocol = PPP",
                              f"Framed-IP-Address = 198.18.{k}.2",
                              f'Framed-Route = "10.10.{k}.0/24 198.18.{k}.2 1"']})


def _site(k: int) -> dict:
    return {"number": number(k), "name": f"cpe-t{k}", "secret": "cpe-pass", "require_auth": "chap",
            "users": {f"lns-{k}": f"lns-{k}-pass"}}


def _daemons(c: dict) -> None:
    c["lac"]["channels"] = c["lac2"]["channels"] = 16
    c["lac2"]["secret"] = LAC2_SECRET          # = Tunnel-Password of lac2's tags
    c["isdn"]["timers"] = {"no-answer": "2s"}
    for k, (behaviour, _, _) in EXCHANGE_CASES.items():
        c["isdn"]["numbers"][number(k)] = behaviour
    c["isdn"]["numbers"][number(DROP)] = DROP_CASE[0]
    c["cpe"]["sites"].append(_site(DROP))
    for k in SELECTION_CASES:                  # the same number on both exchanges, a site behind each
        c["isdn"]["numbers"][number(k)] = {"behaviour": "answer"}
        c["isdn2"]["numbers"][number(k)] = {"behaviour": "answer"}
        c["cpe"]["sites"].append(_site(k))
        c["cpe2"]["sites"].append(_site(k))
    lnsd = c["lnsd"]
    lnsd["max-retransmits"] = 2
    lnsd["timers"].update({"retransmit": "200ms"})  # 2 retries: 200 + 400 ms, below the 8 s cap
    lnsd["tunnel-selection"] = {"mode": "round-robin", "dead-time": f"{DEAD_TIME_S}s"}
    lnsd["dialout"]["timers"]["trigger"] = "15s"


# The plugin's module lab (dlab.pytest_plugin), captured: the tests read its pcaps with tshark.
pytestmark = pytest.mark.lab_config(topology=_topology, configure=_daemons)


@pytest.fixture(scope="module")
def xs_lab(lab):
    return lab, lab.lnsd, lab.bdir


# ---- helpers ----------------------------------------------------------------------------------

def trigger(lab, address: str) -> None:
    lab.exec("home", ["ping", "-c", "1", "-W", "1", address], check=False)


def session(d, k: int) -> dict:
    return d.ctl("show", "l2tp", "dial-out", "session", key(k))


def session_events(d, k: int) -> list[dict]:
    return [e for e in d.event_list() if e["entity"] == "dialout.session" and e["id"] == key(k)]


def transitions(d, k: int) -> list[tuple[str, str, str]]:
    return [(e["from"], e["to"], e["event"]) for e in session_events(d, k)]


def wait_state(d, k: int, states: set[str], within: float = 30) -> dict:
    """Site k's dial-out session in one of `states` (dlab.dialout_lab.wait_dialout_state); a timeout
    names the session's transitions."""
    return wait_dialout_state(d, key(k), states, within, context=lambda: f"transitions: {transitions(d, k)}")

def jsonl(path) -> list[dict]:
    import json
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def ocrqs(lab, which: str, called: str) -> list[dict]:
    """OCRQs lac-emu (`lac` or `lac2`) received for `called`: its call FSM's `lac.call OCRQ` events
    (cause "called <number> <bearer>")."""
    return [e for e in jsonl(lab.run_dir / f"{which}-events.jsonl")
            if e["entity"] == "lac.call" and e["event"] == "OCRQ" and e.get("cause", "").startswith(f"called {called} ")]


def lac_call_events(lab, called: str, which: str = "lac") -> list[tuple[str, str, str, str]]:
    """(entity, event, to, cause) of lac-emu's call to `called` and its L2TP session, in order."""
    ids = {e["id"] for e in ocrqs(lab, which, called)}
    return [(e["entity"], e["event"], e.get("to", ""), e.get("cause", ""))
            for e in jsonl(lab.run_dir / f"{which}-events.jsonl")
            if e["id"] in ids and e["entity"] in ("lac.call", "l2tp.session")]


def lac_of_call(lab, k: int, before: dict[tuple[str, int], int] | None = None) -> str:
    """Which LAC carried the call of case k (the one lac-emu that received its OCRQ), counting
    only the OCRQs after `before` ((lac, k) -> OCRQs then: ocrq_counts)."""
    at = {w: len(ocrqs(lab, w, number(k))) - (before or {}).get((w, k), 0) for w in ("lac", "lac2")}
    assert sum(at.values()) == 1, f"case {k}: exactly one OCRQ for {number(k)} over both LACs: {at}"
    return next(w for w, n in at.items() if n)


def tshark(lab, link: str, display_filter: str, fields: list[str]) -> list[list[str]]:
    """Rows of `fields` for the packets of link `link`'s capture matching `display_filter` (the
    capture is still being written: a truncated last packet is ignored)."""
    cp = subprocess.run(["tshark", "-n", "-r", str(lab.pcaps[link]), "-Y", display_filter, "-T", "fields",
                         "-E", "separator=\t", *sum((["-e", f] for f in fields), [])],
                        capture_output=True, text=True, timeout=60)
    return [ln.split("\t") for ln in cp.stdout.splitlines() if ln.strip()]


def cdns_from(lab, src: str) -> list[tuple[int, int]]:
    """(Result Code, Q.931 Cause Code) of every CDN (Message Type 14) sent by `src` on the core link."""
    rows = tshark(lab, "core", f"ip.src == {src} && !icmp && l2tp.avp.message_type == 14",
                  ["l2tp.result_code", "l2tp.avp.cause_code"])
    out = []
    for r in rows:
        if len(r) >= 2 and r[0] and r[1]:
            out.append((int(r[0].split(",")[0]), int(r[1].split(",")[0])))
    return out


def sccrqs_to(lab, dst: str) -> int:
    """SCCRQs sent to `dst` in the core capture (not the copies quoted by ICMP port unreachable)."""
    return len(tshark(lab, "core", f"ip.dst == {dst} && !icmp && l2tp.avp.message_type == 1", ["frame.number"]))


def ocrq_counts(lab, cases) -> dict[tuple[str, int], int]:
    """(lac, k) -> OCRQs each lac-emu has received so far for case k's number."""
    return {(w, k): len(ocrqs(lab, w, number(k))) for w in ("lac", "lac2") for k in cases}


def destination(d, address: str) -> dict:
    r = d.ctl("show", "l2tp", "destination", address, "detail")
    return r[0] if isinstance(r, list) else r


def tracked(lab, name: str):
    return next(t for t in reversed(lab.procs) if t.name == name)


# ---- 1. the outgoing call failing in each way the exchange can fail --------------------------------

EXCHANGE_REQ = {BUSY: "EXCH.busy", NO_ANSWER: "EXCH.no-answer", REJECT: "EXCH.reject", UNALLOCATED: "EXCH.unallocated"}


@pytest.mark.req("T74.inhibited", "T74.connecting")
@pytest.mark.parametrize("k", [pytest.param(k, marks=pytest.mark.req(EXCHANGE_REQ[k]),
                                            id=EXCHANGE_CASES[k][0]["behaviour"]) for k in sorted(EXCHANGE_CASES)])
def test_exchange_failure_inhibits_the_session(xs_lab, k):
    lab, d, _ = xs_lab
    _, cause, result = EXCHANGE_CASES[k]
    trigger(lab, dest(k))
    s = wait_state(d, k, {"inhibited", "inService", "dormant", "failed"}, within=30)
    tr = transitions(d, k)
    assert tr == [("", "authenticating", "trigger"), ("authenticating", "connecting", "aaa-grant"),
                  ("connecting", "inhibited", "call-failed")], f"lnsd transitions of case {k}, in order: {tr}"
    assert s["state"] == "inhibited", s
    why = session_events(d, k)[-1]["cause"]
    assert f"result {result} q931 {cause}" in why, \
        f"the CDN's Result Code {result} and Q.931 cause {cause} in the call-failed event: {why!r}"
    assert len(ocrqs(lab, "lac", number(k))) == 1, f"lac-emu received the OCRQ for {number(k)}"
    # lac-emu: OCRQ, dialling (SETUP), the exchange's RELEASE with the cause, then CDN with the Result Code
    def cdn_sent():
        ev = lac_call_events(lab, number(k))
        return ev if any(e[:2] == ("l2tp.session", "disconnect") for e in ev) else None
    ev = wait_for(cdn_sent, 10, f"lac-emu's CDN for {number(k)}")
    call = [(b, c) for a, b, c, _ in ev if a == "lac.call"]
    assert call[0] == ("OCRQ", "wait-ocrp") and ("timer-expiry", "dialing") in call and \
        call[-1] == ("RELEASE", "released"), f"lac-emu's call: OCRQ, dialling, RELEASE: {ev}"
    assert [c for a, b, _, c in ev if (a, b) == ("lac.call", "RELEASE")] == [f"cause {cause}"], ev
    assert [c for a, b, _, c in ev if (a, b) == ("l2tp.session", "disconnect")] == [f"CDN result {result}"], ev
    # the CDN on the wire (RFC 2661 §4.4.2 Result Code AVP, §4.4.10 Q.931 Cause Code AVP)
    wait_for(lambda: (result, cause) in cdns_from(lab, LAC), 10,
             f"CDN result {result} q931 {cause} from {LAC} in the core capture")


@pytest.mark.req("EXCH.drop", "T74.inService", "T77.dormant")
def test_drop_after_in_service_withdraws_the_route(xs_lab):
    lab, d, _ = xs_lab
    _, cause, result = DROP_CASE
    route = f"10.10.{DROP}.0/24"
    trigger(lab, dest(DROP))
    s = wait_state(d, DROP, {"inService", "inhibited"}, within=30)
    assert s["state"] == "inService", f"the call connects before the exchange drops it: {s}"
    assert route in routes(lab), f"access route {route} installed while inService: {routes(lab)}"
    wait_state(d, DROP, {"dormant", "inhibited", "failed"}, within=DROP_AFTER_S + 20)
    tr = transitions(d, DROP)
    assert tr[-2:] == [("connecting", "inService", "route-verified"), ("inService", "dormant", "call-closed")], \
        f"inService until the drop, then the call closes: {tr}"
    why = session_events(d, DROP)[-1]["cause"]
    assert why.startswith(f"CDN result {result} q931 {cause}"), \
        f"the call-closed event names the CDN's Result Code {result} (loss of carrier) and Q.931 cause {cause}: {why!r}"
    wait_for(lambda: (result, cause) in cdns_from(lab, LAC), 10,
             f"CDN result {result} (loss of carrier) q931 {cause} from {LAC} in the core capture")
    wait_for(lambda: route not in routes(lab), 10, f"access route {route} withdrawn from lns")


def routes(lab) -> str:
    return lab.exec("lns", ["ip", "route", "show", "table", "all"], check=False).stdout


# ---- 2. tunnel selection with two LACs -------------------------------------------------------------
# In file order: fail-over, dead time, tried again (lac2 must not have an open tunnel when it is
# stopped), then round-robin over the two open tunnels.

@pytest.mark.req("L2TP.tunnel-selection", "SEL.fail-over", "T75.tunnel-preference", "T74.inService")
def test_fail_over_to_the_second_lac_when_the_first_is_down(xs_lab):
    lab, d, _ = xs_lab
    procs.stop(tracked(lab, "lac-emu-2"))            # the preferred LAC (preference 1) is down
    assert not tracked(lab, "lac-emu-2").alive(), "lac-emu on lac2 stopped"
    before = sccrqs_to(lab, LAC2)
    trigger(lab, dest(FAILOVER))
    s = wait_state(d, FAILOVER, {"inService", "inhibited", "failed"}, within=30)
    assert s["state"] == "inService", f"the call went through the second LAC: {s}"
    assert transitions(d, FAILOVER) == UP, f"one call, no failure on the way: {transitions(d, FAILOVER)}"
    assert lac_of_call(lab, FAILOVER) == "lac", "tag 2 (lac, preference 2) carried the call"
    # lac2 was tried first: SCCRQ, then max-retransmits (2) retransmissions, then lac.
    n = wait_for(lambda: (sccrqs_to(lab, LAC2) - before) or None, 10, f"SCCRQs to {LAC2} in the capture")
    assert n == 3, f"SCCRQ to the preferred LAC {LAC2} sent once and retransmitted twice: {n}"
    ocrq_to_lac = tshark(lab, "core", f"ip.dst == {LAC} && !icmp && l2tp.avp.message_type == 7", ["frame.number"])
    sccrq_to_lac2 = tshark(lab, "core", f"ip.dst == {LAC2} && !icmp && l2tp.avp.message_type == 1",
                           ["frame.number", "frame.time_epoch"])
    assert int(ocrq_to_lac[-1][0]) > int(sccrq_to_lac2[-1][0]), \
        "the OCRQ to lac follows the last SCCRQ to lac2 (fail-over after the retransmissions)"
    gaps = [round(float(b[1]) - float(a[1]), 2) for a, b in zip(sccrq_to_lac2, sccrq_to_lac2[1:])]
    assert all(0.15 <= g <= 1.0 for g in gaps) and gaps == sorted(gaps), \
        f"retransmissions on the scaled-down timer (200 ms, doubling; RFC 2661 §5.8): {gaps}"
    unreachable = tshark(lab, "core", f"icmp.type == 3 && ip.src == {LAC2}", ["frame.number"])
    assert unreachable, "lac2 answered the SCCRQs with ICMP port unreachable: nothing listens on 1701"
    assert destination(d, LAC2)["dead"] is True, f"{LAC2} is dead for the dead time: {destination(d, LAC2)}"


@pytest.mark.req("L2TP.tunnel-selection", "SEL.dead-time", "T74.inService")
def test_dead_lac_is_not_retried_within_the_dead_time_then_is(xs_lab):
    lab, d, bdir = xs_lab
    assert destination(d, LAC2)["dead"] is True, "still within the dead time of the fail-over"
    before = sccrqs_to(lab, LAC2)
    trigger(lab, dest(WHILE_DEAD))
    s = wait_state(d, WHILE_DEAD, {"inService", "inhibited", "failed"}, within=30)
    assert s["state"] == "inService", s
    assert lac_of_call(lab, WHILE_DEAD) == "lac", "the dead preferred LAC is skipped"
    assert sccrqs_to(lab, LAC2) == before, f"no SCCRQ to the dead {LAC2} within the dead time"
    # lac2 back; once the dead time is over the preferred LAC is tried again and carries the call.
    lab.start("lac-emu-2", "lac2", [str(bdir / "peers/lac/lac-emu"), "--config", str(lab.run_dir / "lac2.yaml")],
              ready="lac-emu ready")
    wait_for(lambda: destination(d, LAC2)["dead"] is False, DEAD_TIME_S + 10, f"{LAC2}'s dead time to expire")
    trigger(lab, dest(AFTER_DEAD))
    s = wait_state(d, AFTER_DEAD, {"inService", "inhibited", "failed"}, within=30)
    assert s["state"] == "inService", s
    assert lac_of_call(lab, AFTER_DEAD) == "lac2", "after the dead time the preferred LAC is used again"
    assert sccrqs_to(lab, LAC2) > before, "a new SCCRQ to lac2"


@pytest.mark.req("L2TP.tunnel-selection", "SEL.round-robin", "T74.inService")
def test_equal_preferences_round_robin_across_dial_outs(xs_lab):
    lab, d, _ = xs_lab
    used = []
    for k in ROUND_ROBIN:
        trigger(lab, dest(k))
        s = wait_state(d, k, {"inService", "inhibited", "failed"}, within=30)
        assert s["state"] == "inService", s
        used.append(lac_of_call(lab, k))
    assert used[0] != used[1] and used[0::2] == [used[0]] * 2 and used[1::2] == [used[1]] * 2, \
        f"two LACs of equal Tunnel-Preference take successive dial-outs in turn: {used}"


# ---- weighted load-balancing (tunnel-selection mode: weighted; lnsd restarted) ---------------------

def _site_idle(lab, ctl: str, k: int) -> bool:
    sites = control(lab.run_dir / ctl, "show state")["sites"]
    return all(s.get("call") is None for s in sites if s["number"] == number(k))


@pytest.fixture(scope="module")
def weighted_lab(xs_lab):
    """The module's lnsd restarted with `tunnel-selection: {mode: weighted}` (last in the file:
    the round-robin tests' lnsd is gone): no tunnel, no session at start. Its calls of the
    round-robin cases end with the old lnsd's StopCCN; the fixture waits until both CPE daemons'
    sites of those cases are idle again. lac-emu on lac2 is running (as in a lab of its own),
    whatever the tunnel-selection tests before left. Returns (lab, lnsd, the lac-emus' OCRQ counts then)."""
    lab, _, bdir = xs_lab
    if not tracked(lab, "lac-emu-2").alive():   # the dead-time test failed before starting it again
        lab.start("lac-emu-2", "lac2", [str(bdir / "peers/lac/lac-emu"), "--config", str(lab.run_dir / "lac2.yaml")],
                  ready="lac-emu ready")
    d = lab.restart("lnsd", lambda c: c["tunnel-selection"].update(mode="weighted"), name="weighted")
    for k in ROUND_ROBIN:
        wait_for(lambda k=k: _site_idle(lab, "cpe.ctl", k) and _site_idle(lab, "cpe2.ctl", k), 20,
                 f"the CPE sites of {number(k)} idle after the round-robin lnsd stopped")
    return lab, d, ocrq_counts(lab, ROUND_ROBIN)


@pytest.mark.req("L2TP.tunnel-selection", "SEL.weighted", "T74.inService")
def test_weighted_mode_sends_each_dial_out_to_the_least_loaded_lac(weighted_lab):
    lab, d, before = weighted_lab
    used, load = [], []
    for k in ROUND_ROBIN[:3]:
        sessions = {x["address"]: x["sessions"] for x in d.ctl("show", "l2tp", "destination")}
        load.append({"lac": sessions.get(LAC, 0), "lac2": sessions.get(LAC2, 0)})
        trigger(lab, dest(k))
        s = wait_state(d, k, {"inService", "inhibited", "failed"}, within=30)
        assert s["state"] == "inService", s
        used.append(lac_of_call(lab, k, before))
    # 0/0 sessions: tag order (lac); 1/0: lac2; 1/1: the tie goes to the first open tunnel by tag (lac).
    assert used == ["lac", "lac2", "lac"], f"fewest sessions first (loads before each call {load}): {used}"
    assert load[1] == {"lac": 1, "lac2": 0} and load[2] == {"lac": 1, "lac2": 1}, \
        f"sessions per LAC before each call (show l2tp destination): {load}"
