"""The dial-out in the default lab (scenarios/topologies/default.yaml): lnsd in `lns` with the real
FreeRADIUS home (192.0.2.10) and LNS (192.0.2.11) servers, lac-emu + isdn-emu in `lac`, cpe-emu in
`cpe`. A ping from `home` to 10.10.1.1 is the trigger: Access-Request with User-Name
`0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt` -> SCCRQ..OCCN to 198.51.100.2 -> PPP (the LNS
authenticates itself with ERX-PPP-Username/Password, the CPE through the LNS RADIUS server) ->
Framed-Route 10.10.1.0/24 installed -> dial-out session inService. Assertions on lnsd's JSON-lines
events, in order, with bounded waits (dlab.wait.wait_for), never sleeps.

Binaries: $DL_BUILD_DIR (default: build/, then build-int/) must hold lns/lnsd/lnsd and the peers.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from dlab.dialout_lab import KEY, control
from dlab.match import assert_in_order
from dlab.wait import wait_for

HERE = Path(__file__).parent
REPO = HERE.parents[2]

pytestmark = pytest.mark.lab_config()  # the plugin's module lab (dlab.pytest_plugin)


@pytest.fixture(scope="module")
def dialout_lab(lab):
    return lab, lab.lnsd


def first_index(events: list[dict], pred, start: int = 0) -> int:
    for i in range(start, len(events)):
        if pred(events[i]):
            return i
    return -1


@pytest.mark.req("AAA.username", "AAA.service-type", "T75.dial-out-number", "T75.ppp-credentials",
                 "T75.ppp-auth-protocol", "ROUTE.install", "T74.inService", "LAB.freeradius")
def test_ping_from_home_dials_out_to_in_service(dialout_lab):
    lab, d = dialout_lab
    # The dial-out route is in the kernel (pointing at the VR's TUN) before any trigger.
    routes = lab.exec("lns", ["ip", "-4", "route", "show"]).stdout
    assert "10.10.0.0/16 dev dlo0" in routes, routes

    lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)

    def in_service():
        s = d.ctl("show", "l2tp", "dial-out", "session")
        return [x for x in s if x.get("state") == "inService" and x["session"] == KEY]
    wait_for(in_service, 30, "dial-out session inService")

    ev = d.event_list()
    at = assert_in_order(ev, [
        ("trigger", {"entity": "dialout.session", "to": "authenticating"}),
        ("AAA grant", {"entity": "dialout.session", "to": "connecting"}),
        ("tunnel", {"entity": "l2tp.tunnel", "to": "established"}),
        ("OCCN", {"entity": "l2tp.session", "to": "established"}),
        ("LCP", {"entity": "ppp.lcp", "to": "Opened"}),
        ("routes", {"entity": "lnsd.route", "event": "access-routes-installed"}),
        ("inService", {"entity": "dialout.session", "to": "inService"}),
    ], show=lambda e: f"{e['entity']} {e.get('id')} -> {e.get('to')} {e.get('event', '')}")
    # IPCP Opened: the PPP engine publishes it after This-Layer-Up (RFC 1661 §4.4), i.e. after the
    # access routes were installed from network_up.
    assert first_index(ev, lambda e: e["entity"] == "ppp.ipcp" and e.get("to") == "Opened") > 0
    assert ev[at[0]]["id"] == KEY

    routes_ev = ev[at[5]]
    assert routes_ev["extra"]["prefixes"] == ["10.10.1.0/24", "198.18.0.2/32"], routes_ev

    one = d.ctl("show", "l2tp", "dial-out", "session", KEY)
    assert one["user_name"] == "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt"
    assert one["dial_out_number"] == "5551001"
    assert one["lac"] == "198.51.100.2"

    ppp = d.ctl("show", "ppp")
    ppp = [p for p in d.ctl("show", "ppp", "detail") if p["virtual-router"] == "default"]
    assert ppp and ppp[0]["we-authenticate"] == "CHAP-MD5", ppp  # ERX-PPP-Auth-Protocol = CHAP
    assert len(ppp) == 1 and ppp[0]["user"] == "cpe-remote" and ppp[0]["peer-ip"] == "198.18.0.2", ppp

    # The CPE side: the LNS authenticated itself with ERX-PPP-Username, IPCP gave it Framed-IP-Address.
    site = control(lab.run_dir / "cpe.ctl", "show state")["sites"][0]
    assert site["call"]["peer_name"] == "lns-home", site
    assert site["call"]["local_ip"] == "198.18.0.2", site

    # The Framed-Route is mirrored into the LNS namespace's kernel table (towards the TUN).
    wait_for(lambda: "10.10.1.0/24 dev dlo0" in lab.exec("lns", ["ip", "-4", "route", "show"]).stdout, 5,
             "kernel route 10.10.1.0/24 dev dlo0")


@pytest.mark.req("ROUTE.install", "T74.inService")
def test_remote_answers_home_through_the_dial_out(dialout_lab):
    """After inService, `remote` (10.10.1.1, default route via cpe 10.10.1.254) answers `home`
    (203.0.113.10): lnsd's dlo0 -> L2TP session -> lac-emu -> isdn-emu -> cpe-emu's PPP link ->
    its TUN cpe0 -> remote, and back through cpe0's route 203.0.113.0/24."""
    lab, d = dialout_lab

    def in_service():
        s = d.ctl("show", "l2tp", "dial-out", "session")
        return [x for x in s if x.get("state") == "inService" and x["session"] == KEY]
    if not in_service():
        lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)  # the trigger
    wait_for(in_service, 30, "dial-out session inService")
    wait_for(lambda: lab.ping("home", "10.10.1.1", count=3), 20, "ping 10.10.1.1 from home answered")
    tun = control(lab.run_dir / "cpe.ctl", "show state")["sites"][0]["tun"]
    assert tun["up"] and tun["name"] == "cpe0", tun
    assert tun["to_tun"] >= 1 and tun["from_tun"] >= 1 and tun["open_errors"] == 0, tun
    routes = lab.exec("cpe", ["ip", "-4", "route", "show"]).stdout
    assert "203.0.113.0/24 dev cpe0" in routes, routes


@pytest.mark.req("T77.dormant")
def test_reset_clears_the_call_and_its_routes(dialout_lab):
    lab, d = dialout_lab

    def in_service():
        return [x for x in d.ctl("show", "l2tp", "dial-out", "session")
                if x.get("state") == "inService" and x["session"] == KEY]
    if not in_service():  # alone (or on another xdist worker than the module's first test)
        lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)  # the trigger
    wait_for(in_service, 30, "dial-out session inService")
    d.ctl("l2tp", "dial-out", "session", "reset", KEY)
    wait_for(lambda: "10.10.1.0/24" not in lab.exec("lns", ["ip", "-4", "route", "show"]).stdout, 10,
             "kernel route 10.10.1.0/24 removed")
    s = d.ctl("show", "l2tp", "dial-out", "session", KEY)
    assert s["state"] == "dormant", s
    wait_for(lambda: not [x for x in d.ctl("show", "l2tp", "session") if x["destination"] == "198.51.100.2"], 10,
             "L2TP session to lac cleared (CDN)")


@pytest.mark.req("VR.separate", "AAA.username")
def test_second_virtual_router_same_prefix_other_radius_and_lac(dialout_lab):
    lab, d = dialout_lab
    key_b = "vr-b/10.10.0.0/16/10.10.1.1"
    assert "10.10.0.0/16 dev dlo1" in lab.exec("lns", ["ip", "-4", "route", "show", "table", "100"]).stdout
    lab.exec("home-b", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)
    wait_for(lambda: d.ctl("show", "l2tp", "dial-out", "session", key_b).get("state") == "inService", 30,
             "vr-b dial-out session inService")
    s = d.ctl("show", "l2tp", "dial-out", "session", key_b)
    assert s["user_name"] == "10.10.1.1@L2TP-dial-out.vr-b.example", "no route distinguisher: no RD part"
    assert s["lac"] == "198.51.100.3" and s["dial_out_number"] == "5552002", s
    wait_for(lambda: "10.10.1.0/24 dev dlo1" in lab.exec("lns", ["ip", "-4", "route", "show", "table", "100"]).stdout,
             5, "vr-b access route in table 100")
    ppp = [p for p in d.ctl("show", "ppp", "detail") if p["virtual-router"] == "vr-b"]
    # The LNS checks the CPE with the profile's CHAP (as on incoming calls); ERX-PPP-Auth-Protocol =
    # PAP is how the LNS lets the CPE authenticate it: the CPE asks PAP (its config) and gets
    # ERX-PPP-Username/Password lns-vr-b (docs/dialout.md "ERX-PPP-Auth-Protocol").
    assert len(ppp) == 1 and ppp[0]["we-authenticate"] == "CHAP-MD5" and ppp[0]["peer-authenticates"] == "PAP", ppp


@pytest.mark.req("T74.inhibited")
def test_unknown_destination_is_rejected_by_home_radius(dialout_lab):
    """10.10.2.1 is in the dial-out prefix but the home server has no such user: Access-Reject ->
    inhibited with the reason in the event, no call placed."""
    lab, d = dialout_lab
    key = "default/10.10.0.0/16/10.10.2.1"
    lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.2.1"], check=False)
    wait_for(lambda: d.ctl("show", "l2tp", "dial-out", "session", key).get("state") == "inhibited", 15,
             "session inhibited after Access-Reject")
    ev = [e for e in d.event_list() if e["entity"] == "dialout.session" and e["id"] == key]
    assert [(e["from"], e["to"], e["event"], e["cause"]) for e in ev][-1] == \
        ("authenticating", "inhibited", "aaa-deny", "access-reject"), ev
    s = d.ctl("show", "l2tp", "dial-out", "session", key)
    assert s["user_name"] == "0.0.0.0:65000/10.10.2.1@L2TP-dial-out.de.dt"
    assert not s["call"]["placed"], s
