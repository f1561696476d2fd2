"""pppd 2.4.9 (a PPP implementation we did not write) as the remote CPE of lnsd's dial-out.

One lab for the module, topology option `cpe: pppd` (dlab.pppd_cpe): one user-mode Linux guest in
the `cpe` host runs one pppd per site on its own serial line, each relayed by cpe-line to the
site's ISDN number at isdn-emu; lnsd, lac-emu, isdn-emu and real FreeRADIUS as in the dial-out
lab. A ping from `home` to 10.10.<k>.1 triggers site k (as in JunosE "L2TP Dial-Out"'s example), and:

- the remote office of JunosE "L2TP Dial-Out"'s example (5551001): CHAP both ways, IPCP, the remote LAN routed by the guest:
  `home` pings `remote` (10.10.1.1) through the dial-out;
- each JunosE "L2TP Dial-Out" Table 75 ERX-PPP-Auth-Protocol value against a pppd requiring CHAP and one requiring
  PAP (the same cases cpe-emu meets in tests/conformance/dialout/test_table75.py);
- each refusal: pppd's own secret wrong (the LNS's CHAP Failure), the LNS's secret wrong at pppd
  (pppd's CHAP Failure), pppd refusing to authenticate itself, pppd refusing the protocol the
  LNS requires — the session's state and the CDN lnsd sends;
- pppd options cpe-emu never sends: MRU 1000 (and a ping bigger than it), an async control
  character map on an analog call, LCP Echo-Requests every second.

Every test's per-link pcaps are judged by tshark (the `tshark` fixture of dlab.pytest_plugin).
Waits are bounded (dlab.wait.wait_for); nothing sleeps.
"""
from __future__ import annotations

import re

import pytest

from dlab import uml
from dlab.dialout_lab import site_destination, site_key, site_number, wait_dialout_state
from dlab.wait import WaitTimeout, wait_for

pytestmark = [pytest.mark.interop, pytest.mark.dialout, pytest.mark.ppp,
              pytest.mark.skipif(uml.unavailable_reason() is not None, reason=str(uml.unavailable_reason()))]

DOMAIN = "L2TP-dial-out.de.dt"
RD = "0.0.0.0:65000"
dest, key, number = site_destination, site_key, site_number
CHECK = ["Service-Type == Outbound-User", "Auth-Type := Accept"]


def accept(k: int, auth: str | None = "CHAP", bearer: str = "Digital", lns_pass: str | None = None) -> list[str]:
    r = ["Service-Type = Outbound-User", "Tunnel-Type:1 = L2TP", "Tunnel-Medium-Type:1 = IPv4",
         'Tunnel-Server-Endpoint:1 = "198.51.100.2"', 'Tunnel-Password:1 = "lac-secret"',
         f'ERX-Dial-Out-Number = "{number(k)}"', f'ERX-PPP-Username = "lns-{k}"',
         f'ERX-PPP-Password = "{lns_pass or f"lns-{k}-pass"}"', f"ERX-Bearer-Type = {bearer}"]
    if auth is not None:
        r.append(f"ERX-PPP-Auth-Protocol = {auth}")
    return r


# Table 75 ERX-PPP-Auth-Protocol value -> (pppd requires, protocol the LNS is authenticated with,
# or None when pppd cannot authenticate the LNS the way it requires and the call goes).
AUTH_CASES = {
    31: ("None", "none", "none"),
    32: ("None", "chap", None),
    33: ("PAP", "pap", "PAP"),
    34: ("PAP", "chap", None),
    35: ("CHAP", "chap", "CHAP-MD5"),
    36: ("CHAP", "pap", None),
    37: ("PAP-CHAP", "chap", "CHAP-MD5"),
    38: ("PAP-CHAP", "pap", "PAP"),
    39: ("CHAP-PAP", "pap", "PAP"),
    40: ("CHAP-PAP", "chap", "CHAP-MD5"),
}
WRONG_CPE_SECRET, WRONG_LNS_SECRET, REFUSE_AUTH, REFUSE_CHAP = 41, 42, 43, 44
MRU_1000, ASYNCMAP_ANALOG, LCP_ECHO = 45, 46, 47
PPPD_OPTIONS = {MRU_1000: ["mru", "1000"], ASYNCMAP_ANALOG: ["asyncmap", "0x000a0000"],
                LCP_ECHO: ["lcp-echo-interval", "1", "lcp-echo-failure", "3"], REFUSE_CHAP: ["refuse-chap"]}
SITES = sorted(AUTH_CASES) + [WRONG_CPE_SECRET, WRONG_LNS_SECRET, REFUSE_AUTH, REFUSE_CHAP, MRU_1000,
                              ASYNCMAP_ANALOG, LCP_ECHO]


def _topology(raw: dict) -> None:
    raw["cpe"] = "pppd"
    home, lns = raw["radius"]["home"]["users"], raw["radius"]["lns"]["users"]
    for k in SITES:
        auth = AUTH_CASES[k][0] if k in AUTH_CASES else "CHAP"
        home.append({"name": f"{RD}/{dest(k)}@{DOMAIN}", "check": CHECK,
                     "reply": accept(k, auth=auth, bearer="Analog" if k == ASYNCMAP_ANALOG else "Digital",
                                     lns_pass="not-what-pppd-has" if k == WRONG_LNS_SECRET else None)})
        lns.append({"name": f"cpe-t{k}", "check": ['Cleartext-Password := "cpe-pass"'],
                    "reply": ["Service-Type = Framed-User", "Framed-Protocol = PPP",
                              f"Framed-IP-Address = 198.18.{k}.2", f'Framed-Route = "10.10.{k}.0/24 198.18.{k}.2 1"']})


def _daemons(c: dict) -> None:
    c["lac"]["channels"] = 32
    for role in ("isdn2", "lac2", "cpe2"):     # vr-b's LAC and site are not used here
        c[role] = None
    c["pppd"] = {}
    for k in SITES:
        c["isdn"]["numbers"][number(k)] = {"behaviour": "answer"}
        site = {"number": number(k), "name": f"cpe-t{k}", "secret": "cpe-pass",
                "require_auth": AUTH_CASES[k][1] if k in AUTH_CASES else "chap",
                "users": {f"lns-{k}": f"lns-{k}-pass"}}
        if k == WRONG_CPE_SECRET:
            site["fault"] = "wrong-password"
        if k == REFUSE_AUTH:
            site["fault"] = "refuse-auth"
        c["cpe"]["sites"].append(site)
        if k in PPPD_OPTIONS:
            c["pppd"][number(k)] = PPPD_OPTIONS[k]


def _boot_figure(lab) -> None:
    """The guest's boot time, a figure docs/interop.md quotes (the daemons' and guest's set-up is
    the module's first test's set-up time in the JUnit XML)."""
    print(f"\nUML guest booted in {lab.lnsd.pppd.guest.boot_seconds:.1f} s")


# The plugin's module lab (per-test pcaps cut from it); `cpe: pppd` in the topology puts pppd on a
# UML guest in place of cpe-emu: `lab.lnsd.pppd` is the guest and its relays.
pytestmark.append(pytest.mark.lab_config(topology=_topology, configure=_daemons, start=_boot_figure))


# ---- helpers ----------------------------------------------------------------------------------

def trigger(lab, address: str) -> None:
    lab.exec("home", ["ping", "-c", "1", "-W", "1", address], check=False)


def session(lab, k: int) -> dict:
    return lab.lnsd.ctl("show", "l2tp", "dial-out", "session", key(k))


def wait_state(lab, k: int, states: set[str], within: float = 40) -> dict:
    return wait_dialout_state(lab.lnsd, key(k), states, within, lambda: f"pppd log:\n{pppd_log(lab, k)[-3000:]}")


def pppd_log(lab, k: int) -> str:
    return lab.lnsd.pppd.log(number(k))


def wait_log(lab, k: int, pattern: str, within: float = 20) -> re.Match:
    try:
        return wait_for(lambda: re.search(pattern, pppd_log(lab, k), re.M), within, f"pppd of site {k}: {pattern}")
    except WaitTimeout as e:
        raise AssertionError(f"{e}\n{pppd_log(lab, k)[-3000:]}") from None


def ppp_of(lab, user: str) -> dict | None:
    p = [x for x in lab.lnsd.ctl("show", "ppp", "detail") if x.get("user") == user]
    return p[-1] if p else None


def lnsd_cdns(lab) -> list[dict]:
    """CDNs lnsd (198.51.100.1) sent on the core link so far, decoded by tshark: Result/Error Code
    (RFC 2661 §4.4.2) and Assigned Session ID."""
    import subprocess
    cp = subprocess.run(["tshark", "-n", "-r", str(lab.pcaps["core"]), "-Y",
                         "ip.src == 198.51.100.1 && l2tp.avp.message_type == 14", "-T", "fields",
                         "-e", "frame.number", "-e", "l2tp.result_code", "-e", "l2tp.avp.error_code",
                         "-e", "l2tp.avp.error_message", "-e", "l2tp.avp.assigned_session_id"],
                        capture_output=True, text=True, timeout=60)
    out = []
    for line in cp.stdout.splitlines():
        f = line.split("\t") + [""] * 5
        out.append({"frame": int(f[0]), "result": int(f[1] or 0), "error": int(f[2] or 0) if f[2] else None,
                    "message": f[3], "session": f[4]})
    return out


def new_cdn(lab, before: int, within: float = 30) -> dict:
    """The first CDN lnsd sent after `before` CDNs (the capture is flushed per packet)."""
    return wait_for(lambda: (lambda c: c[before] if len(c) > before else None)(lnsd_cdns(lab)), within,
                    "a CDN from lnsd on the core link")


# ---- the example remote office: CHAP both ways, the LAN behind pppd --------------------------------

@pytest.mark.req("T74.inService", "T75.ppp-auth-protocol")
def test_pppd_answers_the_dial_out_chap_both_ways_and_routes_the_remote_lan(lab, tshark):
    trigger(lab, "10.10.1.1")
    s = wait_state(lab, 1, {"inService"}, within=30)
    assert s["state"] == "inService"
    p = ppp_of(lab, "cpe-remote")
    assert p and p["we-authenticate"] == "CHAP-MD5" and p["peer-authenticates"] == "CHAP-MD5", p
    # pppd checked lnsd (ERX-PPP-Username lns-home) and lnsd checked pppd (cpe-remote), both CHAP MD5
    wait_log(lab, 1, r'rcvd \[CHAP Response id=0x[0-9a-f]+ <[0-9a-f]+>, name = "lns-home"\]')
    wait_log(lab, 1, r"sent \[CHAP Success")
    wait_log(lab, 1, r"rcvd \[CHAP Success")
    wait_log(lab, 1, r"local  IP address 198\.18\.0\.2\nremote IP address 198\.18\.0\.1")
    # home reaches remote through pppd's guest and its LAN interface, and remote answers
    ping = lab.exec("home", ["ping", "-n", "-c", "4", "-i", "0.3", "-W", "2", "10.10.1.1"], check=False, timeout=30)
    got = int(re.search(r"(\d+) received", ping.stdout).group(1))
    assert got >= 3, f"pings answered through pppd: {ping.stdout}\n{pppd_log(lab, 1)[-2000:]}"
    tshark.expect("core", l2tp={"SCCRQ", "SCCRP", "SCCCN", "OCRQ", "OCRP", "OCCN"},
                  ppp={"lcp", "chap", "ipcp", "ip"})
    tshark.expect("aaa", radius={1, 2})


# ---- Table 75 ERX-PPP-Auth-Protocol against pppd ------------------------------------------------

@pytest.mark.req("T75.ppp-credentials", "T75.ppp-auth-protocol")
@pytest.mark.parametrize("k", sorted(AUTH_CASES), ids=lambda k: f"{AUTH_CASES[k][0]}-vs-pppd-{AUTH_CASES[k][1]}")
def test_ppp_auth_protocol_against_pppd(lab, tshark, k):
    value, requires, expected = AUTH_CASES[k]
    # counted before the trigger: a refusal can end the call before a count taken after it
    before = len(lnsd_cdns(lab)) if expected is None else 0
    trigger(lab, dest(k))
    if expected is not None:
        wait_state(lab, k, {"inService"})
        p = wait_for(lambda: ppp_of(lab, f"cpe-t{k}"), 10, f"PPP session of cpe-t{k}")
        assert p["peer-authenticates"] == expected, \
            f"ERX-PPP-Auth-Protocol {value} against pppd require-{requires}: {p}"
        assert p["we-authenticate"] == "CHAP-MD5", p
        wait_log(lab, k, r"remote IP address 198\.18\.0\.1")
        log = pppd_log(lab, k)
        if expected == "PAP":
            assert re.search(rf'rcvd \[PAP AuthReq id=0x[0-9a-f]+ user="lns-{k}"', log), log[-3000:]
        elif expected == "CHAP-MD5":
            assert re.search(rf'rcvd \[CHAP Response id=0x[0-9a-f]+ <[0-9a-f]+>, name = "lns-{k}"\]', log), log[-3000:]
        else:
            assert "rcvd [PAP AuthReq" not in log and "rcvd [CHAP Response" not in log, log[-3000:]
        tshark.expect("core", ppp={"lcp", "ipcp", "chap"} | ({"pap"} if expected == "PAP" else set()))
        return
    # pppd cannot authenticate the LNS the way it requires: it refuses lnsd's LCP Configure-Request
    # (Nak/Reject of the Authentication-Protocol it is asked to use, or lnsd Naks pppd's), lnsd
    # gives up LCP and ends the call: CDN Result Code 3 (RFC 2661 §4.4.2), session inhibited.
    s = wait_state(lab, k, {"inhibited", "inService", "failed", "dormant"})
    assert s["state"] == "inhibited", s
    cdn = new_cdn(lab, before)
    assert cdn["result"] == 3, f"lnsd ends the call with CDN Result Code 3: {cdn}"
    assert ppp_of(lab, f"cpe-t{k}") is None, "no PPP session at the LNS"
    wait_log(lab, k, r"sent \[LCP Conf(Nak|Rej)|rcvd \[LCP Conf(Nak|Rej)")
    tshark.expect("core", l2tp={"OCRQ", "OCCN", "CDN"}, ppp={"lcp"})


# ---- refusals ------------------------------------------------------------------------------

def _refused(lab, k: int, pppd_says: str) -> tuple[dict, dict, str]:
    """Trigger site k, wait for the session to settle and pppd's log to show `pppd_says`; the
    session, lnsd's CDN and pppd's log."""
    before = len(lnsd_cdns(lab))
    trigger(lab, dest(k))
    s = wait_state(lab, k, {"inhibited", "inService", "failed", "dormant"})
    wait_log(lab, k, pppd_says)
    return s, new_cdn(lab, before), pppd_log(lab, k)


@pytest.mark.req("T74.inhibited")
def test_pppd_with_a_wrong_secret_gets_chap_failure(lab, tshark):
    s, cdn, log = _refused(lab, WRONG_CPE_SECRET, r"rcvd \[CHAP Failure")
    assert s["state"] == "inhibited", s
    assert cdn["result"] == 3, f"the LNS ends the call it could not authenticate: {cdn}"
    assert ppp_of(lab, f"cpe-t{WRONG_CPE_SECRET}") is None
    tshark.expect("core", l2tp={"OCRQ", "OCCN", "CDN"}, ppp={"lcp", "chap"})
    tshark.expect("aaa", radius={1, 3})


@pytest.mark.req("T74.inhibited", "T75.ppp-credentials")
def test_lns_with_a_wrong_secret_gets_chap_failure_from_pppd(lab, tshark):
    s, cdn, log = _refused(lab, WRONG_LNS_SECRET, r"sent \[CHAP Failure")
    assert s["state"] == "inhibited", s
    assert cdn["result"] == 3, cdn
    tshark.expect("core", l2tp={"OCRQ", "OCCN", "CDN"}, ppp={"lcp", "chap"})


@pytest.mark.req("T74.inhibited")
def test_pppd_refusing_to_authenticate_itself(lab, tshark):
    s, cdn, log = _refused(lab, REFUSE_AUTH, r"sent \[LCP ConfRej id=0x[0-9a-f]+ <auth chap MD5>")
    assert s["state"] == "inhibited", s
    assert cdn["result"] == 3, cdn
    tshark.expect("core", l2tp={"OCRQ", "OCCN", "CDN"}, ppp={"lcp"})


@pytest.mark.req("T74.inhibited")
def test_pppd_refusing_chap_when_the_profile_requires_chap(lab, tshark):
    # pppd refusing CHAP-MD5 Naks it with the next CHAP it supports (MS-CHAPv2); lnsd does not speak it
    s, cdn, log = _refused(lab, REFUSE_CHAP, r"sent \[LCP ConfNak id=0x[0-9a-f]+ <auth chap MS-v2>\]")
    assert s["state"] == "inhibited", f"the profile authenticates with CHAP only: PAP is not accepted: {s}"
    assert cdn["result"] == 3, cdn
    tshark.expect("core", l2tp={"CDN"}, ppp={"lcp"})


# ---- pppd options cpe-emu never sends ------------------------------------------------------------

def ping_received(lab, address: str, *extra: str, count: int = 2) -> int:
    cp = lab.exec("home", ["ping", "-n", "-c", str(count), "-W", "2", *extra, address], check=False, timeout=30)
    return int(re.search(r"(\d+) received", cp.stdout).group(1))


def ping_answered(lab, address: str, *extra: str, within: float = 20) -> bool:
    """Pings until one is answered (≤ `within` s): right after IPCP, the guest's ip-up (the route
    back for this link) may still be running."""
    try:
        return wait_for(lambda: ping_received(lab, address, *extra, count=1) >= 1, within, f"a ping to {address} answered")
    except WaitTimeout:
        return False


@pytest.mark.req("T74.inService")
def test_mru_1000_is_negotiated(lab, tshark):
    trigger(lab, dest(MRU_1000))
    wait_state(lab, MRU_1000, {"inService"})
    wait_log(lab, MRU_1000, r"sent \[LCP ConfReq id=0x[0-9a-f]+ <mru 1000>")
    wait_log(lab, MRU_1000, r"rcvd \[LCP ConfAck id=0x[0-9a-f]+ <mru 1000>")
    wait_log(lab, MRU_1000, r"remote IP address 198\.18\.0\.1")
    assert ping_answered(lab, f"198.18.{MRU_1000}.2"), "IP over the link with MRU 1000"
    tshark.expect("core", ppp={"lcp", "chap", "ipcp", "ip"})


def inner_ip_lengths_to(lab, address: str) -> list[int]:
    """Total Length of every IPv4 packet to `address` carried inside L2TP on `core` (tshark)."""
    import subprocess
    cp = subprocess.run(["tshark", "-n", "-r", str(lab.pcaps["core"]), "-Y", f"l2tp && ip.dst == {address}",
                         "-T", "fields", "-E", "occurrence=l", "-e", "ip.len"], capture_output=True, text=True,
                        timeout=60)
    return [int(x) for x in cp.stdout.split()]


@pytest.mark.req("DP.peer-mru")
def test_no_frame_longer_than_the_peers_mru(lab, tshark):
    if session(lab, MRU_1000).get("state") != "inService":
        trigger(lab, dest(MRU_1000))
        wait_state(lab, MRU_1000, {"inService"})
    # 1400 octets of ICMP data, DF clear: a 1428-octet IP packet towards a peer whose MRU is 1000;
    # lnsd splits it into IPv4 fragments (RFC 791 §3.2), pppd's kernel reassembles and answers
    assert ping_answered(lab, f"198.18.{MRU_1000}.2", "-s", "1400", "-M", "dont"), "1428-octet ping answered"
    lengths = wait_for(lambda: [n for n in inner_ip_lengths_to(lab, f"198.18.{MRU_1000}.2") if n > 900] or None,
                       10, "the 1428-octet packet (or its fragments) on core")
    assert max(lengths) <= 1000, f"IP packets longer than the peer's MRU 1000 sent in one frame: {lengths}"
    # RFC 791 §3.2: lnsd split it (DF clear); pppd's kernel reassembles it and answers
    assert lab.lnsd.ctl("show", "l2tp")["system"]["data-path"]["tx-fragmented"] >= 1
    tshark.expect("core", ppp={"ip"})


@pytest.mark.req("T75.bearer-type", "T74.inService")
def test_asyncmap_on_an_analog_call(lab, tshark):
    trigger(lab, dest(ASYNCMAP_ANALOG))
    wait_state(lab, ASYNCMAP_ANALOG, {"inService"})
    wait_log(lab, ASYNCMAP_ANALOG, r"sent \[LCP ConfReq id=0x[0-9a-f]+ <asyncmap 0xa0000>")
    wait_log(lab, ASYNCMAP_ANALOG, r"rcvd \[LCP ConfAck id=0x[0-9a-f]+ <asyncmap 0xa0000>")
    assert ping_answered(lab, f"198.18.{ASYNCMAP_ANALOG}.2"), "IP over the analog (async) call"
    tshark.expect("core", l2tp={"OCRQ", "OCRP", "OCCN"}, ppp={"lcp", "chap", "ipcp", "ip"})


def lcp_echoes(lab) -> tuple[list[str], list[str]]:
    """Identifiers of LCP Echo-Requests from the LAC side and Echo-Replies from lnsd on `core`."""
    import subprocess
    out = {}
    for code, src in ((9, "198.51.100.2"), (10, "198.51.100.1")):
        cp = subprocess.run(["tshark", "-n", "-r", str(lab.pcaps["core"]), "-Y", f"lcp && ppp.code == {code} && ip.src == {src}",
                             "-T", "fields", "-e", "ppp.identifier"], capture_output=True, text=True, timeout=60)
        out[code] = cp.stdout.split()
    return out[9], out[10]


@pytest.mark.req("T74.inService")
def test_lcp_echo_requests_are_answered(lab, tshark):
    # pppd is the only peer here sending Echo-Requests (lnsd's profile has keepalive 0s)
    trigger(lab, dest(LCP_ECHO))
    wait_state(lab, LCP_ECHO, {"inService"})
    n0 = len(lcp_echoes(lab)[0])
    wait_for(lambda: len(lcp_echoes(lab)[0]) >= n0 + 3, 15, "three more Echo-Requests from pppd")
    req, rep = lcp_echoes(lab)
    assert [r for r in req if r not in rep] in ([], [req[-1]]), f"every Echo-Request answered (RFC 1661 §5.8): {req} {rep}"
    assert session(lab, LCP_ECHO)["state"] == "inService", "pppd keeps the link (lcp-echo-failure 3)"
    tshark.expect("core", ppp={"lcp"})
