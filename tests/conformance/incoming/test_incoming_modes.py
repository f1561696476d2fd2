"""Incoming calls (RFC 2661 §7.4.1, ICRQ/ICRP/ICCN) end to end in namespaces, in each LNS
authentication mode of JunosE "Implementing L2TP" and Huawei "L2TP Session Establishment", plus RADIUS Accounting Interim-Update.

The default lab (scenarios/topologies/default.yaml, real FreeRADIUS) with:
  - cpe-emu in `cpe`: site 5553001 `alice@corp.example` on isdn-emu `lac`, site 5553002
    `bob@corp.example` on isdn-emu `lac2`; each has a TUN (cpe0 / cpe1, created at IPCP up) carrying
    203.0.113.0/24, so `remote` (10.10.1.1, default route via cpe 10.10.1.254) answers `home`;
  - lac-emu `lac` (198.51.100.2, number 1701) authenticates dialling clients with CHAP, lac-emu
    `lac2` (198.51.100.3, number 1702) with PAP; both tunnel domain corp.example to lnsd
    (198.51.100.1) with proxy LCP and proxy authentication AVPs (RFC 2661 §4.4.5);
  - lnsd in `lns`, restarted per mode with `incoming: {mode: proxy|lcp-renegotiation|
    mandatory-chap, authentication: chap}`; its LNS RADIUS server is the real FreeRADIUS at
    192.0.2.11 (PAP and CHAP users returning Framed-IP-Address and Framed-Route 10.10.1.0/24),
    which also takes its accounting (port 1813, detail file) with a local Interim-Update period.

Every hop is asserted in order from lnsd's JSON-lines events, with bounded waits (dlab.wait.wait_for).
Binaries: $DL_BUILD_DIR (default build/, then build-int/).
"""
from __future__ import annotations

import copy
import re

import pytest

from dlab import match, procs
from dlab.dialout_lab import LNSD_CONFIG, control, Lnsd
from dlab.wait import wait_for

LNS = "198.51.100.1"
DOMAIN = "corp.example"
ALICE = {"site": "5553001", "user": f"alice@{DOMAIN}", "password": "alice-pass", "lac": "lac", "called": "1701",
         "cpe_ctl": "cpe.ctl", "tun": "cpe0", "framed_ip": "198.18.0.2"}
BOB = {"site": "5553002", "user": f"bob@{DOMAIN}", "password": "bob-pass", "lac": "lac2", "called": "1702",
       "cpe_ctl": "cpe2.ctl", "tun": "cpe1", "framed_ip": "198.18.0.3"}
INTERIM_S = 2  # lnsd's local accounting-interim-interval (overrides Acct-Interim-Interval, RFC 2869 §2.1)


def _radius_users(raw: dict) -> None:
    """LNS RADIUS (192.0.2.11) users for the dialling clients: Cleartext-Password serves PAP and CHAP."""
    for who in (ALICE, BOB):
        raw["radius"]["lns"]["users"].append({
            "name": who["user"],
            "check": [f"Cleartext-Password := \"{who['password']}\""],
            "reply": ["Service-Type = Framed-User", "Framed-Protocol = PPP",
                      f"Framed-IP-Address = {who['framed_ip']}",
                      f"Framed-Route = \"10.10.1.0/24 {who['framed_ip']} 1\"",
                      "Acct-Interim-Interval = 600", f"Class = \"{who['site']}\""]})


def lnsd_config(mode: str, base: dict, auth: str = "chap") -> dict:
    """lnsd for incoming calls only: one virtual router (TUN dlo0), no dial-out targets, the LAC
    `lac` authenticated with its tunnel secret, incoming calls in `mode` with `auth` configured
    (the VT's authentication, Huawei "L2TP Session Establishment")."""
    cfg = {k: v for k, v in base.items() if k not in ("dialout", "virtual-routers")}
    vr = dict(base["virtual-routers"][0])
    vr["radius"] = {"authentication": [{"address": "192.0.2.10", "secret": "home-secret"}],
                    "accounting": [{"address": "192.0.2.11", "secret": "lns-secret"}]}
    vr["accounting-interim-interval"] = f"{INTERIM_S}s"
    cfg["virtual-routers"] = [vr]
    # Both LACs listed (lnsd refuses unlisted ones) and trusted: proxy mode believes their Proxy LCP /
    # Proxy Authen AVPs (lnsd's default is not to).
    cfg["peers"] = [{"address": "198.51.100.2", "secret": "lac-secret", "trusted": True},
                    {"address": "198.51.100.3", "trusted": True}]
    cfg["shutdown-wait"] = "1s"
    cfg["incoming"] = {"virtual-router": "default", "profile": "isdn", "authentication": auth, "mode": mode}
    return cfg


class Env:
    """The module's lab (dlab.pytest_plugin `lab`) with the peers up; lnsd restarted per
    authentication mode (lab.restart: SIGTERM to the previous one, StopCCN, then a new process
    lnsd-<mode> with its own event log). The lab starts in proxy mode."""

    def __init__(self, lab):
        self.lab = lab
        self.mode = "proxy"

    @property
    def lnsd(self) -> Lnsd:
        return self.lab.lnsd

    @property
    def proc(self) -> procs.Tracked:
        return self.lab.lnsd.proc

    def use(self, mode: str, auth: str = "chap") -> Lnsd:
        """lnsd running in `mode` with `auth`."""
        name = mode if auth == "chap" else f"{mode}-{auth}"
        if self.mode != name or not self.proc.alive():
            self.lab.restart("lnsd", lnsd_config(mode, copy.deepcopy(LNSD_CONFIG), auth), name=name)
            self.mode = name
        return self.lnsd

    def cpe(self, who: dict, cmd: str, args: dict | None = None) -> dict:
        return control(self.lab.run_dir / who["cpe_ctl"], cmd, args)

    def site(self, who: dict) -> dict:
        return next(s for s in self.cpe(who, "show state")["sites"] if s["number"] == who["site"])

    def acct_detail(self) -> str:
        p = self.lab.run_dir / "radius" / "lns" / "run" / "acct-detail"
        return p.read_text() if p.exists() else ""

    def auth_detail(self) -> str:
        p = self.lab.run_dir / "radius" / "lns" / "run" / "auth-detail"
        return p.read_text() if p.exists() else ""


def incoming_lab(configure_peers):
    """The lab_config mark of an incoming-call module: the default topology with the LNS RADIUS
    users, the peers set by configure_peers(daemon_configs), lnsd in proxy mode (the first mode
    every suite uses); its tests use the module's Env (fixture `env`)."""
    def configure(c: dict) -> None:
        configure_peers(c)
        c["lnsd"] = lnsd_config("proxy", c["lnsd"])
    return pytest.mark.lab_config(topology=_radius_users, configure=configure)


def _peers(c: dict) -> None:
    c["lac"].update({"incoming": True, "incoming_auth": "chap", "domains": {DOMAIN: LNS}})
    c["lac2"].update({"incoming": True, "incoming_auth": "pap", "domains": {DOMAIN: LNS}})
    for role, who in (("cpe", ALICE), ("cpe2", BOB)):
        c[role]["sites"] = [{"number": who["site"], "name": who["user"], "secret": who["password"],
                             "tun": {"name": who["tun"], "routes": ["203.0.113.0/24"]}}]
    c["isdn"]["numbers"] = {}
    c["isdn2"]["numbers"] = {}


# The plugin's module lab, captured (the tshark judge reads its per-test pcaps).
pytestmark = incoming_lab(_peers)


@pytest.fixture(scope="module")
def env(lab):
    return Env(lab)


# ---------------------------------------------------------------------------------------------
# helpers

def events_since(d: Lnsd, start: int) -> list[dict]:
    return d.event_list()[start:]



def wait_cleared(d, start: int) -> list[dict]:
    """lnsd's events since `start`, once they include the incoming session going idle (CDN)."""
    return wait_for(lambda: (x := events_since(d, start)) and any(is_("l2tp.session", to="idle")(e) for e in x) and x,
                    30, "the incoming session cleared (CDN)")

def describe_event(e: dict) -> str:
    return f"{e.get('entity')} {e.get('id')} {e.get('from', '')}->{e.get('to', '')} {e.get('event', '')} {e.get('cause', '')}"


def describe(ev: list[dict]) -> list[str]:
    return [describe_event(e) for e in ev]


def assert_in_order(ev: list[dict], steps: list[tuple[str, callable]]) -> list[int]:
    """Each step's predicate matches an event at or after the previous step's (dlab.match); returns the
    indexes; AssertionError naming the missing step and listing the events after the last match."""
    return match.assert_in_order(ev, steps, show=describe_event)


def is_(entity: str, to: str | None = None, event: str | None = None, cause: str | None = None):
    def pred(e: dict) -> bool:
        return (e.get("entity") == entity and (to is None or e.get("to") == to)
                and (event is None or e.get("event") == event)
                and (cause is None or cause in str(e.get("cause", ""))))
    return pred


def dial(env: Env, who: dict, d: Lnsd) -> int:
    """The CPE site calls its LAC; returns the lnsd event index before the call."""
    assert env.site(who).get("call") is None, f"site {who['site']} still in a call: {env.site(who)}"
    start = len(d.event_list())
    env.cpe(who, "dial", {"number": who["site"], "called": who["called"]})
    return start


def incoming_ppp(d: Lnsd, user: str | None = None) -> list[dict]:
    return [p for p in d.ctl("show", "ppp", "detail") if p.get("direction") == "incoming"
            and (user is None or p.get("user") == user)]


def wait_network_up(env: Env, who: dict, d: Lnsd) -> dict:
    """lnsd's incoming PPP session of `who` in phase Network with IPCP Opened, and the CPE's TUN up."""
    p = wait_for(lambda: next((x for x in incoming_ppp(d, who["user"]) if x.get("ipcp") == "Opened"), None), 30,
                 f"lnsd incoming PPP session of {who['user']} with IPCP Opened")
    wait_for(lambda: (env.site(who).get("tun") or {}).get("up"), 15, f"{who['tun']} up at the CPE")
    return p


def hang_up(env: Env, who: dict, d: Lnsd) -> None:
    """The CPE hangs up; the LAC sends CDN; lnsd clears the session, its routes and the kernel route."""
    if env.site(who).get("call") is not None:
        env.cpe(who, "hangup", {"number": who["site"]})
    wait_for(lambda: env.site(who).get("call") is None, 15, f"site {who['site']} idle")
    wait_for(lambda: not incoming_ppp(d), 15, "no incoming PPP session at lnsd")
    wait_for(lambda: "10.10.1.0/24" not in env.lab.exec("lns", ["ip", "-4", "route", "show"]).stdout, 10,
             "Framed-Route removed from the lns namespace")


def assert_home_reaches_remote(env: Env, who: dict) -> None:
    """ICMP echo home (203.0.113.10) -> 10.10.1.1 behind the CPE: lnsd's dlo0, the L2TP session,
    lac-emu, isdn-emu, cpe-emu's site TUN, `remote`; and the reply back the same way."""
    routes = wait_for(lambda: (r := env.lab.exec("lns", ["ip", "-4", "route", "show"]).stdout)
                      and "10.10.1.0/24 dev dlo0" in r and r, 10, "Framed-Route 10.10.1.0/24 dev dlo0 in lns")
    assert f"{who['framed_ip']} dev dlo0" in routes, f"Framed-IP-Address host route missing: {routes}"
    wait_for(lambda: env.lab.ping("home", "10.10.1.1", count=2), 20, "ping 10.10.1.1 from home answered")
    tun = env.site(who)["tun"]
    assert tun["to_tun"] >= 1 and tun["from_tun"] >= 1, f"the echo did not cross the CPE's TUN: {tun}"


def assert_chap_by_the_lns(ev: list[dict], renegotiated: bool, iccn: bool = True) -> None:
    """The LNS's own CHAP exchange in order: (LCP Configure-Request sent,) Challenge sent when LCP
    opens (the authenticator starts inside the Opened transition, so its event comes first), LCP
    Opened, the Response to AAA, Access-Accept, Success, IPCP Opened."""
    steps = [("ICCN: session established", is_("l2tp.session", to="established"))] if iccn else []
    if renegotiated:
        steps.append(("LCP Configure-Request sent to the client", is_("ppp.lcp", to="Req-Sent", cause="lower layer up")))
    steps += [("CHAP Challenge sent", is_("ppp.auth", to="Wait-Response", event="Start-CHAP")),
              ("LCP Opened", is_("ppp.lcp", to="Opened")),
              ("CHAP Response to AAA", is_("ppp.auth", to="Verifying", event="Credentials-Received")),
              ("LNS RADIUS Access-Accept", is_("radius.request", to="accepted")),
              ("authenticated", is_("ppp.auth", to="Success")),
              ("IPCP Opened", is_("ppp.ipcp", to="Opened"))]
    assert_in_order(ev, steps)


def auth_requests_for(env: Env, user: str) -> list[str]:
    """FreeRADIUS auth-detail records (one per Access-Request) of `user`."""
    return [r for r in re.split(r"\n(?=\S)", env.auth_detail()) if f'User-Name = "{user}"' in r]


# ---------------------------------------------------------------------------------------------
# proxy (JunosE "Implementing L2TP" "Sequence of Events on the LNS"; Huawei "L2TP Session Establishment" "Proxy authentication")

@pytest.mark.req("LNS.proxy", "LNS.auth-modes", "L2TP.incoming", "ROUTE.install", "LAB.freeradius", "AAA.lns-attributes")
def test_proxy_lcp_and_proxy_chap_verified_by_lns_radius(env):
    """lac (CHAP with the client) -> ICRQ/ICCN with proxy LCP + proxy CHAP -> lnsd starts LCP
    Opened without renegotiation, verifies the LAC's CHAP exchange through the LNS RADIUS server,
    IPCP, Framed-Route in the kernel, ping home -> remote answered."""
    d = env.use("proxy")
    start = dial(env, ALICE, d)
    try:
        wait_network_up(env, ALICE, d)
        ev = events_since(d, start)
        assert_in_order(ev, [
            ("tunnel established", is_("l2tp.tunnel", to="established")),
            ("ICCN: session established", is_("l2tp.session", to="established")),
            ("proxy LCP accepted", is_("ppp.lcp", event="proxy-lcp-accepted")),
            ("proxy credentials to AAA", is_("ppp.auth", to="Verifying")),
            ("LNS RADIUS Access-Accept", is_("radius.request", to="accepted")),
            ("authenticated", is_("ppp.auth", to="Success")),
            ("IPCP Opened", is_("ppp.ipcp", to="Opened")),
        ])
        assert any(is_("lnsd.route", event="access-routes-installed")(e) for e in ev), describe(ev)
        # No LCP renegotiation: every LCP transition is the proxy LCP's forced Opened (RFC 2661
        # §4.4.5), none was caused by a Configure-Request / -Ack on the wire.
        lcp = [e for e in ev if e.get("entity") == "ppp.lcp" and e.get("to") and e.get("to") != "Starting"
               and e.get("event") not in ("Down", "Close")]
        assert lcp and all(e.get("cause") == "proxy LCP" for e in lcp), \
            "LCP renegotiated in proxy mode:\n" + "\n".join(describe(lcp))
        # The CPE saw one CHAP challenge only: the LAC's (the LNS reused it).
        cpe_ev = [e for e in (env.lab.run_dir / "cpe-events.jsonl").read_text().splitlines() if "Challenge-Received" in e]
        assert len(cpe_ev) == 1, f"CPE challenged {len(cpe_ev)} times: {cpe_ev}"
        reqs = auth_requests_for(env, ALICE["user"])
        assert len(reqs) == 1 and "CHAP-Password" in reqs[0], f"one CHAP Access-Request expected: {reqs}"
        p = incoming_ppp(d, ALICE["user"])[0]
        # What operators key their policies on (RFC 2809; RFC 2865 §5.30-5.31; RFC 2869 §5.11, §5.17;
        # RFC 2868 §3.9-3.10), as the real FreeRADIUS logged it: the ICRQ's Called / Calling Number,
        # the LAC's and our Host Name, the ICCN's connect speed, the port (tunnel/session).
        for want in (f'Called-Station-Id = "{ALICE["called"]}"', f'Calling-Station-Id = "{ALICE["site"]}"',
                     'Tunnel-Client-Auth-Id:1 = "lac"', 'Tunnel-Server-Auth-Id:1 = "lns"', "Connect-Info = ",
                     'NAS-Port-Id = "l2tp '):
            assert want in reqs[0], f"{want!r} missing from the PPP Access-Request:\n{reqs[0]}"
        assert p["peer-ip"] == ALICE["framed_ip"] and p["lcp"] == "Opened", p
        assert p["access-routes"] == ["10.10.1.0/24", f"{ALICE['framed_ip']}/32"], p
        assert_home_reaches_remote(env, ALICE)
    finally:
        hang_up(env, ALICE, d)


@pytest.mark.req("ACCT.interim", "ACCT.start-stop", "AAA.lns-attributes")
def test_accounting_start_interim_stop_reach_freeradius(env):
    """Accounting of an incoming session at the real FreeRADIUS (detail file): Start at IPCP up,
    Interim-Update every local 2 s (overriding the Access-Accept's 600, RFC 2869 §2.1) with
    cumulative counters, RFC 2867 tunnel attributes and the Access-Accept's Class, Stop with a
    terminate cause at hang-up."""
    d = env.use("proxy")
    dial(env, ALICE, d)
    try:
        wait_network_up(env, ALICE, d)
        wait_for(lambda: env.lab.ping("home", "10.10.1.1", count=2), 20, "ping 10.10.1.1 from home answered")

        def records(kind: str) -> list[str]:
            recs = [r for r in re.split(r"\n(?=\S)", env.acct_detail()) if f'User-Name = "{ALICE["user"]}"' in r]
            return [r for r in recs if f"Acct-Status-Type = {kind}" in r]
        wait_for(lambda: len(records("Interim-Update")) >= 2, 6 * INTERIM_S + 10, "two Interim-Updates at FreeRADIUS")
        starts = records("Start")
        assert starts, "no Accounting Start"
        interim = records("Interim-Update")[-1]
        for attr in ("Acct-Session-Time", "Acct-Input-Octets", "Acct-Output-Octets", "Acct-Input-Packets",
                     "Acct-Output-Packets", "Acct-Tunnel-Connection", "Tunnel-Type", "Tunnel-Server-Endpoint"):
            assert attr in interim, f"{attr} missing from the Interim-Update: {interim}"
        assert "Acct-Terminate-Cause" not in interim, interim
        assert 'Tunnel-Client-Endpoint:1 = "198.51.100.2"' in interim, f"the LAC as Tunnel-Client-Endpoint: {interim}"
        klass = ALICE["site"].encode().hex()
        assert f"Class = 0x{klass}" in interim or f'Class = "{ALICE["site"]}"' in interim, \
            f"the Access-Accept's Class not echoed (RFC 2865 §5.25): {interim}"
        out_octets = int(re.search(r"Acct-Output-Octets = (\d+)", interim).group(1))
        assert out_octets >= 2 * 84, f"the echo requests to the CPE are not counted: {interim}"
        session_id = re.search(r'Acct-Session-Id = "([^"]+)"', interim).group(1)
        assert f'Acct-Session-Id = "{session_id}"' in starts[-1], "Start and Interim-Update of one session"
    finally:
        hang_up(env, ALICE, d)
    stop = wait_for(lambda: next((r for r in re.split(r"\n(?=\S)", env.acct_detail())
                                  if f'Acct-Session-Id = "{session_id}"' in r and "Acct-Status-Type = Stop" in r), None),
                    10, "Accounting Stop at FreeRADIUS")
    assert "Acct-Terminate-Cause" in stop and "Acct-Output-Octets" in stop, stop
    assert int(re.search(r"Acct-Output-Octets = (\d+)", stop).group(1)) >= out_octets, "Stop counters are cumulative"


def _records(text: str, *needles: str) -> list[str]:
    return [r for r in re.split(r"\n(?=\S)", text) if all(n in r for n in needles)]


def test_accounting_on_at_start_off_at_clean_stop_unique_session_ids(env):
    """RFC 2866 §5.1: lnsd sends Accounting-On (7) when it starts and Accounting-Off (8) when it
    stops cleanly (SIGTERM), each with its NAS-IP-Address and the process's accounting instance
    as Acct-Session-Id; a restarted lnsd has another instance and every session's Acct-Session-Id
    starts with it (RFC 2866 §5.5: unique, although call numbers start again at 1)."""
    d = env.use("proxy")
    first = d.ctl("show", "l2tp", "dial-out", "chassis")["acct-instance"]
    wait_for(lambda: _records(env.acct_detail(), "Acct-Status-Type = Accounting-On", f'Acct-Session-Id = "{first}"'),
             10, "Accounting-On of the running lnsd at FreeRADIUS")
    env.use("lcp-renegotiation")  # SIGTERM to the proxy-mode lnsd, then a new process
    off = wait_for(lambda: _records(env.acct_detail(), "Acct-Status-Type = Accounting-Off",
                                    f'Acct-Session-Id = "{first}"'), 10, "Accounting-Off of the stopped lnsd")
    assert "NAS-IP-Address = 192.0.2.1" in off[0], off[0]
    second = env.lnsd.ctl("show", "l2tp", "dial-out", "chassis")["acct-instance"]
    assert second != first, "the restarted lnsd reuses the accounting instance"
    wait_for(lambda: _records(env.acct_detail(), "Acct-Status-Type = Accounting-On", f'Acct-Session-Id = "{second}"'),
             10, "Accounting-On of the restarted lnsd")
    # Every session record so far belongs to one of the instances: "<instance>-<call number>".
    for r in _records(env.acct_detail(), "Acct-Status-Type = Start"):
        sid = re.search(r'Acct-Session-Id = "([^"]+)"', r).group(1)
        assert re.fullmatch(r"[0-9a-f]{16}-\d+", sid), sid


@pytest.mark.req("LNS.proxy", "LNS.auth-modes", "L2TP.incoming")
def test_proxy_wrong_password_access_reject_gives_cdn(env):
    """The LAC tunnels on the domain alone; lnsd's LNS RADIUS rejects the proxied CHAP response ->
    no session: CDN to the LAC, the CPE's call released, no route."""
    d = env.use("proxy")
    env.cpe(ALICE, "set fault", {"number": ALICE["site"], "fault": "wrong-password"})
    try:
        start = dial(env, ALICE, d)
        ev = wait_cleared(d, start)
        assert_in_order(ev, [
            ("ICCN: session established", is_("l2tp.session", to="established")),
            ("proxy credentials to AAA", is_("ppp.auth", to="Verifying")),
            ("LNS RADIUS Access-Reject", is_("radius.request", to="rejected")),
            ("authentication failed", is_("ppp.auth", to="Failure")),
            ("CDN", is_("l2tp.session", to="idle")),
        ])
        assert not any(is_("ppp.ipcp", to="Opened")(e) for e in ev), "IPCP opened after an Access-Reject"
        assert not any(is_("lnsd.route", event="access-routes-installed")(e) for e in ev), "access routes for a rejected user"
        wait_for(lambda: env.site(ALICE).get("call") is None, 15, "the CPE's call released after the CDN")
        lac = control(env.lab.run_dir / "lac.ctl", "show state")
        assert lac["counters"]["tunnelled"] >= 1, lac
        assert "10.10.1.0/24" not in env.lab.exec("lns", ["ip", "-4", "route", "show"]).stdout, "a route for a rejected user"
    finally:
        env.cpe(ALICE, "set fault", {"number": ALICE["site"], "fault": "none"})
        hang_up(env, ALICE, d)


@pytest.mark.req("LNS.proxy", "LNS.auth-modes", "L2TP.incoming")
def test_proxy_pap_while_chap_required_gets_no_session(env):
    """Huawei "L2TP Session Establishment": in proxy authentication the VT's mode may not be stronger than the LAC's: lac2
    authenticated bob with PAP, lnsd requires CHAP -> no session (CDN), no RADIUS request."""
    d = env.use("proxy")
    before = len(auth_requests_for(env, BOB["user"]))
    start = dial(env, BOB, d)
    try:
        ev = wait_cleared(d, start)
        assert_in_order(ev, [
            ("ICCN: session established", is_("l2tp.session", to="established")),
            ("CDN", is_("l2tp.session", to="idle")),
        ])
        assert not any(e.get("entity") == "radius.request" for e in ev), "proxy PAP must not reach AAA"
        assert not any(is_("ppp.ipcp", to="Opened")(e) for e in ev), "IPCP opened without a session"
        wait_for(lambda: env.site(BOB).get("call") is None, 15, "bob's call released after the CDN")
        assert len(auth_requests_for(env, BOB["user"])) == before, "FreeRADIUS saw a request for bob"
    finally:
        hang_up(env, BOB, d)


@pytest.mark.req("LNS.proxy", "LNS.auth-modes", "L2TP.incoming", "ROUTE.install")
def test_proxy_pap_verified_when_the_vt_is_not_stronger(env):
    """VT authentication pap-chap (not stronger than the LAC's PAP): lac2's proxy LCP (PAP) is
    accepted without renegotiation and bob's proxied PAP password goes to the LNS RADIUS server
    (User-Password); IPCP, Framed-Route, ping home -> remote answered."""
    d = env.use("proxy", "pap-chap")
    before = len(auth_requests_for(env, BOB["user"]))
    start = dial(env, BOB, d)
    try:
        wait_network_up(env, BOB, d)
        ev = events_since(d, start)
        assert_in_order(ev, [
            ("ICCN: session established", is_("l2tp.session", to="established")),
            ("proxy LCP accepted", is_("ppp.lcp", event="proxy-lcp-accepted")),
            ("proxy PAP to AAA", is_("ppp.auth", to="Verifying", event="Proxy-Credentials")),
            ("LNS RADIUS Access-Accept", is_("radius.request", to="accepted")),
            ("authenticated", is_("ppp.auth", to="Success")),
            ("IPCP Opened", is_("ppp.ipcp", to="Opened")),
        ])
        p = incoming_ppp(d, BOB["user"])[0]
        assert p["we-authenticate"] == "PAP", p
        reqs = auth_requests_for(env, BOB["user"])[before:]
        assert len(reqs) == 1 and "User-Password" in reqs[0], f"one PAP Access-Request expected: {reqs}"
        assert_home_reaches_remote(env, BOB)
    finally:
        hang_up(env, BOB, d)


# ---------------------------------------------------------------------------------------------
# LCP renegotiation (Huawei "L2TP Session Establishment": the proxy data is ignored; the VT's authentication is used)

@pytest.mark.req("LNS.renegotiate", "LNS.auth-modes", "L2TP.incoming", "ROUTE.install")
def test_lcp_renegotiation_authenticates_with_the_client(env):
    """lac2 authenticated bob with PAP; lnsd in lcp-renegotiation mode ignores the proxy AVPs,
    renegotiates LCP with the CPE asking CHAP, verifies the CHAP response through the LNS RADIUS
    server, IPCP opens, ping home -> remote answered."""
    d = env.use("lcp-renegotiation")
    start = dial(env, BOB, d)
    try:
        wait_network_up(env, BOB, d)
        ev = events_since(d, start)
        assert_chap_by_the_lns(ev, renegotiated=True)
        assert not any(is_("ppp.lcp", event="proxy-lcp-accepted")(e) for e in ev), "proxy LCP used"
        p = incoming_ppp(d, BOB["user"])[0]
        assert p["we-authenticate"] == "CHAP-MD5", p
        reqs = auth_requests_for(env, BOB["user"])
        assert reqs and "CHAP-Password" in reqs[-1], f"the LNS's request must be CHAP: {reqs[-1:]}"
        assert_home_reaches_remote(env, BOB)
    finally:
        hang_up(env, BOB, d)


@pytest.mark.req("LNS.renegotiate", "LNS.auth-modes")
def test_lcp_renegotiation_wrong_password_gives_cdn(env):
    d = env.use("lcp-renegotiation")
    env.cpe(BOB, "set fault", {"number": BOB["site"], "fault": "wrong-password"})
    try:
        start = dial(env, BOB, d)
        ev = wait_cleared(d, start)
        assert_in_order(ev, [
            ("LCP Opened with the client", is_("ppp.lcp", to="Opened")),
            ("LNS RADIUS Access-Reject", is_("radius.request", to="rejected")),
            ("authentication failed", is_("ppp.auth", to="Failure")),
            ("CDN", is_("l2tp.session", to="idle")),
        ])
        assert not any(is_("ppp.ipcp", to="Opened")(e) for e in ev), "IPCP opened without a session"
    finally:
        env.cpe(BOB, "set fault", {"number": BOB["site"], "fault": "none"})
        hang_up(env, BOB, d)


# ---------------------------------------------------------------------------------------------
# mandatory CHAP (Huawei "L2TP Session Establishment" steps 12-14: the LNS challenges the user itself)

@pytest.mark.req("LNS.mandatory-chap", "LNS.auth-modes", "L2TP.incoming", "ROUTE.install")
def test_mandatory_chap_challenges_even_after_proxy_pap(env):
    """Huawei "L2TP Session Establishment" steps 10-14: lac2 authenticated bob with PAP; lnsd in mandatory-chap mode first
    verifies the proxy PAP through the LNS RADIUS server, then sends its own CHAP Challenge and
    verifies the response there again; the session comes up and carries the ping."""
    d = env.use("mandatory-chap")
    before = len(auth_requests_for(env, BOB["user"]))
    cpe_before = (env.lab.run_dir / "cpe2-events.jsonl").read_text().count("Challenge-Received")
    start = dial(env, BOB, d)
    try:
        wait_network_up(env, BOB, d)
        ev = events_since(d, start)
        at = assert_in_order(ev, [
            ("ICCN: session established", is_("l2tp.session", to="established")),
            ("proxy PAP to AAA: Access-Accept", is_("radius.request", to="accepted")),
            ("proxy authentication accepted", is_("lnsd.incoming", event="proxy-authentication-accepted")),
        ])
        assert_chap_by_the_lns(ev[at[-1]:], renegotiated=True, iccn=False)
        cpe_after = (env.lab.run_dir / "cpe2-events.jsonl").read_text().count("Challenge-Received")
        assert cpe_after > cpe_before, "the CPE never received the LNS's CHAP Challenge"
        p = incoming_ppp(d, BOB["user"])[0]
        assert p["we-authenticate"] == "CHAP-MD5", p
        reqs = auth_requests_for(env, BOB["user"])[before:]
        assert len(reqs) == 2 and "User-Password" in reqs[0] and "CHAP-Password" in reqs[1], \
            f"FreeRADIUS must see the proxy PAP, then the LNS's CHAP: {reqs}"
        assert_home_reaches_remote(env, BOB)
    finally:
        hang_up(env, BOB, d)


@pytest.mark.req("LNS.mandatory-chap", "LNS.auth-modes")
def test_mandatory_chap_wrong_password_gives_cdn(env):
    """Huawei "L2TP Session Establishment": "If the authentication fails, no session can be established": alice's proxied
    CHAP response (wrong secret) is rejected by the LNS RADIUS server -> CDN, no own challenge."""
    d = env.use("mandatory-chap")
    env.cpe(ALICE, "set fault", {"number": ALICE["site"], "fault": "wrong-password"})
    try:
        start = dial(env, ALICE, d)
        ev = wait_cleared(d, start)
        assert_in_order(ev, [
            ("ICCN: session established", is_("l2tp.session", to="established")),
            ("LNS RADIUS Access-Reject", is_("radius.request", to="rejected")),
            ("proxy authentication rejected", is_("lnsd.incoming", event="proxy-authentication-rejected")),
            ("CDN", is_("l2tp.session", to="idle")),
        ])
        assert not any(e.get("entity", "").startswith("ppp.") for e in ev), "PPP started after the rejection"
        assert not any(is_("ppp.ipcp", to="Opened")(e) for e in ev), "IPCP opened without a session"
        wait_for(lambda: env.site(ALICE).get("call") is None, 15, "the CPE's call released after the CDN")
    finally:
        env.cpe(ALICE, "set fault", {"number": ALICE["site"], "fault": "none"})
        hang_up(env, ALICE, d)
