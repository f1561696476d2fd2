"""The default lab with the real daemons: lnsd in `lns` (real FreeRADIUS home and LNS servers of
scenarios/topologies/default.yaml), isdn-emu + lac-emu in `lac` and `lac2`, cpe-emu in `cpe`.
Shared by `./lab demo` and tests/conformance/dialout, so both run exactly the same set-up.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from .control_api import request
from .lab import REPO, Lab

KEY = "default/10.10.0.0/16/10.10.1.1"   # the seed example's dial-out session key
BINARIES = ("lns/lnsd/lnsd", "lns/lnsd/lnsctl", "peers/lac/lac-emu", "peers/isdn/isdn-emu", "peers/cpe/cpe-emu")


class NotBuilt(RuntimeError):
    """lnsd or an emulated peer is missing from every candidate build directory."""


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
    """The build directory holding lnsd and the peers: $DL_BUILD_DIR, else build/, else build-int/."""
    for d in [os.environ.get("DL_BUILD_DIR"), REPO / "build", REPO / "build-int"]:
        if d and all((Path(d) / p).exists() for p in BINARIES):
            return Path(d)
    raise NotBuilt("lnsd / lac-emu / isdn-emu / cpe-emu not built (run ci/build or set DL_BUILD_DIR)")


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



def start_daemons(lab: Lab, bdir: Path) -> Lnsd:
    """Write the daemons' configs into the run folder and start them, each awaited on its ready line."""
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
    # The CPE answers 5551001 and authenticates the LNS with CHAP (ERX-PPP-Username/Password). Its
    # TUN cpe0 (created at IPCP up, 198.18.0.2/32) carries the home side's prefixes, so `remote`
    # (10.10.1.1, default route via cpe 10.10.1.254) answers `home` (203.0.113.10) over the dial-out.
    cpe_cfg = {"isdn": str(run / "isdn.sock"), "control": str(run / "cpe.ctl"),
               "events": str(run / "cpe-events.jsonl"),
               "sites": [{"number": "5551001", "name": "cpe-remote", "secret": "cpe-pass",
                          "require_auth": "chap", "users": {"lns-home": "lns-home-pass"},
                          "tun": {"name": "cpe0", "routes": ["203.0.113.0/24", "192.0.2.0/24"]}}]}
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
    return d


def control(path: Path, cmd: str, args: dict | None = None) -> dict:
    """One request on a daemon's control socket (see dlab.control_api.request)."""
    return request(path, cmd, args)
