"""JunosE "L2TP Dial-Out" Tables 71, 72, 73, 74 and "Broadband Access Configuration Guide" Table 77 against the real daemons in network namespaces:
lnsd with the real FreeRADIUS home and LNS servers, lac-emu, isdn-emu and cpe-emu
(scenarios/topologies/default.yaml via dlab.dialout_lab), dial-out timers scaled down through
configuration and `l2tp dial-out timer` so the file runs in well under two minutes.

Every hop is asserted in order from lnsd's JSON-lines events (`dialout.chassis`, `dialout.vr`,
`dialout.target`, `dialout.session`, `lnsd.dataplane`, `lnsd.fault-injection`) and from
`lnsctl show l2tp dial-out ... --json`; waits are bounded (dlab.wait.wait_for), never sleeps.

How each state is reached from outside (docs/dialout.md "Driving each state"):
  chassis initializationFailed, VR initPending, target inhibited: `l2tp dial-out fault-injection`
  (a test aid of lnsd's control API, logged as `lnsd.fault-injection`);
  VR down: `ip link set dlo1 down` in `lns` (lnsd watches the TUN's IFF_UP);
  target down: `l2tp dial-out target add` while the VR's TUN is down (the kernel refuses the route);
  session states: FreeRADIUS users, isdn-emu number behaviours and cpe-emu sites (fixtures below).

Binaries: $DL_BUILD_DIR (default build/, then build-int/).
"""
from __future__ import annotations

import json
import subprocess

import pytest

from dlab import procs
from dlab.dialout_lab import KEY
from dlab.wait import wait_for

DOMAIN = "L2TP-dial-out.de.dt"
RD = "0.0.0.0:65000"
TARGET = "default/10.10.0.0/16"
NO_ANSWER = "default/10.10.0.0/16/10.10.3.1"     # home RADIUS: 5551009, isdn-emu: no-answer
MISMATCH = "default/10.10.0.0/16/10.10.4.1"      # CPE cpe-mismatch: Framed-Route 10.99.4.0/24
REJECTED = "default/10.10.0.0/16/10.10.2.1"      # no such user: Access-Reject
VR_B_KEY = "vr-b/10.10.0.0/16/10.10.1.1"

_S = 1_000_000_000  # ns per second


# ---- lab set-up ------------------------------------------------------------------------------

def _dialout_reply(number: str) -> list[str]:
    """The home server's Access-Accept (JunosE "L2TP Dial-Out" Table 75) for the lab's LAC and number `number`."""
    return ["Service-Type = Outbound-User", "Tunnel-Type:1 = L2TP", "Tunnel-Medium-Type:1 = IPv4",
            "Tunnel-Server-Endpoint:1 = \"198.51.100.2\"", "Tunnel-Password:1 = \"lac-secret\"",
            "Tunnel-Preference:1 = 1", f"ERX-Dial-Out-Number = \"{number}\"",
            "ERX-PPP-Username = \"lns-home\"", "ERX-PPP-Password = \"lns-home-pass\"",
            "ERX-PPP-Auth-Protocol = CHAP", "ERX-Bearer-Type = Digital"]


def _radius_users(raw: dict) -> None:
    """Home users: 10.10.3.1 and 10.10.3.2 -> 5551009 (never answers), 10.10.4.1 -> 5551004 (CPE cpe-mismatch);
    10.10.2.1 stays unknown (Access-Reject). LNS user cpe-mismatch: a Framed-Route that does not
    cover 10.10.4.1."""
    check = ["Service-Type == Outbound-User", "Auth-Type := Accept"]
    home = raw["radius"]["home"]["users"]
    home.append({"name": f"{RD}/10.10.3.1@{DOMAIN}", "check": check, "reply": _dialout_reply("5551009")})
    home.append({"name": f"{RD}/10.10.3.2@{DOMAIN}", "check": check, "reply": _dialout_reply("5551009")})
    home.append({"name": f"{RD}/10.10.4.1@{DOMAIN}", "check": check, "reply": _dialout_reply("5551004")})
    raw["radius"]["lns"]["users"].append({
        "name": "cpe-mismatch", "check": ["Cleartext-Password := \"cpe-pass\""],
        "reply": ["Service-Type = Framed-User", "Framed-Protocol = PPP", "Framed-IP-Address = 198.18.0.4",
                  "Framed-Route = \"10.99.4.0/24 198.18.0.4 1\""]})


def _configure(trigger: str, dormant: str):
    def fn(c: dict) -> None:
        c["isdn"]["numbers"].update({"5551009": {"behaviour": "no-answer"}, "5551004": {"behaviour": "answer"}})
        c["cpe"]["sites"].append({"number": "5551004", "name": "cpe-mismatch", "secret": "cpe-pass",
                                  "require_auth": "chap", "users": {"lns-home": "lns-home-pass"}})
        c["lnsd"]["dialout"]["timers"] = {"trigger": trigger, "dormant": dormant}
        c["lnsd"]["fault-injection"] = True  # the test aid is off unless configured
    return fn


# The plugin's module lab (dlab.pytest_plugin), captured (the tshark judge reads its per-test pcaps).
# The Table 73 session-cap and Table 77 tests restart its lnsd with their own config
# (lab.restart): they come last in the file, after every test of the module's own lnsd.
pytestmark = pytest.mark.lab_config(topology=_radius_users, configure=_configure("3s", "60s"))


@pytest.fixture(scope="module")
def fsm_lab(lab):
    """trigger 3 s (tests scale it further with `l2tp dial-out timer`), dormant 60 s."""
    return lab, lab.lnsd


def _pending(pending_to_authenticating: bool):
    """Table 77: lnsd with at most 1 connecting session chassis-wide and a second target 10.20.0.0/16."""
    def lnsd(c: dict) -> None:
        c["dialout"]["timers"] = {"trigger": "2s", "dormant": "60s"}
        c["dialout"].update({"max-connecting-sessions": 1, "pending-to-authenticating": pending_to_authenticating})
        c["dialout"]["targets"].append({"virtual-router": "default", "prefix": "10.20.0.0/16",
                                        "domain": DOMAIN, "profile": "isdn", "route-distinguisher": RD})
    return lnsd


@pytest.fixture(scope="module")
def pending_lab(lab):
    return lab, lab.restart("lnsd", _pending(False), name="pending")


@pytest.fixture(scope="module")
def pending_auth_lab(pending_lab):
    lab = pending_lab[0]
    return lab, lab.restart("lnsd", _pending(True), name="pending-auth")


# ---- helpers ---------------------------------------------------------------------------------

def trigger(lab, dst: str, host: str = "home") -> None:
    """One IPv4 packet (UDP, port 9) from `host` to `dst`: a dial-out trigger when routed to a TUN."""
    lab.exec(host, ["bash", "-c", f"echo trigger > /dev/udp/{dst}/9"], check=False)


def lnsctl(d, *words: str) -> subprocess.CompletedProcess:
    """lnsctl --json with its exit status (d.ctl raises on errors; this returns them)."""
    return d.lab.exec("lns", [str(d.bdir / "lns/lnsd/lnsctl"), "--socket", d.sock, "--json", *words],
                      check=False, timeout=10)


def inject(d, **args: str) -> dict:
    """`l2tp dial-out fault-injection` (lnsd test aid); returns its result."""
    return d.ctl("l2tp", "dial-out", "fault-injection", *[f"{k.replace('_', '-')}={v}" for k, v in args.items()])


def events(d, entity: str, ident: str) -> list[dict]:
    """The FSM's transitions of one entity: without rows that only count a trigger (a trigger in a
    state that keeps it, e.g. inhibited + trigger: discarded) and without not-permitted events."""
    return [e for e in d.event_list() if e["entity"] == entity and e["id"] == ident
            and e.get("permitted", True) and not (e["from"] == e["to"] and e["event"] == "trigger")]


def hops(evs: list[dict]) -> list[tuple[str, str, str]]:
    return [(e["from"], e["to"], e["event"]) for e in evs]


def timer_ns(e: dict) -> int | None:
    return e["timer"]["duration_ns"] if e.get("timer") else None


def session(d, key: str) -> dict | None:
    for s in d.ctl("show", "l2tp", "dial-out", "session"):
        if s["session"] == key:
            return s
    return None


def state_of(d, key: str) -> str | None:
    s = session(d, key)
    return s["state"] if s else None


def wait_state(d, key: str, state: str, within: float) -> None:
    wait_for(lambda: state_of(d, key) == state, within, f"{key} {state}")


def wait_hops(d, key: str, n: int, within: float) -> list[dict]:
    """The session's first `n` events once there are at least `n`."""
    return wait_for(lambda: (lambda ev: ev[:n] if len(ev) >= n else None)(events(d, "dialout.session", key)),
                    within, f"{n} dialout.session events of {key}")


def set_timer(d, name: str, value: str) -> None:
    r = d.ctl("l2tp", "dial-out", "timer", f"name={name}", f"value={value}")
    assert r["timer"] == name, r


def target(d, vr: str, prefix: str) -> dict:
    rows = [t for t in d.ctl("show", "l2tp", "dial-out", "target", vr) if t["prefix"] == prefix]
    assert len(rows) == 1, rows
    return rows[0]


def vr_row(d, vr: str) -> dict:
    rows = [v for v in d.ctl("show", "l2tp", "dial-out", "virtual-router", vr) if v["virtual_router"] == vr]
    assert len(rows) == 1, rows
    return rows[0]


def ensure_in_service(lab, d) -> None:
    if state_of(d, KEY) != "inService":
        lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)
    wait_state(d, KEY, "inService", 30)


# ---- Table 71 / 72 / 73 in service at start ---------------------------------------------------

@pytest.mark.req("T71.inService", "T72.inService", "T73.inService")
def test_chassis_virtual_routers_and_targets_start_in_service(fsm_lab):
    lab, d = fsm_lab
    ch = d.ctl("show", "l2tp", "dial-out", "chassis")
    assert ch["state"] == "inService" and ch["reason"] == "", ch
    assert ch["timers"] == {"trigger": "3s", "dormant": "1m"}, ch["timers"]
    for vr in ("default", "vr-b"):
        assert vr_row(d, vr)["state"] == "inService"
        # Table 72: created initPending, operational once lnsd configured it (its TUN is up).
        assert hops(events(d, "dialout.vr", vr)) == [("initPending", "inService", "vr-operational")], \
            events(d, "dialout.vr", vr)
        assert target(d, vr, "10.10.0.0/16")["state"] == "inService"
    assert not events(d, "dialout.chassis", "chassis"), "the chassis never left inService"
    # The dial-out routes are in the kernel towards each VR's TUN.
    assert "10.10.0.0/16 dev dlo0" in lab.exec("lns", ["ip", "-4", "route", "show"]).stdout
    assert "10.10.0.0/16 dev dlo1" in lab.exec("lns", ["ip", "-4", "route", "show", "table", "100"]).stdout


# ---- Table 74: authenticating -> connecting -> inService ----------------------------------------

@pytest.mark.req("T74.authenticating", "T74.connecting", "T74.inService")
def test_session_authenticating_connecting_in_service(fsm_lab):
    lab, d = fsm_lab
    lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)
    wait_state(d, KEY, "inService", 30)
    ev = events(d, "dialout.session", KEY)
    h = hops(ev)
    assert h[0] == ("", "authenticating", "trigger"), h
    assert ("authenticating", "connecting", "aaa-grant") in h, h
    a, c, s = (h.index(("", "authenticating", "trigger")), h.index(("authenticating", "connecting", "aaa-grant")),
               h.index(("connecting", "inService", "route-verified")))
    assert a < c < s, h
    # authenticating is guarded by the trigger timer, connecting's timer is the trigger timer (3 s).
    assert ev[a]["timer"]["name"] == "trigger" and timer_ns(ev[a]) == 3 * _S, ev[a]
    assert ev[c]["timer"]["name"] == "trigger" and timer_ns(ev[c]) == 3 * _S, ev[c]
    assert timer_ns(ev[s]) is None, "inService has no timer"
    assert all(x[:2] == ("connecting", "connecting") for x in h[c + 1:s]), h  # only call-connected between
    one = d.ctl("show", "l2tp", "dial-out", "session", KEY)
    assert one["state"] == "inService" and one["timer"] is None, one
    assert one["access_route"] == ["10.10.1.0/24", "198.18.0.2/32"], one
    assert one["call"] == {"placed": True, "connected": True}, one
    wait_for(lambda: lab.ping("home", "10.10.1.1"), 15, "10.10.1.1 answers over the dial-out")


# ---- JunosE "L2TP Dial-Out" "Route Installation": access route narrower than the dial-out route -------------

@pytest.mark.req("ROUTE.narrower")
def test_narrower_access_route_leaves_other_destinations_triggering(fsm_lab):
    lab, d = fsm_lab
    ensure_in_service(lab, d)

    def to_session() -> int:
        return next(v["to-session"] for v in d.ctl("show", "dataplane") if v["virtual-router"] == "default")
    before = to_session()
    trigger(lab, "10.10.1.7")   # inside the access route 10.10.1.0/24: forwarded over the session
    wait_for(lambda: to_session() > before, 5, "10.10.1.7 forwarded over the inService session")
    trigger(lab, "10.10.5.1")   # inside 10.10.0.0/16 but not 10.10.1.0/24: a new session
    ev = wait_hops(d, "default/10.10.0.0/16/10.10.5.1", 1, 5)
    assert hops(ev)[0] == ("", "authenticating", "trigger"), ev
    assert session(d, "default/10.10.0.0/16/10.10.1.7") is None, "a covered destination starts no session"
    assert state_of(d, KEY) == "inService"


# ---- Table 73: target inhibited (resources) ---------------------------------------------------

@pytest.mark.req("T73.inhibited", "T73.inService", "T74.connecting")
def test_target_inhibited_discards_triggers_and_leaves_sessions_alone(fsm_lab):
    lab, d = fsm_lab
    ensure_in_service(lab, d)
    connecting = "default/10.10.0.0/16/10.10.3.2"   # its number never answers: connecting for 3 s
    trigger(lab, "10.10.3.2")
    wait_state(d, connecting, "connecting", 10)
    # Table 74 connecting: new triggers are discarded (counted; the state does not move).
    trigger(lab, "10.10.3.2")
    wait_for(lambda: [e for e in d.event_list() if e["entity"] == "dialout.session" and e["id"] == connecting
                      and (e["from"], e["to"], e["event"]) == ("connecting", "connecting", "trigger")
                      and e["cause"] == "10.10.3.2 discarded in connecting"], 3, "trigger discarded in connecting")
    assert target(d, "default", "10.10.0.0/16")["counters"]["discarded_by"].get("connecting", 0) >= 1
    r = inject(d, level="target", virtual_router="default", prefix="10.10.0.0/16", condition="resources-exhausted")
    assert r["state"] == "inhibited", r
    ev = events(d, "dialout.target", TARGET)
    assert hops(ev)[-1] == ("inService", "inhibited", "resources-exhausted"), ev
    fi = [e for e in d.event_list() if e["entity"] == "lnsd.fault-injection"]
    assert fi and fi[-1]["id"] == TARGET and fi[-1]["event"] == "resources-exhausted", fi
    discarded = target(d, "default", "10.10.0.0/16")["counters"]["discarded_by"].get("target-inhibited", 0)
    trigger(lab, "10.10.6.1")
    wait_for(lambda: target(d, "default", "10.10.0.0/16")["counters"]["discarded_by"].get("target-inhibited", 0)
             > discarded, 5, "trigger discarded as target-inhibited")
    assert session(d, "default/10.10.0.0/16/10.10.6.1") is None, "no session while the target is inhibited"
    # inService sessions are unaffected: still inService, and traffic still flows.
    assert state_of(d, KEY) == "inService"
    assert wait_for(lambda: lab.ping("home", "10.10.1.1"), 10, "10.10.1.1 answers while the target is inhibited")
    # The connecting session is unaffected too: it leaves connecting only on its own timer.
    ev = wait_hops(d, connecting, 3, 10)
    assert hops(ev) == [("", "authenticating", "trigger"), ("authenticating", "connecting", "aaa-grant"),
                        ("connecting", "inhibited", "timer-expiry")], ev
    assert 2.9 <= (ev[2]["time_ns"] - ev[1]["time_ns"]) / _S <= 4.5, "connecting lasted its 3 s trigger timer"
    assert target(d, "default", "10.10.0.0/16")["state"] == "inhibited"

    r = inject(d, level="target", virtual_router="default", prefix="10.10.0.0/16", condition="resources-available")
    assert r["state"] == "inService", r
    assert hops(events(d, "dialout.target", TARGET))[-1] == ("inhibited", "inService", "resources-available")
    trigger(lab, "10.10.6.1")
    ev = wait_hops(d, "default/10.10.0.0/16/10.10.6.1", 1, 5)
    assert hops(ev)[0] == ("", "authenticating", "trigger"), "recovered target takes triggers again"


# ---- Table 74: connecting-timer expiry -> inhibited --------------------------------------------

@pytest.mark.req("T74.connecting", "T74.inhibited")
def test_connecting_timer_expiry_inhibits_when_the_number_never_answers(fsm_lab):
    lab, d = fsm_lab
    set_timer(d, "trigger", "1s")
    try:
        trigger(lab, "10.10.3.1")
        ev = wait_hops(d, NO_ANSWER, 3, 15)
    finally:
        set_timer(d, "trigger", "3s")
    assert hops(ev) == [("", "authenticating", "trigger"), ("authenticating", "connecting", "aaa-grant"),
                        ("connecting", "inhibited", "timer-expiry")], ev
    assert timer_ns(ev[1]) == 1 * _S, ev[1]
    waited = (ev[2]["time_ns"] - ev[1]["time_ns"]) / _S
    assert 0.9 <= waited <= 2.5, f"connecting timer of 1 s expired after {waited:.2f} s"
    assert ev[2]["timer"]["name"] == "inhibited" and timer_ns(ev[2]) == 1 * _S, "first inhibition = trigger timer"
    s = d.ctl("show", "l2tp", "dial-out", "session", NO_ANSWER)
    assert s["call"]["placed"] is False, s
    # The exchange saw the call ring unanswered, then the caller (the LAC, on lnsd's CDN) release it.
    def isdn_calls():
        path = lab.run_dir / "isdn-events.jsonl"
        return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    setup = [e for e in isdn_calls() if e["entity"] == "isdn.call" and e["event"] == "SETUP"
             and e["cause"].endswith("-> 5551009 digital") and e["time_ns"] >= ev[1]["time_ns"]]
    assert len(setup) == 1 and setup[0]["to"] == "Call-Delivered", setup
    release = wait_for(lambda: [e for e in isdn_calls() if e["id"] == setup[0]["id"] and e["to"] == "Null"], 10,
                       "isdn call to 5551009 released")
    assert (release[0]["from"], release[0]["event"], release[0]["cause"]) == \
        ("Call-Delivered", "RELEASE", "caller normal call clearing (16)"), release
    assert release[0]["time_ns"] >= ev[2]["time_ns"], "released after the connecting timer expired"


# ---- Table 74: deny -> inhibited, backoff T 2T 4T 8T 8T, postInhibited halving, dormant, deletion

@pytest.mark.req("T74.authenticating", "T74.inhibited", "T74.postInhibited", "T77.dormant")
def test_inhibited_backoff_post_inhibited_halving_dormant_and_deletion(fsm_lab):
    """Two rejected destinations at once, trigger timer T = 1 s (lnsd's minimum), dormant 9 s.
    10.10.2.1 is triggered every 50 ms until its 5th inhibition: T, 2T, 4T, 8T, 8T (the cap).
    10.10.2.2 likewise until its 3rd (4 s), then left alone: postInhibited 4 -> 2 -> 1 -> 0 s,
    dormant for 9 s minus those 7 s, then deleted."""
    lab, d = fsm_lab
    backoff, halving = REJECTED, "default/10.10.0.0/16/10.10.2.2"
    set_timer(d, "trigger", "1s")
    set_timer(d, "dormant", "9s")
    # Triggers are discarded in inhibited, so each postInhibited is left by the next one at once.
    senders = {key: lab.start(f"trigger-{key.rsplit('/', 1)[1]}", "home",
                              ["bash", "-c", f"while :; do echo t > /dev/udp/{key.rsplit('/', 1)[1]}/9; "
                                             "sleep 0.05; done"])
               for key in (backoff, halving)}

    def inhibitions(key: str) -> list[dict]:
        return [e for e in events(d, "dialout.session", key) if e["to"] == "inhibited"]

    def progress():
        for key, n in ((halving, 3), (backoff, 5)):
            if key in senders and len(inhibitions(key)) >= n:
                procs.stop(senders.pop(key))
        return not senders
    try:
        wait_for(progress, 40, "5 inhibitions of 10.10.2.1 and 3 of 10.10.2.2")
    finally:
        for t in senders.values():
            procs.stop(t)
        set_timer(d, "trigger", "3s")

    ev = events(d, "dialout.session", backoff)
    inh = inhibitions(backoff)
    assert [timer_ns(e) / _S for e in inh] == [1.0, 2.0, 4.0, 8.0, 8.0], "inhibited timer T, 2T, 4T, 8T, 8T (cap 8T)"
    assert all((e["from"], e["event"], e["cause"]) == ("authenticating", "aaa-deny", "access-reject")
               for e in inh), hops(inh)
    # Triggers in inhibited are discarded (the sender kept sending through every inhibited period).
    raw = [e for e in d.event_list() if e["entity"] == "dialout.session" and e["id"] == backoff]
    assert [e for e in raw if (e["from"], e["to"], e["event"], e["cause"]) ==
            ("inhibited", "inhibited", "trigger", "10.10.2.1 discarded in inhibited")], "no discard in inhibited"
    assert target(d, "default", "10.10.0.0/16")["counters"]["discarded_by"].get("inhibited", 0) >= 10
    h = hops(ev)
    assert h[:2] == [("", "authenticating", "trigger"), ("authenticating", "inhibited", "aaa-deny")], h
    # Each re-entry: inhibited -> postInhibited (expiry) -> authenticating (trigger) -> inhibited.
    cycle = [("inhibited", "postInhibited", "timer-expiry"), ("postInhibited", "authenticating", "trigger"),
             ("authenticating", "inhibited", "aaa-deny")]
    assert h[2:14] == cycle * 4, h
    for i in range(4):  # each inhibited period lasted its timer
        lasted = (ev[2 + 3 * i]["time_ns"] - inh[i]["time_ns"]) / _S
        assert timer_ns(inh[i]) / _S <= lasted + 0.01 <= timer_ns(inh[i]) / _S + 1.0, (i, lasted)

    # 10.10.2.2: no more triggers after its 3rd inhibition (4 s): postInhibited halves 4 -> 2 -> 1 -> 0.
    third = events(d, "dialout.session", halving).index(inhibitions(halving)[2])
    assert [timer_ns(e) / _S for e in inhibitions(halving)] == [1.0, 2.0, 4.0], inhibitions(halving)
    tail = wait_hops(d, halving, third + 6, 25)[third + 1:]
    set_timer(d, "dormant", "60s")  # 10.10.2.2's dormant timer is armed: it keeps its value
    assert hops(tail[:4]) == [("inhibited", "postInhibited", "timer-expiry"),
                          ("postInhibited", "postInhibited", "timer-expiry"),
                          ("postInhibited", "postInhibited", "timer-expiry"),
                          ("postInhibited", "dormant", "timer-expiry")], tail
    assert [timer_ns(e) / _S for e in tail[:3]] == [4.0, 2.0, 1.0], tail
    in_post = (tail[3]["time_ns"] - tail[0]["time_ns"]) / _S
    assert 7.0 <= in_post <= 8.5, f"postInhibited lasted {in_post:.2f} s (4 + 2 + 1)"
    # Dormant timer = chassis dormant (9 s) minus the time spent in postInhibited.
    dormant_s = timer_ns(tail[3]) / _S
    assert tail[3]["timer"]["name"] == "dormant" and abs(dormant_s - (9.0 - in_post)) < 0.3, \
        f"dormant timer {dormant_s:.2f} s, expected 9 - {in_post:.2f}"
    # Dormant expiry deletes the session.
    last = tail[4]
    assert (last["from"], last["to"], last["event"]) == ("dormant", "dormant", "timer-expiry"), last
    assert dormant_s - 0.05 <= (last["time_ns"] - tail[3]["time_ns"]) / _S <= dormant_s + 1.0, (last, tail[3])
    wait_for(lambda: session(d, halving) is None, 5, "dormant session deleted")


# ---- Table 77: failed on a non-matching Framed-Route, session reset ---------------------------

@pytest.mark.req("T77.failed", "T77.dormant", "ROUTE.install")
def test_failed_on_framed_route_not_covering_the_trigger_and_reset(fsm_lab):
    lab, d = fsm_lab
    set_timer(d, "dormant", "60s")
    trigger(lab, "10.10.4.1")
    wait_state(d, MISMATCH, "failed", 30)
    h = hops(events(d, "dialout.session", MISMATCH))
    assert h[0] == ("", "authenticating", "trigger") and h[1] == ("authenticating", "connecting", "aaa-grant"), h
    assert h[-1] == ("connecting", "failed", "route-mismatch"), h
    s = d.ctl("show", "l2tp", "dial-out", "session", MISMATCH)
    assert s["access_route"] == ["10.99.4.0/24", "198.18.0.4/32"], s
    assert s["timer"] is None, "failed has no timer: only a reset leaves it"
    assert "10.10.4.1" in s["last_failure"], s
    # Triggers in failed are buffered (Table 77), the state does not move.
    buffered = s["counters"]["triggers_buffered"]
    trigger(lab, "10.10.4.1")
    wait_for(lambda: d.ctl("show", "l2tp", "dial-out", "session", MISMATCH)["counters"]["triggers_buffered"]
             > buffered, 5, "trigger buffered in failed")
    assert state_of(d, MISMATCH) == "failed"

    cp = lnsctl(d, "l2tp", "dial-out", "session", "reset", MISMATCH)
    assert cp.returncode == 0 and json.loads(cp.stdout) == {"reset": MISMATCH}, cp
    ev = events(d, "dialout.session", MISMATCH)
    assert hops(ev)[-1] == ("failed", "dormant", "reset"), ev
    assert ev[-1]["timer"]["name"] == "dormant" and timer_ns(ev[-1]) == 60 * _S, ev[-1]
    s = d.ctl("show", "l2tp", "dial-out", "session", MISMATCH)
    assert s["state"] == "dormant" and s["counters"]["buffer"] == 0 and s["access_route"] == [], s
    # A reset of a dormant session deletes it.
    cp = lnsctl(d, "l2tp", "dial-out", "session", "reset", MISMATCH)
    assert cp.returncode == 0, cp
    assert session(d, MISMATCH) is None
    cp = lnsctl(d, "l2tp", "dial-out", "session", "reset", MISMATCH)
    assert cp.returncode == 1 and "does not exist" in cp.stderr, cp


# ---- Table 72: virtual router initPending / down and recovery; Table 73 target down -----------

@pytest.mark.req("T72.initPending", "T72.inService")
def test_virtual_router_init_pending_discards_triggers_then_recovers(fsm_lab):
    lab, d = fsm_lab
    r = inject(d, level="virtual-router", virtual_router="vr-b", condition="not-operational")
    assert r["state"] == "initPending", r
    assert hops(events(d, "dialout.vr", "vr-b"))[-1] == ("inService", "initPending", "vr-not-operational")
    trigger(lab, "10.10.1.1", host="home-b")
    wait_for(lambda: vr_row(d, "vr-b")["counters"]["discarded_by"].get("vr-initPending", 0) >= 1, 5,
             "trigger discarded as vr-initPending")
    assert session(d, VR_B_KEY) is None, "no session while the VR is initPending"
    r = inject(d, level="virtual-router", virtual_router="vr-b", condition="operational")
    assert r["state"] == "inService", r
    assert hops(events(d, "dialout.vr", "vr-b"))[-1] == ("initPending", "inService", "vr-operational")


@pytest.mark.req("T72.down", "T72.inService", "T73.down", "T73.inService", "VR.separate")
def test_virtual_router_down_with_its_tun_and_target_down_without_its_route(fsm_lab):
    lab, d = fsm_lab
    lab.exec("lns", ["ip", "link", "set", "dlo1", "down"])
    try:
        wait_for(lambda: vr_row(d, "vr-b")["state"] == "down", 5, "vr-b down after dlo1 went down")
        link = [e for e in d.event_list() if e["entity"] == "lnsd.dataplane" and e["id"] == "vr-b"]
        assert (link[-1]["event"], link[-1]["cause"]) == ("link-down", "dlo1"), link
        assert hops(events(d, "dialout.vr", "vr-b"))[-1] == ("inService", "down", "interface-down")
        assert vr_row(d, "default")["state"] == "inService", "the other VR is unaffected"
        # Table 73 down: a dial-out route that cannot be created (the kernel refuses a route via a
        # downed device).
        cp = lnsctl(d, "l2tp", "dial-out", "target", "add", "virtual-router=vr-b", "prefix=10.30.0.0/16",
                    "domain=L2TP-dial-out.vr-b.example", "profile=isdn")
        assert cp.returncode == 0, cp
        assert target(d, "vr-b", "10.30.0.0/16")["state"] == "down"
        assert hops(events(d, "dialout.target", "vr-b/10.30.0.0/16")) == [("", "", "added"),
                                                                          ("inService", "down", "route-create-failed")]
        err = [e for e in d.event_list() if e["entity"] == "lnsd.route" and e["id"] == "vr-b/10.30.0.0/16"]
        assert err and err[-1]["event"] == "kernel-error", err
        down = events(d, "dialout.target", "vr-b/10.30.0.0/16")[-1]
        assert down["cause"] == err[-1]["cause"], ("the transition names the kernel's reason", down, err)
    finally:
        lab.exec("lns", ["ip", "link", "set", "dlo1", "up"])
    wait_for(lambda: vr_row(d, "vr-b")["state"] == "inService", 5, "vr-b inService after dlo1 came up")
    assert hops(events(d, "dialout.vr", "vr-b"))[-1] == ("down", "inService", "interface-up")
    assert hops(events(d, "dialout.target", "vr-b/10.30.0.0/16"))[-1] == ("down", "inService", "resources-available")
    routes = lab.exec("lns", ["ip", "-4", "route", "show", "table", "100"]).stdout
    assert "10.10.0.0/16 dev dlo1" in routes and "10.30.0.0/16 dev dlo1" in routes, routes
    # Recovered: vr-b dials out again.
    lab.exec("home-b", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)
    wait_state(d, VR_B_KEY, "inService", 30)
    d.ctl("l2tp", "dial-out", "target", "remove", "virtual-router=vr-b", "prefix=10.30.0.0/16")

    # Down and up once more with the session inService: the kernel drops the access route with the
    # link; lnsd installs it again on link-up.
    def table100() -> str:
        return lab.exec("lns", ["ip", "-4", "route", "show", "table", "100"]).stdout
    wait_for(lambda: "10.10.1.0/24 dev dlo1" in table100(), 5, "vr-b access route in table 100")
    lab.exec("lns", ["ip", "link", "set", "dlo1", "down"])
    try:
        wait_for(lambda: vr_row(d, "vr-b")["state"] == "down", 5, "vr-b down again")
        assert "10.10.1.0/24" not in table100(), "the kernel removed the access route with the link"
    finally:
        lab.exec("lns", ["ip", "link", "set", "dlo1", "up"])
    wait_for(lambda: vr_row(d, "vr-b")["state"] == "inService", 5, "vr-b inService again")
    routes = table100()
    assert "10.10.1.0/24 dev dlo1" in routes and "10.10.0.0/16 dev dlo1" in routes, routes
    assert "10.30.0.0/16" not in routes, "a removed target's route is not installed again"


# ---- Table 71: chassis initializationFailed ---------------------------------------------------

@pytest.mark.req("T71.initializationFailed", "T71.inService")
def test_chassis_initialization_failed_refuses_configuration_and_dials_nothing(fsm_lab):
    lab, d = fsm_lab
    cp = lnsctl(d, "l2tp", "dial-out", "fault-injection", "level=chassis", "condition=melted")
    assert cp.returncode == 1 and "condition 'melted' is not initialization-failed|resources-available" in cp.stderr, cp
    assert d.ctl("show", "l2tp", "dial-out", "chassis")["state"] == "inService", "a bad injection changes nothing"
    r = inject(d, level="chassis", condition="initialization-failed", reason="no-memory")
    assert r["state"] == "initializationFailed", r
    assert hops(events(d, "dialout.chassis", "chassis")) == [("inService", "initializationFailed", "init-failed")]
    try:
        for words in (["l2tp", "dial-out", "target", "add", "virtual-router=default", "prefix=10.40.0.0/16",
                       f"domain={DOMAIN}", "profile=isdn"],
                      ["l2tp", "dial-out", "target", "remove", "virtual-router=default", "prefix=10.10.0.0/16"],
                      ["l2tp", "dial-out", "timer", "name=trigger", "value=5s"],
                      ["l2tp", "dial-out", "profile", "name=isdn", "mru=1400"],
                      ["l2tp", "dial-out", "session", "reset", KEY]):
            cp = lnsctl(d, *words)
            assert cp.returncode == 1 and "refused: chassis is initializationFailed (no-memory)" in cp.stderr, \
                (words, cp.stdout, cp.stderr)
        ch = d.ctl("show", "l2tp", "dial-out", "chassis")
        assert ch["state"] == "initializationFailed" and ch["timers"]["trigger"] == "3s", ch
        before = ch["counters"]["discarded_by"].get("chassis-initializationFailed", 0)
        requests = ch["wiring"]["aaa-requests"]
        trigger(lab, "10.10.7.1")
        wait_for(lambda: d.ctl("show", "l2tp", "dial-out", "chassis")["counters"]["discarded_by"]
                 .get("chassis-initializationFailed", 0) > before, 5, "trigger discarded by the chassis")
        assert session(d, "default/10.10.0.0/16/10.10.7.1") is None
        assert d.ctl("show", "l2tp", "dial-out", "chassis")["wiring"]["aaa-requests"] == requests, "nothing dialled"
    finally:
        r = inject(d, level="chassis", condition="resources-available")
    assert r["state"] == "inService", r
    assert hops(events(d, "dialout.chassis", "chassis"))[-1] == ("initializationFailed", "inService",
                                                                 "resources-available")
    trigger(lab, "10.10.7.1")
    ev = wait_hops(d, "default/10.10.0.0/16/10.10.7.1", 1, 5)
    assert hops(ev)[0] == ("", "authenticating", "trigger"), ev


# ---- Table 73: the session cap (lnsd restarted with max-sessions-per-target 2) ----------------

@pytest.fixture(scope="module")
def cap_lab(lab):
    """lnsd with at most 2 dial-out sessions per target: the limit, not the test aid, drives Table 73."""
    return lab, lab.restart("lnsd", lambda c: c["dialout"].update({"max-sessions-per-target": 2}), name="cap")


@pytest.mark.req("T73.inhibited", "T73.inService")
def test_target_inhibited_by_its_session_cap_and_back_when_a_session_is_dormant(cap_lab):
    lab, d = cap_lab
    keys = [f"{TARGET}/10.10.7.{i}" for i in (1, 2)]
    for k in keys:  # no home user: Access-Reject, the sessions stay (inhibited) and count
        trigger(lab, k.rsplit("/", 1)[1])
        wait_for(lambda k=k: session(d, k) is not None, 10, f"session {k}")
    trigger(lab, "10.10.7.3")  # a third destination: over the cap
    wait_for(lambda: target(d, "default", "10.10.0.0/16")["state"] == "inhibited", 10, "target inhibited")
    for i in range(5):
        trigger(lab, f"10.10.8.{i}")
    wait_for(lambda: target(d, "default", "10.10.0.0/16")["counters"]["discarded_by"].get("target-inhibited", 0)
             >= 5, 10, "triggers discarded as target-inhibited")
    t = target(d, "default", "10.10.0.0/16")
    assert t["counters"]["discarded_by"].get("session-cap") == 1, t
    assert t["sessions"] == 2, t
    ev = [e for e in events(d, "dialout.target", TARGET) if e["event"] != "added"]
    assert hops(ev) == [("inService", "inhibited", "session-cap-reached")], "one transition, not one per trigger"
    # A session made dormant (reset): it can be evicted, so the target is back to inService at once
    # (not after the dormant timer); the next new destination deletes it and is served.
    cp = lnsctl(d, "l2tp", "dial-out", "session", "reset", keys[0])
    assert cp.returncode == 0, cp
    wait_for(lambda: target(d, "default", "10.10.0.0/16")["state"] == "inService", 10, "target back in service")
    assert hops(events(d, "dialout.target", TARGET))[-1] == ("inhibited", "inService", "sessions-below-cap")
    trigger(lab, "10.10.7.4")
    wait_for(lambda: session(d, f"{TARGET}/10.10.7.4") is not None, 10, "the recovered target takes triggers")
    assert session(d, keys[0]) is None, "the dormant session was evicted"
    t = target(d, "default", "10.10.0.0/16")
    assert t["counters"]["sessions_evicted"] == 1 and t["sessions"] == 2, t


# ---- Table 77: pending at the maximum of connecting sessions ----------------------------------

def _pending_scenario(lab, d) -> tuple[list[dict], list[dict]]:
    """10.10.3.1 (never answered) holds the only connecting slot for the 2 s trigger timer; a
    trigger for 10.20.1.1 (second target) meanwhile makes a pending session. Returns the events of
    both once the first left connecting and the second moved on."""
    pend = "default/10.20.0.0/16/10.20.1.1"
    trigger(lab, "10.10.3.1")
    wait_state(d, NO_ANSWER, "connecting", 10)
    trigger(lab, "10.20.1.1")
    ev = wait_hops(d, pend, 1, 5)
    assert hops(ev) == [("", "pending", "trigger")], ev
    assert timer_ns(ev[0]) is None, "pending has no timer"
    ch = d.ctl("show", "l2tp", "dial-out", "chassis")
    assert ch["connecting_sessions"] == 1 and ch["pending_sessions"] == 1, ch
    # Triggers in pending are discarded.
    trigger(lab, "10.20.1.1")
    wait_for(lambda: d.ctl("show", "l2tp", "dial-out", "session", pend)["counters"]["triggers_discarded"] >= 1, 5,
             "trigger discarded in pending")
    assert state_of(d, pend) == "pending"
    first = wait_hops(d, NO_ANSWER, 3, 10)
    second = wait_hops(d, pend, 2, 5)
    return first, second


@pytest.mark.req("T77.pending", "T77.dormant")
def test_pending_at_max_connecting_then_dormant(pending_lab):
    lab, d = pending_lab
    assert d.ctl("show", "l2tp", "dial-out", "chassis")["max_connecting_sessions"] == 1
    first, second = _pending_scenario(lab, d)
    assert hops(first)[2] == ("connecting", "inhibited", "timer-expiry"), first
    assert hops(second)[1] == ("pending", "dormant", "slot-available"), second
    assert second[1]["time_ns"] >= first[2]["time_ns"], "pending moved on only after the slot freed"
    assert second[1]["timer"]["name"] == "dormant" and timer_ns(second[1]) == 60 * _S, second[1]
    # From dormant a trigger re-authenticates (Table 74 dormant).
    trigger(lab, "10.20.1.1")
    ev = wait_hops(d, "default/10.20.0.0/16/10.20.1.1", 3, 5)
    assert hops(ev)[2] == ("dormant", "authenticating", "trigger"), ev


@pytest.mark.req("T77.pending", "T74.authenticating")
def test_pending_straight_to_authenticating_when_configured(pending_auth_lab):
    lab, d = pending_auth_lab
    assert d.ctl("show", "l2tp", "dial-out", "chassis")["pending_to_authenticating"] is True
    first, second = _pending_scenario(lab, d)
    assert hops(first)[2] == ("connecting", "inhibited", "timer-expiry"), first
    assert hops(second)[1] == ("pending", "authenticating", "slot-available"), second
    assert second[1]["timer"]["name"] == "trigger" and timer_ns(second[1]) == 2 * _S, second[1]
    s = d.ctl("show", "l2tp", "dial-out", "session", "default/10.20.0.0/16/10.20.1.1")
    assert s["counters"]["attempts"] == 1 and s["user_name"] == f"{RD}/10.20.1.1@{DOMAIN}", s
