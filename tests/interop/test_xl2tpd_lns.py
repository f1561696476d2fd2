"""xl2tpd 1.3.18 with kernel L2TP (PPPoL2TP) and pppd 2.4.9 as a complete third-party LNS that our
LAC meets: lac-emu places an incoming call (RFC 2661 §7.4.1 ICRQ/ICRP/ICCN) to xl2tpd for
cpe-emu's dial-in, and pppd on the LNS side runs PPP with cpe-emu on the far side of the ISDN
call up to IPCP.

One user-mode Linux guest (dlab.uml) in a host `xlns` on the `core` link (198.51.100.4) runs
xl2tpd with one [lns default] section (pppd `require-chap`, addresses from its own range).
lac-emu (198.51.100.2, no tunnel secret) tunnels the domain corp.example to it; cpe-emu's site
5553001 dials lac-emu's number 1701 as alice@corp.example. lac-emu authenticates the client
itself first (incoming_auth chap) and sends proxy LCP / authentication AVPs (RFC 2661 §4.4.5);
xl2tpd hands the session to pppd, which negotiates LCP again and authenticates alice itself. The
per-test pcaps are judged by tshark (dlab.pytest_plugin). Waits are bounded; nothing sleeps.
"""
from __future__ import annotations

import re

import pytest

from dlab import uml
from dlab.dialout_lab import control
from dlab.wait import WaitTimeout, wait_for

pytestmark = [pytest.mark.interop, pytest.mark.l2tp, pytest.mark.ppp,
              pytest.mark.skipif(uml.unavailable_reason() is not None, reason=str(uml.unavailable_reason()))]

XLNS = "198.51.100.4"
DOMAIN = "corp.example"
ALICE = {"site": "5553001", "user": f"alice@{DOMAIN}", "password": "alice-pass", "called": "1701"}
LOCAL_IP, RANGE = "198.18.20.1", "198.18.20.10-198.18.20.20"
# the remote site xl2tpd dials out to through lac-emu (its OCRQ), and the addresses its pppd gives
OUT = {"site": "5554001", "name": "cpe-out", "secret": "cpe-out-pass", "local": "198.18.21.1", "peer": "198.18.21.2"}


def _topology(raw: dict) -> None:
    raw["hosts"]["xlns"] = {}
    for lk in raw["links"]:
        if lk["name"] == "core":
            lk["ends"]["xlns"] = f"{XLNS}/24"


def _daemons(c: dict) -> None:
    for role in ("isdn2", "lac2", "cpe2"):
        c[role] = None
    c["lac"].update({"incoming": True, "incoming_auth": "chap", "domains": {DOMAIN: XLNS}, "secret": ""})
    c["cpe"]["sites"] = [{"number": ALICE["site"], "name": ALICE["user"], "secret": ALICE["password"]},
                         {"number": OUT["site"], "name": OUT["name"], "secret": OUT["secret"], "require_auth": "chap",
                          "users": {"xlns": "xlns-pass"}}]
    c["isdn"]["numbers"] = {OUT["site"]: {"behaviour": "answer"}}


XL2TPD_CONF = f"""[global]
listen-addr = {XLNS}
port = 1701
access control = no

[lns default]
ip range = {RANGE}
local ip = {LOCAL_IP}
require chap = yes
refuse pap = yes
require authentication = yes
name = xlns
pppoptfile = /etc/ppp/options.xlns
ppp debug = yes
length bit = yes

[lac out]
lns = 198.51.100.2
pppoptfile = /etc/ppp/options.out
name = xlns
ppp debug = yes
length bit = yes
autodial = no
redial = no
"""
PPPD_OPTIONS = "name xlns\ndebug\nlogfile /mnt/out/pppd-lns.log\nnoccp\n"
# the outgoing call's pppd: authenticates itself to the site (chap-secrets `xlns`), gives the addresses
PPPD_OUT = f"name xlns\nuser xlns\nnoauth\ndebug\nlogfile /mnt/out/pppd-out.log\nnoccp\n{OUT['local']}:{OUT['peer']}\n"


# The plugin's module lab, with the xl2tpd LNS guest started once the daemons are up; an outgoing
# call's pppd also reads /var/l2tp/<number>.options (xl2tpd's control.c).
pytestmark.append(pytest.mark.lab_config(topology=_topology, configure=_daemons, start=uml.xl2tpd_guest_hook(
    "xl2tpd-lns", "xlns", {XLNS: "xl2tpd.conf"},
    {"xl2tpd.conf": XL2TPD_CONF, "options.xlns": PPPD_OPTIONS, "options.out": PPPD_OUT,
     "chap-secrets": f'"{ALICE["user"]}" * "{ALICE["password"]}" *\n"xlns" * "xlns-pass" *\n'},
    extra=[f"echo '# options of calls to {OUT['site']}: /etc/ppp/options.out' > /var/l2tp/{OUT['site']}.options"],
    ready_log="xl2tpd.log")))


def site(lab, number: str = ALICE["site"]) -> dict:
    return next(s for s in control(lab.run_dir / "cpe.ctl", "show state")["sites"] if s["number"] == number)


def logs(lab, number: str = ALICE["site"], pppd: str = "pppd-lns.log") -> str:
    return (f"xl2tpd:\n{lab.guest.read_out('xl2tpd.log')[-2500:]}\npppd:\n{lab.guest.read_out(pppd)[-2500:]}\n"
            f"cpe-emu: {site(lab, number)}")


@pytest.mark.req("L2TP.incoming")
def test_lac_emu_incoming_call_to_xl2tpd_with_ppp_to_ipcp(lab, tshark):
    control(lab.run_dir / "cpe.ctl", "dial", {"number": ALICE["site"], "called": ALICE["called"]})
    try:
        call = wait_for(lambda: (c := site(lab).get("call")) and c.get("ipcp") == "Opened" and c, 40,
                        "cpe-emu's IPCP Opened with pppd behind xl2tpd")
    except WaitTimeout as e:
        raise AssertionError(f"{e}\n{logs(lab)}") from None
    assert call["peer_ip"] == LOCAL_IP, call          # pppd's `local ip` of xl2tpd.conf
    assert re.fullmatch(r"198\.18\.20\.(1\d|20)", call["local_ip"]), call   # from xl2tpd's ip range
    # pppd logs the addresses after it has sent its IPCP Configure-Ack, i.e. possibly after
    # cpe-emu saw IPCP Opened: wait for the line (bounded) rather than read the log once.
    try:
        pppd = wait_for(lambda: (t := lab.guest.read_out("pppd-lns.log")) and "remote IP address" in t and t, 10,
                        "pppd's 'remote IP address' line")
    except WaitTimeout as e:
        raise AssertionError(f"{e}\n{logs(lab)}") from None
    assert re.search(rf'rcvd \[CHAP Response id=0x[0-9a-f]+ <[0-9a-f]+>, name = "{re.escape(ALICE["user"])}"\]', pppd), pppd[-3000:]
    assert "sent [CHAP Success" in pppd, pppd[-3000:]
    assert "Using l2tp kernel support" in lab.guest.read_out("xl2tpd.log")
    tshark.expect("core", l2tp={"SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN"}, ppp={"lcp", "chap", "ipcp"})


@pytest.mark.req("L2TP.outgoing")
def test_xl2tpd_places_an_outgoing_call_to_lac_emu(lab, tshark):
    """xl2tpd's control pipe `o <lac> <number>` (xl2tpd(8)): an OCRQ (RFC 2661 §7.4.2) to lac-emu,
    which dials cpe-emu's site over isdn-emu; pppd (the LNS side) authenticates itself to the
    site with CHAP and gives it its address in IPCP."""
    assert lab.guest.run(f"echo 'o out {OUT['site']}' > /var/run/xl2tpd/xl2tpd.control") == 0
    try:
        call = wait_for(lambda: (c := site(lab, OUT["site"]).get("call")) and c.get("ipcp") == "Opened" and c, 40,
                        "cpe-emu's IPCP Opened on xl2tpd's outgoing call")
    except WaitTimeout as e:
        raise AssertionError(f"{e}\n{logs(lab, OUT['site'], 'pppd-out.log')}\n"
                             f"lac-emu: {control(lab.run_dir / 'lac.ctl', 'show state')}\n"
                             f"isdn-emu: {control(lab.run_dir / 'isdn.ctl', 'show state')}") from None
    assert (call["local_ip"], call["peer_ip"]) == (OUT["peer"], OUT["local"]), call
    assert site(lab, OUT["site"])["lns_auth"]["accepted"] >= 1, "cpe-emu authenticated xl2tpd's pppd (CHAP)"
    tshark.expect("core", l2tp={"SCCRQ", "SCCRP", "SCCCN", "OCRQ", "OCRP", "OCCN"}, ppp={"lcp", "chap", "ipcp"})
