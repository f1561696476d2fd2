"""Path-MTU discovery through lnsd towards a real pppd with a small MRU: `home` pings the remote LAN of
a pppd CPE (UML guest, dlab.uml / dlab.pppd_cpe) that negotiated `mru 1000` (RFC 1661 §6.1) with
DF set and 1400 octets of data (`ping -M do -s 1400`, a 1428-octet IPv4 packet). lnsd must not
fragment it (RFC 791 §3.1 DF) and must not lose it silently: it answers the sender with an ICMP
Destination Unreachable "fragmentation needed and DF set" carrying Next-Hop MTU 1000 (RFC 792,
RFC 1191 §4), written into its TUN so that the kernel routes it back to `home`, whose ping prints
"Frag needed and DF set (mtu = 1000)". The same ping with 900 octets fits and is answered.

Lab: the default topology with `cpe: pppd`, one dial-out site; per-test pcaps judged by tshark."""
from __future__ import annotations

import re

import pytest

from dlab import lab as L
from dlab import uml
from dlab.dialout_lab import (build_dir_or_skip, default_topology, site_destination, site_key, site_number,
                              start_daemons, wait_dialout_state)
from dlab.wait import wait_for

pytestmark = [pytest.mark.interop, pytest.mark.dialout, pytest.mark.ppp]

K = 48  # the site (numbering of dlab.dialout_lab: destination 10.10.48.0/24, CPE address 198.18.48.2)
DOMAIN, RD = "L2TP-dial-out.de.dt", "0.0.0.0:65000"


def _topology(raw: dict) -> None:
    raw["cpe"] = "pppd"
    raw["radius"]["home"]["users"].append({
        "name": f"{RD}/{site_destination(K)}@{DOMAIN}", "check": ["Service-Type == Outbound-User", "Auth-Type := Accept"],
        "reply": ["Service-Type = Outbound-User", "Tunnel-Type:1 = L2TP", "Tunnel-Medium-Type:1 = IPv4",
                  'Tunnel-Server-Endpoint:1 = "198.51.100.2"', 'Tunnel-Password:1 = "lac-secret"',
                  f'ERX-Dial-Out-Number = "{site_number(K)}"', f'ERX-PPP-Username = "lns-{K}"',
                  f'ERX-PPP-Password = "lns-{K}-pass"', "ERX-Bearer-Type = Digital", "ERX-PPP-Auth-Protocol = CHAP"]})
    raw["radius"]["lns"]["users"].append({
        "name": f"cpe-t{K}", "check": ['Cleartext-Password := "cpe-pass"'],
        "reply": ["Service-Type = Framed-User", "Framed-Protocol = PPP", f"Framed-IP-Address = 198.18.{K}.2",
                  f'Framed-Route = "10.10.{K}.0/24 198.18.{K}.2 1"']})


def _daemons(c: dict) -> None:
    for role in ("isdn2", "lac2", "cpe2"):
        c[role] = None
    c["isdn"]["numbers"][site_number(K)] = {"behaviour": "answer"}
    c["cpe"]["sites"].append({"number": site_number(K), "name": f"cpe-t{K}", "secret": "cpe-pass",
                              "require_auth": "chap", "users": {f"lns-{K}": f"lns-{K}-pass"}})
    c["pppd"] = {site_number(K): ["mru", "1000"]}


@pytest.fixture(scope="module")
def lab():
    bdir = build_dir_or_skip()
    why = uml.unavailable_reason()
    if why:
        pytest.skip(why)
    with L.Lab(default_topology(_topology)) as lb:
        lb.d = start_daemons(lb, bdir, configure=_daemons)
        yield lb


def ping(lab, size: int) -> str:
    cp = lab.exec("home", ["ping", "-n", "-c", "1", "-W", "2", "-M", "do", "-s", str(size), f"198.18.{K}.2"],
                  check=False, timeout=30)
    return cp.stdout + cp.stderr


def icmp_counters(lab) -> dict:
    vr = next(v for v in lab.d.ctl("show", "dataplane") if v["virtual-router"] == "default")
    return vr["icmp-frag-needed"]


@pytest.mark.req("DP.icmp-frag-needed", "DP.peer-mru")
def test_a_df_packet_over_the_peers_mru_gets_fragmentation_needed_with_the_mru(lab, tshark):
    lab.exec("home", ["ping", "-c", "1", "-W", "1", site_destination(K)], check=False)   # the dial-out trigger
    wait_dialout_state(lab.d, site_key(K), {"inService"}, 40)
    # right after IPCP the guest's route back may still be coming up: wait for a small ping's answer
    wait_for(lambda: " 0% packet loss" in ping(lab, 900), 20, "a 928-octet DF ping answered (fits MRU 1000)")
    before = icmp_counters(lab)["sent"]
    out = ping(lab, 1400)
    assert re.search(r"Frag needed and DF set \(mtu = 1000\)", out), out
    assert icmp_counters(lab)["sent"] == before + 1, icmp_counters(lab)
    over = lab.d.ctl("show", "l2tp")["system"]["data-path"]["tx-over-mru"]
    assert over >= 1, "the DF packet was not sent (RFC 791 §3.1)"
    tshark.expect("core", ppp={"ip"})
