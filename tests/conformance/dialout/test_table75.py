"""JunosE "L2TP Dial-Out" Table 75 in the namespace lab, with real FreeRADIUS: every Access-Accept attribute observed
where it lands, and every reason for which the dial-out session is denied.

One lab for the module (the pytest plugin's `lab`, lab_config with this module's topology and configure): the home
server (192.0.2.10) gets one user per case, `0.0.0.0:65000/10.10.<k>.1@L2TP-dial-out.de.dt`, so a
ping from `home` to 10.10.<k>.1 triggers case k; the exchange answers number 55510<k>, where cpe-emu
has a site `cpe-t<k>` whose LNS RADIUS user (192.0.2.11) returns Framed-Route 10.10.<k>.0/24, so
each case gets its own session, call and access route.

 - where the attributes land: the OCRQ as lac-emu received it (its `lac.outgoing OCRQ-received`
   event and `show state`), the B-channel bearer and framing at lac-emu and cpe-emu, the tunnels
   lnsd opened (`show l2tp tunnel detail`), the PPP negotiation (`show ppp detail` at lnsd, the
   CPE site's `show state`, both event logs);
 - ERX-PPP-Auth-Protocol: the protocols with which the LNS lets the CPE authenticate it (docs/
   dialout.md "ERX-PPP-Auth-Protocol": JunosE "L2TP Dial-Out" "Mutual Authentication"); the LNS authenticates the
   CPE with the profile's protocol (CHAP), as for incoming calls;
 - deny reasons: the session's transition `authenticating -> inhibited on aaa-deny` names the reason.

Assertions on state and events with bounded waits (dlab.wait.wait_for), never sleeps.
"""
from __future__ import annotations


import pytest

from dlab.dialout_lab import control, site_destination, site_key, site_number
from dlab.wait import WaitTimeout, wait_for

DOMAIN = "L2TP-dial-out.de.dt"
RD = "0.0.0.0:65000"
LAC = "198.51.100.2"
LAC2 = "198.51.100.3"
NORD_KEY = "default/10.20.0.0/16/10.20.1.1"   # target without route distinguisher


dest, key, number = site_destination, site_key, site_number


def tunnel(tag: int = 1, endpoint: str = LAC, password: str | None = "lac-secret", ttype: str = "L2TP",
           medium: str = "IPv4", extra: tuple[str, ...] = ()) -> list[str]:
    out = [f"Tunnel-Type:{tag} = {ttype}", f"Tunnel-Medium-Type:{tag} = {medium}"]
    if endpoint:
        out.append(f'Tunnel-Server-Endpoint:{tag} = "{endpoint}"')
    if password is not None:
        out.append(f'Tunnel-Password:{tag} = "{password}"')
    return out + [x.format(tag=tag) for x in extra]


def accept(k: int, *, service: str | None = "Outbound-User", tunnels: list[str] | None = None,
           auth: str | None = "CHAP", bearer: str | None = "Digital", bps: tuple[int, int] | None = None) -> list[str]:
    """Reply items of an Access-Accept for case k (FreeRADIUS `users` syntax)."""
    r = [f"Service-Type = {service}"] if service else []
    r += tunnel() if tunnels is None else tunnels
    r += [f'ERX-Dial-Out-Number = "{number(k)}"', f'ERX-PPP-Username = "lns-{k}"',
          f'ERX-PPP-Password = "lns-{k}-pass"']
    if auth is not None:
        r.append(f"ERX-PPP-Auth-Protocol = {auth}")
    if bearer is not None:
        r.append(f"ERX-Bearer-Type = {bearer}")
    if bps is not None:
        r += [f"ERX-Minimum-BPS = {bps[0]}", f"ERX-Maximum-BPS = {bps[1]}"]
    return r


CHECK = ["Service-Type == Outbound-User", "Auth-Type := Accept"]

# ---- the cases: k -> Access-Accept reply; cases with a CPE site: k -> the site's require_auth ----
ATTRIBUTE_CASES = {
    21: accept(21, bps=(56000, 64000), bearer="Digital"),
    22: accept(22, bps=(9600, 33600), bearer="Analog"),
    23: accept(23, bearer="None"),
}
# ERX-PPP-Auth-Protocol value -> (CPE require_auth, expected: protocol the LNS is authenticated with,
# or None when the CPE cannot authenticate the LNS and LCP fails).
AUTH_CASES = {
    31: ("None", "none", "none"),
    32: ("None", "chap", None),      # the LNS refuses to be authenticated: Configure-Reject
    33: ("PAP", "pap", "PAP"),
    34: ("PAP", "chap", None),       # the LNS Naks CHAP with PAP; a CHAP-only CPE gives up
    35: ("CHAP", "chap", "CHAP-MD5"),
    36: ("CHAP", "pap", None),       # Nak PAP -> CHAP; a PAP-only CPE gives up
    37: ("PAP-CHAP", "chap", "CHAP-MD5"),  # the CPE refuses PAP (asks CHAP): CHAP
    38: ("PAP-CHAP", "pap", "PAP"),
    39: ("CHAP-PAP", "pap", "PAP"),        # the CPE refuses CHAP (asks PAP): PAP
    40: ("CHAP-PAP", "chap", "CHAP-MD5"),
}
# Why the CPE gives up (its ppp.lcp Close cause, event id = the site's number): RFC 1661 §6.2.
CPE_GIVES_UP = {32: "peer rejected Authentication-Protocol CHAP-MD5",  # LNS Configure-Rejected the option
                34: "peer refuses CHAP-MD5",                           # LNS Naked CHAP with PAP
                36: "peer refuses PAP"}                                # LNS Naked PAP with CHAP
TUNNEL_CASES = {
    # preference: tag 1 lac2 with preference 5, tag 2 lac with preference 1 (RFC 2868 §3.8: lower wins)
    62: accept(62, tunnels=tunnel(1, LAC2, None, extra=("Tunnel-Preference:{tag} = 5",)) +
        tunnel(2, LAC, "lac-secret", extra=("Tunnel-Preference:{tag} = 1",))),
    63: accept(63, tunnels=tunnel(extra=('Tunnel-Assignment-Id:{tag} = "grp-63"',
                                         'Tunnel-Client-Auth-Id:{tag} = "lns-63"',
                                         'Tunnel-Server-Auth-Id:{tag} = "lac-63"'))),
}
DENY_CASES = {
    # k: (reply, check override, expected reason in the aaa-deny cause)
    51: (["Reply-Message = \"no dial-out for you\""], ["Service-Type == Outbound-User", "Auth-Type := Reject"],
         "access-reject"),
    52: (accept(52, service=None), None, "service-type-not-outbound"),
    53: (accept(53, service="Framed-User"), None, "service-type-not-outbound"),
    54: (accept(54, tunnels=[]), None, "tunnel-attributes-missing"),
    55: (accept(55, tunnels=tunnel(endpoint="")), None, "tunnel-server-endpoint-missing"),
    56: (accept(56, tunnels=tunnel(ttype="PPTP")), None, "tunnel-type-not-l2tp"),
    57: (accept(57, tunnels=tunnel(medium="IPv6")), None, "tunnel-medium-not-ipv4"),
}
WRONG_PASSWORD = 61
SITES = sorted(list(ATTRIBUTE_CASES) + list(AUTH_CASES) + list(TUNNEL_CASES))


def site_require(k: int) -> str:
    return AUTH_CASES[k][1] if k in AUTH_CASES else "chap"


def _topology(raw: dict) -> None:
    home, lns = raw["radius"]["home"]["users"], raw["radius"]["lns"]["users"]

    def user(k, reply, check=None):
        home.append({"name": f"{RD}/{dest(k)}@{DOMAIN}", "check": check or CHECK, "reply": reply})

    for k, reply in {**ATTRIBUTE_CASES, **TUNNEL_CASES}.items():
        user(k, reply)
    for k, (auth, _, _) in AUTH_CASES.items():
        user(k, accept(k, auth=auth))
    for k, (reply, check, _) in DENY_CASES.items():
        user(k, reply, check)
    user(WRONG_PASSWORD, accept(WRONG_PASSWORD, tunnels=tunnel(password="not-the-lac-secret")))
    # The target without route distinguisher: User-Name `10.20.1.1@nord.example`.
    home.append({"name": "10.20.1.1@nord.example", "check": CHECK, "reply": accept(20)})
    for k in SITES + [20]:
        lns.append({"name": f"cpe-t{k}", "check": ['Cleartext-Password := "cpe-pass"'],
                    "reply": ["Service-Type = Framed-User", "Framed-Protocol = PPP",
                              f"Framed-IP-Address = 198.18.{k}.2",
                              f'Framed-Route = "10.{20 if k == 20 else 10}.{1 if k == 20 else k}.0/24 198.18.{k}.2 1"']})


def _daemons(c: dict) -> None:
    c["lac"]["channels"] = 32
    for k in SITES + [20]:
        c["isdn"]["numbers"][number(k)] = {"behaviour": "answer"}
        c["cpe"]["sites"].append({"number": number(k), "name": f"cpe-t{k}", "secret": "cpe-pass",
                                  "require_auth": site_require(k), "users": {f"lns-{k}": f"lns-{k}-pass"}})
    lnsd = c["lnsd"]
    # RADIUS timeout case: vr-b's home server is an address nobody answers on; short retries.
    lnsd["timers"]["radius-timeout"] = "200ms"
    lnsd["virtual-routers"][1]["radius"]["authentication"] = [{"address": "192.0.2.13", "secret": "nobody"}]
    lnsd["dialout"]["targets"].append({"virtual-router": "default", "prefix": "10.20.0.0/16",
                                       "domain": "nord.example", "profile": "isdn"})


# The plugin's module lab (dlab.pytest_plugin) with this module's topology and daemon configs.
pytestmark = pytest.mark.lab_config(topology=_topology, configure=_daemons)


@pytest.fixture(scope="module")
def t75_lab(lab):
    return lab, lab.lnsd


# ---- helpers ----------------------------------------------------------------------------------

def trigger(lab, address: str, host: str = "home") -> None:
    lab.exec(host, ["ping", "-c", "1", "-W", "1", address], check=False)


def session(d, k_or_key) -> dict:
    return d.ctl("show", "l2tp", "dial-out", "session", k_or_key if isinstance(k_or_key, str) else key(k_or_key))


def state_of(d, k_or_key) -> str | None:
    try:
        return session(d, k_or_key).get("state")
    except Exception:  # noqa: BLE001 - no such session yet
        return None


def wait_state(d, k_or_key, states: set[str], within: float = 30) -> dict:
    seen: list[dict] = []

    def probe():
        s = session(d, k_or_key)
        seen[:] = [s]
        return s if s.get("state") in states else None
    try:
        return wait_for(probe, within, f"dial-out session {k_or_key} in {sorted(states)}")
    except WaitTimeout as e:
        raise AssertionError(f"{e}; session: {seen}; events: {session_events(d, k_or_key)}") from None


def session_events(d, k_or_key) -> list[dict]:
    sid = k_or_key if isinstance(k_or_key, str) else key(k_or_key)
    return [e for e in d.event_list() if e["entity"] == "dialout.session" and e["id"] == sid]


def jsonl(path) -> list[dict]:
    import json
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def ocrq_at_lac(lab, called: str, ctl: str = "lac") -> dict:
    """The OCRQ lac-emu received for `called` (its `lac.outgoing OCRQ-received` event)."""
    def probe():
        ev = [e for e in jsonl(lab.run_dir / f"{ctl}-events.jsonl")
              if e["entity"] == "lac.outgoing" and e["event"] == "OCRQ-received"
              and e.get("extra", {}).get("called_number") == called]
        return ev[-1] if ev else None
    return wait_for(probe, 20, f"OCRQ for {called} at {ctl}")["extra"]


def lac_call(lab, called: str) -> dict:
    calls = [c for c in control(lab.run_dir / "lac.ctl", "show state")["calls"] if c["called"] == called]
    assert calls, f"lac-emu has no call to {called}"
    return calls[-1]


def cpe_site(lab, num: str) -> dict:
    sites = [s for s in control(lab.run_dir / "cpe.ctl", "show state")["sites"] if s["number"] == num]
    assert len(sites) == 1, f"cpe-emu site {num}: {sites}"
    return sites[0]


def ppp_of(d, user: str) -> dict | None:
    p = [x for x in d.ctl("show", "ppp", "detail") if x.get("user") == user]
    return p[-1] if p else None


# ---- Table 75: where each attribute lands -----------------------------------------------------

@pytest.mark.req("T75.dial-out-number", "T75.bps", "T75.bearer-type", "AAA.username", "AAA.service-type",
                 "T75.service-type", "T74.inService", "LAB.freeradius")
def test_digital_number_bps_and_bearer_land_in_the_ocrq(t75_lab):
    lab, d = t75_lab
    trigger(lab, dest(21))
    s = wait_state(d, 21, {"inService"})
    assert s["user_name"] == f"{RD}/{dest(21)}@{DOMAIN}", s
    o = ocrq_at_lac(lab, number(21))
    assert o["called_number"] == number(21), f"ERX-Dial-Out-Number -> Called Number: {o}"
    assert (o["min_bps"], o["max_bps"]) == (56000, 64000), f"ERX-Minimum/Maximum-BPS passed as is: {o}"
    assert o["bearer_type"] == 1, f"ERX-Bearer-Type Digital -> Bearer Type D bit (RFC 2661 §4.4.4): {o}"
    assert o["framing_type"] == 1, f"digital bearer: synchronous framing requested: {o}"
    c = lac_call(lab, number(21))
    assert (c["bearer"], c["framing"]) == ("digital", "sync"), f"lac-emu B channel: {c}"
    site = cpe_site(lab, number(21))
    assert site["call"]["bearer"] == "digital", site


@pytest.mark.req("T75.bearer-type", "T75.bps", "T74.inService")
def test_analog_bearer_is_an_async_call(t75_lab):
    lab, d = t75_lab
    trigger(lab, dest(22))
    wait_state(d, 22, {"inService"})
    o = ocrq_at_lac(lab, number(22))
    assert o["bearer_type"] == 2, f"ERX-Bearer-Type Analog -> Bearer Type A bit: {o}"
    assert o["framing_type"] == 2, f"analog bearer: asynchronous framing requested: {o}"
    assert (o["min_bps"], o["max_bps"]) == (9600, 33600), o
    c = lac_call(lab, number(22))
    assert (c["bearer"], c["framing"]) == ("analog", "async"), f"lac-emu: analog B channel, OCCN async: {c}"
    assert c["speed"] == 33600, f"the LAC places the call at ERX-Maximum-BPS: {c}"
    site = cpe_site(lab, number(22))
    assert site["call"]["bearer"] == "analog", f"the CPE got an analog (async HDLC) call: {site}"


@pytest.mark.req("T75.bearer-type")
def test_bearer_type_none_leaves_the_choice_to_the_lac(t75_lab):
    lab, d = t75_lab
    trigger(lab, dest(23))
    wait_state(d, 23, {"inService"})
    o = ocrq_at_lac(lab, number(23))
    assert o["bearer_type"] == 0, f"ERX-Bearer-Type 0 -> no bearer bit: {o}"
    assert lac_call(lab, number(23))["bearer"] == "digital", "lac-emu picks a bearer it has"


@pytest.mark.req("T75.tunnel-password", "T75.tunnel-assignment-id")
def test_tunnel_password_authenticates_the_tunnel(t75_lab):
    lab, d = t75_lab
    if state_of(d, 21) != "inService":
        trigger(lab, dest(21))
        wait_state(d, 21, {"inService"})
    tun = [t for t in d.ctl("show", "l2tp", "tunnel", "detail")
           if t["destination"] == LAC and t["state"] == "established" and t["assignment-id"] == ""]
    assert tun and all(t["authenticated"] for t in tun), f"Tunnel-Password 'lac-secret' = lac-emu's secret: {tun}"


@pytest.mark.req("T75.tunnel-preference")
def test_tunnel_preference_picks_the_lower_value(t75_lab):
    lab, d = t75_lab
    before = control(lab.run_dir / "lac2.ctl", "show state")["counters"]["ocrq"]
    trigger(lab, dest(62))
    wait_state(d, 62, {"inService"})
    assert ocrq_at_lac(lab, number(62))["called_number"] == number(62)
    after = control(lab.run_dir / "lac2.ctl", "show state")["counters"]["ocrq"]
    assert after == before, f"tag 1 (lac2, preference 5) is not tried before tag 2 (lac, preference 1): {before}->{after}"


@pytest.mark.req("T75.tunnel-assignment-id")
def test_tunnel_assignment_id_gets_its_own_tunnel(t75_lab):
    lab, d = t75_lab
    trigger(lab, dest(63))
    wait_state(d, 63, {"inService"})
    tun = [t for t in d.ctl("show", "l2tp", "tunnel", "detail") if t["assignment-id"] == "grp-63"]
    assert len(tun) == 1 and tun[0]["destination"] == LAC and tun[0]["state"] == "established", tun
    assert tun[0]["sessions"] == 1, f"the call of case 63 runs in the grp-63 tunnel: {tun}"


# ---- ERX-PPP-Username / Password / Auth-Protocol in the PPP exchange ------------------------------

@pytest.mark.req("T75.ppp-credentials", "T75.ppp-auth-protocol")
@pytest.mark.parametrize("k", sorted(AUTH_CASES), ids=lambda k: f"{AUTH_CASES[k][0]}-vs-cpe-{AUTH_CASES[k][1]}")
def test_ppp_auth_protocol(t75_lab, k):
    lab, d = t75_lab
    value, cpe_requires, expected = AUTH_CASES[k]
    trigger(lab, dest(k))
    if expected is not None:
        wait_state(d, k, {"inService"})
        p = wait_for(lambda: ppp_of(d, f"cpe-t{k}"), 10, f"PPP session of cpe-t{k}")
        assert p["peer-authenticates"] == expected, \
            f"ERX-PPP-Auth-Protocol {value} against a CPE requiring {cpe_requires}: LNS authenticated with {expected}: {p}"
        assert p["we-authenticate"] == "CHAP-MD5", f"the LNS checks the CPE with the profile's CHAP: {p}"
        site = cpe_site(lab, number(k))
        want_name = "" if expected == "none" else f"lns-{k}"
        assert site["call"]["peer_name"] == want_name, \
            f"the CPE authenticated the LNS as ERX-PPP-Username lns-{k} (none: not at all): {site}"
        return
    # The CPE cannot authenticate the LNS the way it requires: its LCP gives up (RFC 1661 §6.2: the
    # LNS Naks with a protocol the CPE refuses, or Configure-Rejects the option), the call goes.
    s = wait_state(d, k, {"inhibited", "inService", "dormant", "failed"}, within=40)
    assert s["state"] == "inhibited", f"the call closed while connecting: {s}"
    last = session_events(d, k)[-1]
    assert (last["from"], last["to"], last["event"]) == ("connecting", "inhibited", "call-closed"), last
    assert ppp_of(d, f"cpe-t{k}") is None, "the CPE never authenticated the LNS: no PPP session at the LNS"
    why = wait_for(lambda: [e["cause"] for e in jsonl(lab.run_dir / "cpe-events.jsonl")
                            if e["entity"] == "ppp.lcp" and e["id"] == number(k) and e["event"] == "Close"],
                   10, f"cpe-emu site {number(k)} closes LCP")
    # The first Close is LCP's own decision (the later one is the ISDN release it caused).
    assert why[0] == CPE_GIVES_UP[k], f"how the LNS answered the CPE's Authentication-Protocol: {why}"


# ---- deny reasons ---------------------------------------------------------------------------

@pytest.mark.req("T74.inhibited", "T75.service-type", "T75.tunnel-attributes", "AAA.username")
@pytest.mark.parametrize("k", sorted(DENY_CASES), ids=lambda k: DENY_CASES[k][2])
def test_deny_reason_inhibits_the_session(t75_lab, k):
    lab, d = t75_lab
    reason = DENY_CASES[k][2]
    trigger(lab, dest(k))
    s = wait_state(d, k, {"inhibited"}, within=15)
    ev = session_events(d, k)
    assert (ev[0]["from"], ev[0]["to"], ev[0]["event"]) == ("", "authenticating", "trigger"), ev[0]
    last = ev[-1]
    assert (last["from"], last["to"], last["event"]) == ("authenticating", "inhibited", "aaa-deny"), last
    assert last["cause"].split(":")[0] == reason, f"deny reason in the event: {last['cause']!r}"
    assert last["timer"]["name"] == "inhibited", last
    assert s["user_name"] == f"{RD}/{dest(k)}@{DOMAIN}" and not s["call"]["placed"], s


@pytest.mark.req("T74.inhibited", "AAA.radius-timeout", "AAA.username")
def test_radius_timeout_inhibits_the_session(t75_lab):
    lab, d = t75_lab
    k = "vr-b/10.10.0.0/16/10.10.1.1"
    trigger(lab, "10.10.1.1", host="home-b")
    s = wait_state(d, k, {"inhibited"}, within=15)
    last = session_events(d, k)[-1]
    assert (last["from"], last["to"], last["event"]) == ("authenticating", "inhibited", "aaa-deny"), last
    assert last["cause"].startswith("radius-timeout"), f"deny reason in the event: {last['cause']!r}"
    assert s["user_name"] == "10.10.1.1@L2TP-dial-out.vr-b.example", s
    # The request was retransmitted by the short radius-timeout, not given up by the trigger guard.
    ms = (last["time_ns"] - session_events(d, k)[0]["time_ns"]) / 1e6
    assert ms < 10_000, f"RADIUS timeout after {ms:.0f} ms (4 x 200 ms expected, well under the 30 s guard)"


@pytest.mark.req("AAA.username", "T74.inService")
def test_username_without_route_distinguisher(t75_lab):
    lab, d = t75_lab
    trigger(lab, "10.20.1.1")
    s = wait_state(d, NORD_KEY, {"inService"})
    assert s["user_name"] == "10.20.1.1@nord.example", f"no RD: no 'RD/' prefix: {s}"
    assert ocrq_at_lac(lab, number(20))["called_number"] == number(20), "the home server matched that User-Name"


@pytest.mark.req("T75.tunnel-password", "T74.inhibited")
def test_wrong_tunnel_password_fails_the_call(t75_lab):
    """Last in the module: the failed tunnel set-up may mark the LAC's endpoint dead for a while
    (tunnel selection), which would change the cases after it."""
    lab, d = t75_lab
    # A wrong Tunnel-Password: lac-emu's challenge response check fails (RFC 2661 §5.1.1), no call.
    trigger(lab, dest(WRONG_PASSWORD))
    s = wait_state(d, WRONG_PASSWORD, {"inhibited"})
    ev = session_events(d, WRONG_PASSWORD)
    assert ("authenticating", "connecting", "aaa-grant") in [(e["from"], e["to"], e["event"]) for e in ev], ev
    last = ev[-1]
    assert (last["from"], last["to"]) == ("connecting", "inhibited"), last
    assert not [e for e in jsonl(lab.run_dir / "lac-events.jsonl")
                if e["entity"] == "lac.outgoing" and e.get("extra", {}).get("called_number") == number(WRONG_PASSWORD)], \
        "no OCRQ reached lac-emu over an unauthenticated tunnel"
    assert s["last_failure"], s
