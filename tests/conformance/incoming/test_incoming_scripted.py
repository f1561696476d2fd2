"""Incoming calls with the test as the peers: a SCRIPTED LAC delivers an incoming call (RFC 2661
§7.4.1, ICRQ/ICRP/ICCN with proxy LCP and proxy authentication AVPs, §4.4.5) to lnsd in each LNS
authentication mode (JunosE "Implementing L2TP" and Huawei "L2TP Session Establishment": proxy, lcp-renegotiation, mandatory-chap), and a SCRIPTED PPP
client (scripted_peer.PppClient: LCP / CHAP-MD5 / IPCP in L2TP data messages, dlab.proto codecs)
answers lnsd; the session reaches IPCP Opened, the Framed-Route 10.10.1.0/24 and the
Framed-IP-Address host route appear in the `lns` namespace, and `ping -c 1` from `home` to
10.10.1.1 arrives at the scripted LAC as PPP IPv4, is answered by the test (ICMP echo reply built
in Python) and succeeds in `home`.

Lab: scenarios/topologies/default.yaml with the real FreeRADIUS; only lnsd runs (no lac-emu /
isdn-emu / cpe-emu): the scripted LAC binds 198.51.100.2 in `lac`. lnsd's configs per mode and the
LNS RADIUS users (192.0.2.11: Framed-IP-Address, Framed-Route 10.10.1.0/24) are
test_incoming_modes.py's (lnsd_config, _radius_users, Env). Bounded waits only.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from scripted_peer import PROXY_AUTHEN_CHAP, PROXY_AUTHEN_PAP, PppClient, chap_md5
from test_incoming_modes import ALICE, BOB, LNS, Env, assert_in_order, describe, incoming_lab, is_

from dlab import netns, proto
from dlab.scripted_lac import ScriptedLac
from dlab.wait import wait_for

LAC_ADDR = "198.51.100.2"
LAC_SECRET = "lac-secret"  # lnsd_config's peers: 198.51.100.2
BEHIND_CLIENT = "10.10.1.1"  # in the Framed-Route 10.10.1.0/24


def _no_peers(c: dict) -> None:
    for role in ("isdn", "lac", "cpe", "isdn2", "lac2", "cpe2"):
        c[role] = None  # the test is the LAC and the client


# The plugin's module lab with only lnsd, captured (the tshark judge reads its per-test pcaps).
pytestmark = incoming_lab(_no_peers)


@pytest.fixture(scope="module")
def env(lab):
    return Env(lab)


_tid = iter(range(101, 200))


def use(env: Env, mode: str) -> None:
    """env.use(mode), then a bounded wait for THIS lnsd's ready line: Env.use restarts lnsd under a
    name used before, its log is appended to, and Lab.start's readiness check finds the previous
    instance's "lnsd ready" at once (an SCCRQ sent then is lost: lnsd has not bound UDP 1701 yet)."""
    log = env.lab.run_dir / "logs" / f"lnsd-{mode}.log"
    before = log.read_text().count("lnsd ready") if log.exists() else 0
    old = env.proc
    env.use(mode)
    if env.proc is not old:
        wait_for(lambda: log.read_text().count("lnsd ready") > before, 20, f"lnsd ({mode}) ready after the restart")


@pytest.fixture
def lac(env):
    """A fresh scripted LAC (new tunnel per test); hangs up and waits for lnsd to clear it."""
    s = ScriptedLac(env.lab, LAC_ADDR, LNS, secret=LAC_SECRET)
    try:
        yield s
    finally:
        try:
            s.hang_up()
        finally:
            s.close()
        d = env.lnsd
        wait_for(lambda: not [t for t in d.ctl("show", "l2tp", "tunnel") if t.get("state") == "established"], 15,
                 "the scripted LAC's tunnel closed at lnsd")
        wait_for(lambda: "10.10.1.0/24" not in env.lab.exec("lns", ["ip", "-4", "route", "show"]).stdout, 10,
                 "Framed-Route removed from the lns namespace")


def lcp_opts(magic: int, auth: bytes | None = None) -> bytes:
    """LCP Configure-Request options (the body the proxy LCP AVPs carry, RFC 2661 §4.4.5):
    MRU 1500, optional Authentication-Protocol, Magic-Number."""
    o = bytes([1, 4, 0x05, 0xDC])
    if auth is not None:
        o += bytes([3, 2 + len(auth)]) + auth
    return o + bytes([5, 6]) + magic.to_bytes(4, "big")


CHAP_MD5 = bytes([0xC2, 0x23, 0x05])
PAP = bytes([0xC0, 0x23])


def proxy_lcp(client: PppClient, auth: bytes) -> dict:
    """Proxy LCP AVPs of a LAC that negotiated LCP with `client` asking `auth` (ICCN keywords)."""
    theirs = lcp_opts(client.magic)
    return {"initial_received_lcp_confreq": theirs, "last_received_lcp_confreq": theirs,
            "last_sent_lcp_confreq": lcp_opts(0x1AC0FFEE, auth)}


def proxy_chap(who: dict, secret: str) -> dict:
    """Proxy CHAP AVPs: the LAC's challenge and the client's MD5 response (RFC 1994 §4.1)."""
    ident, chal = 0x2A, os.urandom(16)
    return {"proxy_authen_type": PROXY_AUTHEN_CHAP, "proxy_authen_name": who["user"], "proxy_authen_id": ident,
            "proxy_authen_challenge": chal, "proxy_authen_response": chap_md5(ident, secret, chal)}


def proxy_pap(who: dict) -> dict:
    return {"proxy_authen_type": PROXY_AUTHEN_PAP, "proxy_authen_name": who["user"],
            "proxy_authen_response": who["password"].encode()}


def incoming_ppp(env: Env, user: str) -> list[dict]:
    return [p for p in env.lnsd.ctl("show", "ppp", "detail")
            if p.get("direction") == "incoming" and p.get("user") == user]


def call(env: Env, lac: ScriptedLac, who: dict, iccn_for) -> tuple[PppClient, int]:
    """Tunnel + incoming call; `iccn_for(client)` gives the ICCN's proxy AVPs. Returns the client and
    the lnsd event index before the call."""
    start = len(env.lnsd.event_list())
    client = PppClient(lac, who["user"], who["password"])
    lac.open(tid=next(_tid))
    lac.l2tp.expect("ZLB", within=3.0)  # the SCCCN acknowledged
    lac.call(7, calling=who["site"], called="1701", bearer_type=proto.BEARER_DIGITAL, **iccn_for(client))
    return client, start


def network_up(env: Env, client: PppClient, who: dict) -> dict:
    """The client's IPCP Opened with the Framed-IP-Address; lnsd's session in IPCP Opened."""
    client.run_until(lambda: client.ipcp_opened, 20, "IPCP Opened")
    assert client.address == who["framed_ip"], \
        f"IPCP gave {client.address}, the Access-Accept's Framed-IP-Address is {who['framed_ip']}: {client.log}"
    assert client.naks and client.naks[-1] == who["framed_ip"], f"0.0.0.0 was not Nak'ed with the address: {client.log}"
    return wait_for(lambda: next((p for p in incoming_ppp(env, who["user"]) if p.get("ipcp") == "Opened"), None), 10,
                    f"lnsd's incoming session of {who['user']} with IPCP Opened")


def routes_and_ping(env: Env, client: PppClient, who: dict) -> None:
    """Framed-Route + host route in `lns`; one ICMP echo home -> 10.10.1.1 reaches the scripted LAC
    as PPP IPv4 in an L2TP data message, the test answers, the ping succeeds in `home`."""
    routes = wait_for(lambda: (r := env.lab.exec("lns", ["ip", "-4", "route", "show"]).stdout)
                      and "10.10.1.0/24 dev dlo0" in r and r, 10, "Framed-Route 10.10.1.0/24 dev dlo0 in lns")
    assert f"{who['framed_ip']} dev dlo0" in routes, f"Framed-IP-Address host route missing in lns: {routes}"
    ping = subprocess.Popen(netns.exec_argv(env.lab.ns("home"), ["ping", "-n", "-c", "1", "-W", "5", BEHIND_CLIENT]),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client.run_until(lambda: any(r[16:20] == bytes([10, 10, 1, 1]) for r in client.echo_requests), 10,
                         "ICMP echo request to 10.10.1.1 in the session")
        req = next(r for r in client.echo_requests if r[16:20] == bytes([10, 10, 1, 1]))
        assert req[12:16] == bytes([203, 0, 113, 10]), f"the echo is not from home (203.0.113.10): {req[:20].hex()}"
        client.echo_reply(req)
        out, _ = ping.communicate(timeout=10)
    finally:
        if ping.poll() is None:
            ping.kill()
            ping.wait()
    assert ping.returncode == 0 and " 0% packet loss" in out, f"ping from home not answered:\n{out}"


def rejected_after_renegotiation(env: Env, lac: ScriptedLac, client: PppClient, start: int) -> list[dict]:
    """The client answered lnsd's own CHAP Challenge (after LCP renegotiation) from a wrong secret:
    CHAP Failure to it (RFC 1994 §4.1), CDN to the scripted LAC, no IPCP, no route. Returns lnsd's
    events since `start`."""
    client.run_until(lambda: client.chap_result is not None, 20, "CHAP Success/Failure")
    assert client.chap_result == "Failure", f"a wrong CHAP response was accepted: {client.log}"
    cdn = lac.l2tp.expect("CDN", within=15.0)
    assert cdn.session_id == lac.local_session, f"CDN for session {cdn.session_id}"
    lac.session = 0
    ev = env.lnsd.event_list()[start:]
    assert_in_order(ev, [("LCP Opened with the client", is_("ppp.lcp", to="Opened")),
                         ("LNS RADIUS Access-Reject", is_("radius.request", to="rejected")),
                         ("authentication failed", is_("ppp.auth", to="Failure")),
                         ("CDN", is_("l2tp.session", to="idle"))])
    assert not client.ipcp_opened and not any(is_("ppp.ipcp", to="Opened")(e) for e in ev), \
        "IPCP opened after an Access-Reject"
    assert "10.10.1.0/24" not in env.lab.exec("lns", ["ip", "-4", "route", "show"]).stdout, "a route for a rejected user"
    return ev


# ---------------------------------------------------------------------------------------------

@pytest.mark.req("LNS.proxy", "L2TP.incoming")
def test_scripted_proxy_chap_client_does_ipcp_only(env, lac):
    """proxy: lnsd starts LCP Opened from the proxy LCP AVPs and verifies the LAC's CHAP exchange
    (computed by the test) through the LNS RADIUS server; the client does IPCP only."""
    use(env, "proxy")
    client, start = call(env, lac, ALICE, lambda c: {**proxy_lcp(c, CHAP_MD5), **proxy_chap(ALICE, ALICE["password"])})
    p = network_up(env, client, ALICE)
    assert client.lcp_requests_received == 0 and not client.lcp_sent, f"LCP renegotiated in proxy mode: {client.log}"
    assert client.chap_challenges == [], f"lnsd challenged in proxy mode: {client.log}"
    assert p["lcp"] == "Opened" and p["peer-ip"] == ALICE["framed_ip"], p
    assert p["access-routes"] == ["10.10.1.0/24", f"{ALICE['framed_ip']}/32"], p
    ev = env.lnsd.event_list()[start:]
    assert_in_order(ev, [("ICCN: session established", is_("l2tp.session", to="established")),
                         ("proxy LCP accepted", is_("ppp.lcp", event="proxy-lcp-accepted")),
                         ("LNS RADIUS Access-Accept", is_("radius.request", to="accepted")),
                         ("IPCP Opened", is_("ppp.ipcp", to="Opened"))])
    routes_and_ping(env, client, ALICE)


@pytest.mark.req("LNS.renegotiate", "L2TP.incoming")
def test_scripted_lcp_renegotiation_client_answers_lcp_and_chap(env, lac):
    """lcp-renegotiation: the proxy AVPs (PAP) are ignored; lnsd renegotiates LCP with the client
    (Configure-Request/Ack both ways, Magic-Number), challenges it with CHAP; the test's MD5
    response is verified through the LNS RADIUS server; IPCP; routes; ping."""
    use(env, "lcp-renegotiation")
    client, start = call(env, lac, BOB, lambda c: {**proxy_lcp(c, PAP), **proxy_pap(BOB)})
    p = network_up(env, client, BOB)
    assert client.lcp_requests_received >= 1 and client.lcp_opened, f"no LCP renegotiation: {client.log}"
    assert len(client.chap_challenges) == 1 and client.chap_result == "Success", client.log
    assert p["we-authenticate"] == "CHAP-MD5", p
    ev = env.lnsd.event_list()[start:]
    assert not any(is_("ppp.lcp", event="proxy-lcp-accepted")(e) for e in ev), "proxy LCP used:\n" + "\n".join(describe(ev))
    assert_in_order(ev, [("LCP Opened with the client", is_("ppp.lcp", to="Opened")),
                         ("CHAP Response to AAA", is_("ppp.auth", to="Verifying", event="Credentials-Received")),
                         ("LNS RADIUS Access-Accept", is_("radius.request", to="accepted")),
                         ("IPCP Opened", is_("ppp.ipcp", to="Opened"))])
    routes_and_ping(env, client, BOB)


@pytest.mark.req("LNS.mandatory-chap", "L2TP.incoming")
def test_scripted_mandatory_chap_challenges_after_proxy_pap(env, lac):
    """mandatory-chap (Huawei "L2TP Session Establishment" steps 10-14): the proxy PAP is verified through the LNS RADIUS
    server, then lnsd sends its own CHAP Challenge to the client; the test's response is verified
    again; IPCP; routes; ping."""
    use(env, "mandatory-chap")
    client, start = call(env, lac, BOB, lambda c: {**proxy_lcp(c, PAP), **proxy_pap(BOB)})
    p = network_up(env, client, BOB)
    assert len(client.chap_challenges) == 1 and client.chap_result == "Success", \
        f"lnsd must challenge even after proxy PAP: {client.log}"
    assert p["we-authenticate"] == "CHAP-MD5", p
    ev = env.lnsd.event_list()[start:]
    assert_in_order(ev, [("proxy PAP: Access-Accept", is_("radius.request", to="accepted")),
                         ("proxy authentication accepted", is_("lnsd.incoming", event="proxy-authentication-accepted")),
                         ("CHAP Response to AAA", is_("ppp.auth", to="Verifying", event="Credentials-Received")),
                         ("LNS's own CHAP: Access-Accept", is_("radius.request", to="accepted")),
                         ("IPCP Opened", is_("ppp.ipcp", to="Opened"))])
    routes_and_ping(env, client, BOB)


@pytest.mark.req("LNS.proxy", "L2TP.incoming")
def test_scripted_proxy_wrong_chap_response_access_reject_gives_cdn(env, lac):
    """proxy with a CHAP response computed from a wrong secret: Access-Reject -> CDN to the
    scripted LAC, no IPCP, no route."""
    use(env, "proxy")
    _, start = call(env, lac, ALICE, lambda c: {**proxy_lcp(c, CHAP_MD5), **proxy_chap(ALICE, "not-the-secret")})
    cdn = lac.l2tp.expect("CDN", within=15.0)
    assert cdn.session_id == lac.local_session, f"CDN for session {cdn.session_id}"
    assert cdn.result_code is not None, "CDN without a Result Code (RFC 2661 §4.4.2)"
    lac.session = 0  # cleared by lnsd: no CDN of ours at hang-up
    ev = env.lnsd.event_list()[start:]
    assert_in_order(ev, [("ICCN: session established", is_("l2tp.session", to="established")),
                         ("LNS RADIUS Access-Reject", is_("radius.request", to="rejected")),
                         ("authentication failed", is_("ppp.auth", to="Failure")),
                         ("CDN", is_("l2tp.session", to="idle"))])
    assert not any(is_("ppp.ipcp", to="Opened")(e) for e in ev), "IPCP opened after an Access-Reject"
    assert "10.10.1.0/24" not in env.lab.exec("lns", ["ip", "-4", "route", "show"]).stdout, "a route for a rejected user"


@pytest.mark.req("LNS.renegotiate", "L2TP.incoming")
def test_scripted_lcp_renegotiation_wrong_chap_response_gets_failure_and_cdn(env, lac):
    """lcp-renegotiation: the client answers lnsd's own CHAP Challenge with a response from a wrong
    secret: Access-Reject -> CHAP Failure to the client (RFC 1994 §4.1) -> CDN to the scripted LAC."""
    use(env, "lcp-renegotiation")
    wrong = {**BOB, "password": "not-the-secret"}
    client, start = call(env, lac, wrong, lambda c: {**proxy_lcp(c, PAP), **proxy_pap(BOB)})
    rejected_after_renegotiation(env, lac, client, start)


# --- Huawei "L2TP Session Establishment" Proxy authentication: a LAC that authenticated the user with
# MSCHAP v1 / v2 sends no usable proxy authentication; the LNS renegotiates and authenticates again. ---
MSCHAP_V1, MSCHAP_V2 = bytes([0xC2, 0x23, 0x80]), bytes([0xC2, 0x23, 0x81])  # RFC 2433 / RFC 2759 Algorithm
PROXY_AUTHEN_MSCHAP_V1 = 5  # RFC 2661 §4.4.5 Proxy Authen Type 5 "Microsoft CHAP Version 1 (MSCHAPv1)"


def proxy_mschap_v1(who: dict) -> dict:
    """Proxy Authen Type 5 as a LAC that ran MSCHAP v1 sends it (RFC 2661 §4.4.5: Name, ID, an 8-octet
    Challenge, the 49-octet MS-CHAP Response of RFC 2433 §3.2.2): nothing lnsd can verify."""
    return {"proxy_authen_type": PROXY_AUTHEN_MSCHAP_V1, "proxy_authen_name": who["user"], "proxy_authen_id": 0x2B,
            "proxy_authen_challenge": os.urandom(8), "proxy_authen_response": os.urandom(49)}


def assert_renegotiated_and_challenged(ev: list[dict], client: PppClient) -> None:
    assert client.lcp_requests_received >= 1 and client.lcp_opened, f"LCP not renegotiated: {client.log}"
    assert len(client.chap_challenges) == 1, f"the LNS did not authenticate the user itself: {client.log}"
    assert not any(is_("ppp.lcp", event="proxy-lcp-accepted")(e) for e in ev), \
        "proxy LCP used although the proxy authentication is MSCHAP:\n" + "\n".join(describe(ev))


@pytest.mark.req("LNS.proxy-mschap", "LNS.proxy", "L2TP.incoming")
@pytest.mark.parametrize("lac_auth", [pytest.param(MSCHAP_V1, id="lcp-mschap-v1"),
                                      # A LAC whose proxy LCP names CHAP-MD5 but whose Proxy Authen Type is
                                      # MSCHAP v1: the proxy LCP alone is acceptable, the authentication not.
                                      pytest.param(CHAP_MD5, id="lcp-chap-md5")])
def test_scripted_proxy_mschap_v1_is_renegotiated_and_the_user_comes_online(env, lac, lac_auth):
    """proxy mode, a trusted LAC, ICCN with proxy LCP and Proxy Authen Type 5 (MSCHAP v1): lnsd renegotiates
    LCP with the client (its own Configure-Request), challenges it with CHAP (the VT's authentication),
    the test's MD5 response is verified through the LNS RADIUS server; IPCP; routes; ping."""
    use(env, "proxy")
    client, start = call(env, lac, ALICE, lambda c: {**proxy_lcp(c, lac_auth), **proxy_mschap_v1(ALICE)})
    p = network_up(env, client, ALICE)
    assert client.chap_result == "Success", client.log
    assert p["we-authenticate"] == "CHAP-MD5", p
    ev = env.lnsd.event_list()[start:]
    assert_renegotiated_and_challenged(ev, client)
    assert_in_order(ev, [("proxy authentication unusable", is_("lnsd.incoming", event="proxy-authentication-unusable")),
                         ("LCP Opened with the client", is_("ppp.lcp", to="Opened")),
                         ("CHAP Response to AAA", is_("ppp.auth", to="Verifying", event="Credentials-Received")),
                         ("LNS RADIUS Access-Accept", is_("radius.request", to="accepted")),
                         ("IPCP Opened", is_("ppp.ipcp", to="Opened"))])
    routes_and_ping(env, client, ALICE)


@pytest.mark.req("LNS.proxy-mschap", "L2TP.incoming")
def test_scripted_proxy_mschap_v2_renegotiated_wrong_password_does_not_come_online(env, lac):
    """proxy mode, a LAC that negotiated MSCHAP v2 with the client and sends proxy LCP but no proxy
    authentication AVPs (RFC 2661 §4.4.5 has no type for MSCHAP v2): lnsd renegotiates LCP, challenges
    with CHAP; the client answers from a wrong secret: Access-Reject -> CHAP Failure -> CDN, no IPCP,
    no route (Huawei: "If the renegotiation fails, the user fails to go online")."""
    use(env, "proxy")
    wrong = {**ALICE, "password": "not-the-secret"}
    client, start = call(env, lac, wrong, lambda c: proxy_lcp(c, MSCHAP_V2))
    ev = rejected_after_renegotiation(env, lac, client, start)
    assert_renegotiated_and_challenged(ev, client)


@pytest.mark.req("LNS.proxy", "L2TP.incoming")
def test_scripted_proxy_lcp_chap_without_proxy_authentication_is_challenged_by_the_lns(env, lac):
    """proxy mode, a trusted LAC, ICCN with proxy LCP naming CHAP-MD5 but no Proxy Authen AVPs at all
    (RFC 2661 §4.4.5 makes them optional): lnsd keeps the proxy LCP (no Configure-Request to the client)
    and sends its own CHAP Challenge within 5 s instead of waiting for a proxy authentication that never
    comes; the test's MD5 response is verified through the LNS RADIUS server; IPCP; routes; ping."""
    use(env, "proxy")
    client, start = call(env, lac, ALICE, lambda c: proxy_lcp(c, CHAP_MD5))
    client.run_until(lambda: client.chap_challenges, 5, "CHAP Challenge from lnsd (none means a link stuck in Authenticate)")
    p = network_up(env, client, ALICE)
    assert client.chap_challenges and client.chap_result == "Success", client.log
    assert client.lcp_requests_received == 0 and not client.lcp_sent, f"LCP renegotiated: {client.log}"
    assert p["we-authenticate"] == "CHAP-MD5", p
    ev = env.lnsd.event_list()[start:]
    assert_in_order(ev, [("proxy LCP accepted", is_("ppp.lcp", event="proxy-lcp-accepted")),
                         ("CHAP Challenge sent", is_("ppp.auth", to="Wait-Response", event="Start-CHAP")),
                         ("CHAP Response to AAA", is_("ppp.auth", to="Verifying", event="Credentials-Received")),
                         ("LNS RADIUS Access-Accept", is_("radius.request", to="accepted")),
                         ("IPCP Opened", is_("ppp.ipcp", to="Opened"))])
    routes_and_ping(env, client, ALICE)
