"""issue 6 proof in the default lab (scenarios/topologies/default.yaml): lnsd in `lns` with the real
FreeRADIUS home (192.0.2.10) and LNS (192.0.2.11) servers, lac-emu + isdn-emu in `lac`, cpe-emu in
`cpe`. A ping from `home` to 10.10.1.1 is the trigger: Access-Request with User-Name
`0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt` -> SCCRQ..OCCN to 198.51.100.2 -> PPP (the LNS
authenticates itself with ERX-PPP-Username/Password, the CPE through the LNS RADIUS server) ->
Framed-Route 10.10.1.0/24 installed -> dial-out session inService. Assertions on lnsd's JSON-lines
events, in order, with bounded waits (dlab.wait.wait_for), never sleeps.

Binaries: $DL_BUILD_DIR (default: build/, then build-int/) must hold lns/lnsd/lnsd and the peers.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import yaml

from dlab import lab as L
from dlab import topology as T
from dlab.wait import wait_for

HERE = Path(__file__).parent
REPO = HERE.parents[2]
KEY = "default/10.10.0.0/16/10.10.1.1"

LNSD_CONFIG = {
    "local-address": "198.51.100.1",
    "hostname": "lns",
    "timers": {"hello": "60s", "retransmit": "1s"},
    "virtual-routers": [{
        "name": "default", "tun": "dlo0", "nas-ip-address": "192.0.2.1",
        "radius": {"authentication": [{"address": "192.0.2.10", "secret": "home-secret"}]},
        "lns-radius": {"authentication": [{"address": "192.0.2.11", "secret": "lns-secret"}]},
    }, {
        # Second virtual router: same prefix, its own home RADIUS (192.0.2.12) and LAC (lac2).
        "name": "vr-b", "tun": "dlo1", "table": 100, "ingress-interfaces": ["leased-b"],
        "nas-ip-address": "192.0.2.1",
        "radius": {"authentication": [{"address": "192.0.2.12", "secret": "home-b-secret"}]},
        "lns-radius": {"authentication": [{"address": "192.0.2.11", "secret": "lns-secret"}]},
    }],
    "ppp-profiles": {"isdn": {"local-address": "198.18.0.1"}},
    "dialout": {
        "timers": {"trigger": "30s", "dormant": "5m"},
        "profiles": {"isdn": {"authentication": "chap", "keepalive": "0s"}},
        "targets": [{"virtual-router": "default", "prefix": "10.10.0.0/16", "domain": "L2TP-dial-out.de.dt",
                     "profile": "isdn", "route-distinguisher": "0.0.0.0:65000"},
                    {"virtual-router": "vr-b", "prefix": "10.10.0.0/16", "domain": "L2TP-dial-out.vr-b.example",
                     "profile": "isdn"}],
    },
}


def build_dir() -> Path:
    for d in [os.environ.get("DL_BUILD_DIR"), REPO / "build", REPO / "build-int"]:
        if d and all((Path(d) / p).exists() for p in
                     ("lns/lnsd/lnsd", "lns/lnsd/lnsctl", "peers/lac/lac-emu", "peers/isdn/isdn-emu",
                      "peers/cpe/cpe-emu")):
            return Path(d)
    pytest.skip("lnsd / lac-emu / isdn-emu / cpe-emu not built (set DL_BUILD_DIR)")


class Lnsd:
    def __init__(self, lab, bdir: Path):
        self.lab, self.bdir = lab, bdir
        self.sock = str(lab.run_dir / "lnsd.sock")
        self.events = lab.run_dir / "lnsd-events.jsonl"

    def ctl(self, *words: str):
        cp = self.lab.exec("lns", [str(self.bdir / "lns/lnsd/lnsctl"), "--socket", self.sock, "--json", *words],
                           timeout=10)
        return json.loads(cp.stdout)

    def event_list(self) -> list[dict]:
        if not self.events.exists():
            return []
        return [json.loads(ln) for ln in self.events.read_text().splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def dialout_lab():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    bdir = build_dir()
    topo = T.parse(yaml.safe_load((REPO / "scenarios/topologies/default.yaml").read_text()))
    with L.Lab(topo, capture=False) as lab:
        run = lab.run_dir
        run.mkdir(parents=True, exist_ok=True)
        isdn_cfg = {"socket": str(run / "isdn.sock"), "control": str(run / "isdn.ctl"),
                    "events": str(run / "isdn-events.jsonl"), "numbers": {"5551001": {"behaviour": "answer"}}}
        (run / "isdn.yaml").write_text(yaml.safe_dump(isdn_cfg))
        lab.start("isdn-emu", "lac", [str(bdir / "peers/isdn/isdn-emu"), "--config", str(run / "isdn.yaml")],
                  ready="isdn-emu ready")
        # Tunnel secret = the Tunnel-Password the home server returns for this LAC.
        lac_cfg = {"listen": "198.51.100.2", "host_name": "lac", "secret": "lac-secret", "number": "1701",
                   "channels": 4, "isdn": str(run / "isdn.sock"), "control": str(run / "lac.ctl"),
                   "events": str(run / "lac-events.jsonl")}
        (run / "lac.yaml").write_text(yaml.safe_dump(lac_cfg))
        lab.start("lac-emu", "lac", [str(bdir / "peers/lac/lac-emu"), "--config", str(run / "lac.yaml")],
                  ready="lac-emu ready")
        # The CPE answers 5551001 and authenticates the LNS with CHAP (ERX-PPP-Username/Password).
        cpe_cfg = {"isdn": str(run / "isdn.sock"), "control": str(run / "cpe.ctl"),
                   "events": str(run / "cpe-events.jsonl"),
                   "sites": [{"number": "5551001", "name": "cpe-remote", "secret": "cpe-pass",
                              "require_auth": "chap", "users": {"lns-home": "lns-home-pass"}}]}
        (run / "cpe.yaml").write_text(yaml.safe_dump(cpe_cfg))
        lab.start("cpe-emu", "cpe", [str(bdir / "peers/cpe/cpe-emu"), "--config", str(run / "cpe.yaml")],
                  ready="cpe-emu ready")
        # vr-b's LAC: lac2 with its own exchange; the CPE site 5552002 checks the LNS with PAP.
        isdn2 = {"socket": str(run / "isdn2.sock"), "control": str(run / "isdn2.ctl"),
                 "events": str(run / "isdn2-events.jsonl"), "numbers": {"5552002": {"behaviour": "answer"}}}
        (run / "isdn2.yaml").write_text(yaml.safe_dump(isdn2))
        lab.start("isdn-emu-2", "lac2", [str(bdir / "peers/isdn/isdn-emu"), "--config", str(run / "isdn2.yaml")],
                  ready="isdn-emu ready")
        lac2 = {"listen": "198.51.100.3", "host_name": "lac2", "secret": "", "number": "1702", "channels": 4,
                "isdn": str(run / "isdn2.sock"), "control": str(run / "lac2.ctl"),
                "events": str(run / "lac2-events.jsonl")}
        (run / "lac2.yaml").write_text(yaml.safe_dump(lac2))
        lab.start("lac-emu-2", "lac2", [str(bdir / "peers/lac/lac-emu"), "--config", str(run / "lac2.yaml")],
                  ready="lac-emu ready")
        cpe2 = {"isdn": str(run / "isdn2.sock"), "control": str(run / "cpe2.ctl"),
                "events": str(run / "cpe2-events.jsonl"),
                "sites": [{"number": "5552002", "name": "cpe-remote", "secret": "cpe-pass",
                           "require_auth": "pap", "users": {"lns-vr-b": "lns-vr-b-pass"}}]}
        (run / "cpe2.yaml").write_text(yaml.safe_dump(cpe2))
        lab.start("cpe-emu-2", "cpe", [str(bdir / "peers/cpe/cpe-emu"), "--config", str(run / "cpe2.yaml")],
                  ready="cpe-emu ready")
        (run / "lnsd.yaml").write_text(yaml.safe_dump(LNSD_CONFIG))
        d = Lnsd(lab, bdir)
        lab.start("lnsd", "lns", [str(bdir / "lns/lnsd/lnsd"), "--config", str(run / "lnsd.yaml"),
                                  "--control", d.sock, "--events", str(d.events)], ready="lnsd ready")
        yield lab, d


def control(path: Path, cmd: str, args: dict | None = None) -> dict:
    """One request on a peer's control socket (lns/core ControlServer, JSON lines)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(path))
        s.sendall((json.dumps({"id": 1, "cmd": cmd, "args": args or {}}) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    r = json.loads(buf)
    assert r["ok"], r
    return r["result"]


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
    steps = [
        ("trigger", lambda e: e["entity"] == "dialout.session" and e.get("to") == "authenticating"),
        ("AAA grant", lambda e: e["entity"] == "dialout.session" and e.get("to") == "connecting"),
        ("tunnel", lambda e: e["entity"] == "l2tp.tunnel" and e.get("to") == "established"),
        ("OCCN", lambda e: e["entity"] == "l2tp.session" and e.get("to") == "established"),
        ("LCP", lambda e: e["entity"] == "ppp.lcp" and e.get("to") == "Opened"),
        ("routes", lambda e: e["entity"] == "lnsd.route" and e.get("event") == "access-routes-installed"),
        ("inService", lambda e: e["entity"] == "dialout.session" and e.get("to") == "inService"),
    ]
    at = 0
    for name, pred in steps:
        i = first_index(ev, pred, at)
        assert i >= 0, f"no {name} event after index {at}: {[ (e['entity'], e.get('to'), e.get('event')) for e in ev]}"
        at = i
    # IPCP Opened: the PPP engine publishes it after This-Layer-Up (RFC 1661 §4.4), i.e. after the
    # access routes were installed from network_up.
    assert first_index(ev, lambda e: e["entity"] == "ppp.ipcp" and e.get("to") == "Opened") > 0
    trig = ev[first_index(ev, steps[0][1])]
    assert trig["id"] == KEY

    routes_ev = ev[first_index(ev, steps[5][1])]
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


@pytest.mark.req("T77.dormant")
def test_reset_clears_the_call_and_its_routes(dialout_lab):
    lab, d = dialout_lab
    wait_for(lambda: [x for x in d.ctl("show", "l2tp", "dial-out", "session")
                      if x.get("state") == "inService" and x["session"] == KEY], 30, "dial-out session inService")
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
    # ERX-PPP-Auth-Protocol = PAP: the LNS asks the CPE for PAP; the CPE asks the LNS for PAP too
    # (its config) and gets ERX-PPP-Username/Password lns-vr-b.
    assert len(ppp) == 1 and ppp[0]["we-authenticate"] == "PAP" and ppp[0]["peer-authenticates"] == "PAP", ppp


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
