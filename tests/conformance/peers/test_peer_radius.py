"""The emulated peers with their own RADIUS servers (real FreeRADIUS, network namespaces).

lac-emu (JunosE "Implementing L2TP" "Sequence of Events on the LAC"): a CPE dials lac-emu's number; after LCP and CHAP
with it, lac-emu asks ITS RADIUS server (FreeRADIUS on `aaa`) with the client's CHAP response; the
Access-Accept's RFC 2868 tunnel attributes name the LNS (a scripted LNS, dl-lns-script --accept), to
which it sends ICRQ/ICCN with proxy LCP and proxy authentication. A user the server rejects, and a
user accepted without tunnel attributes, are refused: the CPE's call is released.

cpe-emu: in the default dial-out lab (lnsd, real home / LNS RADIUS servers), the CPE checks the
LNS's CHAP (vr `default`) or PAP (vr `vr-b`) response with ITS RADIUS server (FreeRADIUS in the
`cpe` namespace): accepted -> the dial-out session reaches inService; rejected -> no network phase.

Binaries: $DL_BUILD_DIR (default build/); the cpe-emu part also needs lns/lnsd/lnsd and lnsctl.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlab.control_api import request as control
from dlab.dialout_lab import LabSpec, open_lab
from dlab.wait import wait_for

SECRET = "peers-secret"          # the L2TP tunnel secret of lac-emu and the scripted LNS
LAC_AAA_SECRET = "lac-aaa-secret"
CPE_AAA_SECRET = "cpe-aaa-secret"

TUNNEL_REPLY = [
    "Tunnel-Type:1 = L2TP",
    "Tunnel-Medium-Type:1 = IPv4",
    'Tunnel-Server-Endpoint:1 = "198.51.100.1"',
    f'Tunnel-Password:1 = "{SECRET}"',
    "Tunnel-Preference:1 = 1",
    'Tunnel-Assignment-Id:1 = "lns-a"',
    'Tunnel-Client-Auth-Id:1 = "lac"',
]

# A scripted LNS, lac-emu (+ isdn-emu, cpe-emu) and the LAC's FreeRADIUS server on one link.
LAC_TOPOLOGY = {
    "name": "peer-radius",
    "description": 'scripted LNS, lac-emu with its own FreeRADIUS server (JunosE "Implementing L2TP")',
    "hosts": {"lns": {}, "lac": {}, "aaa": {}},
    "links": [{"name": "core", "ends": {"lns": "198.51.100.1/24", "lac": "198.51.100.2/24",
                                        "aaa": "198.51.100.10/24"}}],
    "radius": {"lac-aaa": {
        "host": "aaa", "address": "198.51.100.10", "secret": LAC_AAA_SECRET, "clients": ["198.51.100.2"],
        "users": [
            {"name": "cpe-remote@radius.example", "check": ['Cleartext-Password := "cpe-pass"'],
             "reply": TUNNEL_REPLY},
            # The server knows this user with another password: the CHAP check fails -> Access-Reject.
            {"name": "rejected@radius.example", "check": ['Cleartext-Password := "not-the-cpe-pass"'],
             "reply": TUNNEL_REPLY},
            # Accepted, but without tunnel attributes: lac-emu has nowhere to tunnel the call.
            {"name": "notunnel@radius.example", "check": ['Cleartext-Password := "cpe-pass"'],
             "reply": ["Service-Type = Framed-User"]},
        ]}},
}

SITES = {"5552000": "cpe-remote@radius.example", "5552001": "rejected@radius.example",
         "5552002": "notunnel@radius.example"}


def events(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()] if path.exists() else []


def auth_detail(lab, server: str) -> str:
    """FreeRADIUS's detail log of the Access-Requests `server` received (rlm_detail auth_detail)."""
    f = lab.run_dir / "radius" / server / "run" / "auth-detail"
    return f.read_text() if f.exists() else ""


def _lac_daemons(c: dict) -> None:
    """isdn-emu, lac-emu (asking its FreeRADIUS server which LNS to tunnel to) and cpe-emu, all in
    `lac`; no lnsd (the test runs dl-lns-script)."""
    for role in ("isdn2", "lac2", "cpe2", "lnsd"):
        c[role] = None
    c["isdn"]["numbers"] = {}
    c["lac"].update({"secret": SECRET, "hide_avps": True, "incoming_auth": "chap",
                     "domains": {"radius.example": "radius"},
                     "radius": {"servers": [{"address": "198.51.100.10", "secret": LAC_AAA_SECRET}],
                                "source": "198.51.100.2", "nas_ip": "198.51.100.2", "nas_identifier": "lac-emu"}})
    c["cpe"]["sites"] = [{"number": n, "name": name, "secret": "cpe-pass"} for n, name in SITES.items()]


# The LAC tests' lab: this module's second (the module's `lab`, for the CPE tests, is below).
LAC_LAB = LabSpec(topology=LAC_TOPOLOGY, configure=_lac_daemons, hosts={"cpe": "lac"})


@pytest.fixture(scope="module")
def lac_lab():
    with open_lab(LAC_LAB) as lab:
        yield lab


def lac_state(lab) -> dict:
    return control(lab.run_dir / "lac.ctl", "show state")


@pytest.mark.req("PEER.lac-radius", "LAB.freeradius")
def test_lac_asks_its_radius_and_tunnels_to_the_endpoint_it_returns(lac_lab):
    lab = lac_lab
    lns = lab.start("lns-accept", "lns", [str(lab.bdir / "peers/lac/dl-lns-script"), "--accept", "198.51.100.1",
                                          "--secret", SECRET, "--timeout", "20", "--hold", "1"],
                    ready="lns-script ready")
    control(lab.run_dir / "cpe.ctl", "dial", {"number": "5552000", "called": "1701"})

    def iccn():
        return next((ln for ln in lns.log_text().splitlines() if ln.startswith("{")), None)
    got = json.loads(wait_for(iccn, 20, "the LNS named by the Access-Accept to receive the ICCN"))
    assert got["result"] == "ICCN", got
    assert got["proxy_authen_type"] == 2, f"proxy CHAP expected: {got}"
    assert got["proxy_authen_name"] == "cpe-remote@radius.example", got
    assert (got["calling_number"], got["called_number"]) == ("5552000", "1701"), got

    c = lac_state(lab)["counters"]
    assert (c["radius_requests"], c["radius_accepts"], c["tunnelled"]) == (1, 1, 1), c
    radius = lac_state(lab)["radius"]
    assert radius["accepts"] == 1 and radius["dropped"] == 0, radius

    ev = [e for e in events(lab.run_dir / "lac-events.jsonl") if e["entity"] == "lac.incoming"]
    tunnel = [e for e in ev if e["event"] == "tunnel"]
    assert len(tunnel) == 1, ev
    for part in ("Tunnel-Server-Endpoint 198.51.100.1", "Tunnel-Assignment-Id lns-a",
                 "Tunnel-Client-Auth-Id lac", "with Tunnel-Password"):
        assert part in tunnel[0]["cause"], tunnel[0]
    asked = [e for e in ev if e["event"] == "radius-request"]
    assert len(asked) == 1, ev
    # Figure (docs/performance.md): the RADIUS decision, Access-Request sent -> tunnel chosen.
    print(f"\nlac-emu RADIUS decision (real FreeRADIUS): "
          f"{(tunnel[0]['time_ns'] - asked[0]['time_ns']) / 1e6:.2f} ms")

    # What FreeRADIUS received (its detail log): the client's CHAP response and the call's facts.
    detail = auth_detail(lab, "lac-aaa")
    for item in ('User-Name = "cpe-remote@radius.example"', "CHAP-Password = 0x", "CHAP-Challenge = 0x",
                 "NAS-Port-Type = ISDN", "Service-Type = Framed-User", "Framed-Protocol = PPP",
                 'Called-Station-Id = "1701"', 'Calling-Station-Id = "5552000"', 'NAS-Identifier = "lac-emu"',
                 "NAS-IP-Address = 198.51.100.2"):
        assert item in detail, f"{item!r} not in the Access-Request:\n{detail}"


def refused(lab, site: str, counter: str, reason: str) -> None:
    before = lac_state(lab)["counters"]
    control(lab.run_dir / "cpe.ctl", "dial", {"number": site, "called": "1701"})
    wait_for(lambda: lac_state(lab)["counters"][counter] == before[counter] + 1, 15,
             f"lac-emu to count {counter}")
    after = lac_state(lab)["counters"]
    assert after["tunnelled"] == before["tunnelled"], f"a refused user was tunnelled: {after}"
    ev = [e for e in events(lab.run_dir / "lac-events.jsonl") if e["entity"] == "lac.incoming"
          and e["event"] == "refused"]
    assert ev and reason in ev[-1]["cause"], ev
    # The CPE's PPP fails authentication and the ISDN call is released: by the LAC, or by the CPE
    # hanging up on its own link-down first (both happen within microseconds; either is right).
    def isdn_released() -> bool:
        ev = events(lab.run_dir / "isdn-events.jsonl")
        calls = {e["id"] for e in ev if e["entity"] == "isdn.call" and e["event"] == "SETUP"
                 and e["cause"].startswith(f"{site} -> 1701")}
        return any(e["entity"] == "isdn.call" and e["event"] == "RELEASE" and e["id"] in calls for e in ev)
    wait_for(isdn_released, 15, f"the ISDN call of site {site} released")
    cpe_ev = [e for e in events(lab.run_dir / "cpe-events.jsonl") if e["id"] == site and e["entity"] == "cpe.call"]
    assert any(e["event"] == "link-down" for e in cpe_ev), cpe_ev

    def idle():
        return "call" not in next(s for s in control(lab.run_dir / "cpe.ctl", "show state")["sites"]
                                  if s["number"] == site)
    wait_for(idle, 10, f"site {site} idle again")


@pytest.mark.req("PEER.lac-radius-refuse", "LAB.freeradius")
def test_user_rejected_by_the_lacs_radius_is_refused(lac_lab):
    refused(lac_lab, "5552001", "refused_radius_reject", "RADIUS: Access-Reject")
    assert 'User-Name = "rejected@radius.example"' in auth_detail(lac_lab, "lac-aaa")


@pytest.mark.req("PEER.lac-radius-refuse", "LAB.freeradius")
def test_accept_without_tunnel_attributes_is_refused(lac_lab):
    refused(lac_lab, "5552002", "refused_radius_no_tunnel", "without a usable tunnel")


# ---- cpe-emu with its own RADIUS, in the default dial-out lab -----------------------------------

KEY = "default/10.10.0.0/16/10.10.1.1"
KEY_B = "vr-b/10.10.0.0/16/10.10.1.1"


def add_cpe_radius(raw: dict) -> None:
    """FreeRADIUS in the `cpe` namespace (10.10.1.254) for cpe-emu: it knows the default VR's LNS
    name with its password (accept), and vr-b's LNS name with another password (reject)."""
    raw["radius"]["cpe-aaa"] = {
        "host": "cpe", "address": "10.10.1.254", "secret": CPE_AAA_SECRET, "clients": ["10.10.1.254"],
        "users": [{"name": "lns-home", "check": ['Cleartext-Password := "lns-home-pass"']},
                  {"name": "lns-vr-b", "check": ['Cleartext-Password := "not-the-lns-vr-b-pass"']}]}


def cpe_radius_configs(configs: dict) -> None:
    section = {"servers": [{"address": "10.10.1.254", "secret": CPE_AAA_SECRET}], "source": "10.10.1.254",
               "nas_identifier": "cpe-emu"}
    for role in ("cpe", "cpe2"):
        configs[role]["radius"] = dict(section)
        site = configs[role]["sites"][0]
        site["lns_auth"] = "radius"
        site["users"] = {}  # the site's own table would refuse: only RADIUS can accept


# The plugin's module lab (dlab.pytest_plugin) for the CPE tests: the default topology with the
# CPE's own RADIUS server; the LAC tests above build their own (lac_lab: another topology).
pytestmark = pytest.mark.lab_config(topology=add_cpe_radius, configure=cpe_radius_configs)


@pytest.fixture(scope="module")
def cpe_lab(lab):
    return lab, lab.lnsd


def site_state(lab, ctl: str) -> dict:
    return control(lab.run_dir / ctl, "show state")["sites"][0]


@pytest.mark.req("PEER.cpe-radius", "PPP.mutual-auth", "LAB.freeradius")
def test_cpe_accepts_the_lns_chap_through_its_radius(cpe_lab):
    lab, d = cpe_lab
    lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)  # the dial-out trigger
    wait_for(lambda: d.ctl("show", "l2tp", "dial-out", "session", KEY).get("state") == "inService", 30,
             "dial-out session inService with the CPE checking the LNS through its RADIUS")
    site = site_state(lab, "cpe.ctl")
    assert site["lns_auth"] == {"source": "radius", "accepted": 1, "rejected": 0, "no_answer": 0,
                                "radius_requests": 1}, site
    assert site["call"]["peer_name"] == "lns-home", site
    ev = [e for e in events(lab.run_dir / "cpe-events.jsonl") if e["entity"] == "cpe.auth"]
    asked = [e for e in ev if e["event"] == "radius-request"]
    accepted = [e for e in ev if e["event"] == "lns-accepted"]
    assert len(asked) == 1 and len(accepted) == 1 and accepted[0]["cause"] == "RADIUS: Access-Accept", ev
    # Figure (docs/performance.md): the CPE's check of the LNS, Access-Request sent -> verdict.
    print(f"\ncpe-emu RADIUS check of the LNS (real FreeRADIUS): "
          f"{(accepted[0]['time_ns'] - asked[0]['time_ns']) / 1e6:.2f} ms")
    detail = auth_detail(lab, "cpe-aaa")
    for item in ('User-Name = "lns-home"', "CHAP-Password = 0x", 'Called-Station-Id = "5551001"',
                 'Calling-Station-Id = "1701"', "NAS-Port-Type = ISDN"):
        assert item in detail, f"{item!r} not in cpe-emu's Access-Request:\n{detail}"


@pytest.mark.req("PEER.cpe-radius", "LAB.freeradius")
def test_cpe_rejects_the_lns_pap_its_radius_refuses(cpe_lab):
    lab, d = cpe_lab
    lab.exec("home-b", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)  # vr-b's trigger
    wait_for(lambda: site_state(lab, "cpe2.ctl").get("lns_auth", {}).get("rejected", 0) >= 1, 30,
             "cpe-emu (vr-b site) to reject the LNS's PAP through its RADIUS")
    site = site_state(lab, "cpe2.ctl")
    assert site["lns_auth"]["accepted"] == 0 and site["lns_auth"]["radius_requests"] >= 1, site
    ev = [e for e in events(lab.run_dir / "cpe2-events.jsonl") if e["entity"] == "cpe.auth"]
    assert any(e["event"] == "lns-rejected" and e["cause"] == "RADIUS: Access-Reject" for e in ev), ev
    # The rejected LNS never reaches the network phase: the CPE's link goes down, no inService.
    wait_for(lambda: "call" not in site_state(lab, "cpe2.ctl"), 15, "the vr-b site's call cleared")
    assert d.ctl("show", "l2tp", "dial-out", "session", KEY_B).get("state") != "inService"
    detail = auth_detail(lab, "cpe-aaa")
    assert 'User-Name = "lns-vr-b"' in detail and "User-Password = " in detail, detail
