"""Helpers of the lnsd namespace tests: lab with `lns` and `lac`, lnsd started in `lns` with a generated config,
the bindings module (dlab._native) and the lnsd/lnsctl binaries from $DLAB_BUILD_DIR (default build/);
$LNSD_BIN_DIR overrides where lnsd and lnsctl are looked for."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BUILD = Path(os.environ.get("DLAB_BUILD_DIR", REPO / "build"))
BIN = Path(os.environ.get("LNSD_BIN_DIR", BUILD / "lns" / "lnsd"))
for p in (REPO / "bindings" / "python", BUILD / "bindings"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
import dlab  # noqa: E402

if str(BUILD / "bindings" / "dlab") not in dlab.__path__:
    dlab.__path__.insert(0, str(BUILD / "bindings" / "dlab"))

LNS_ADDR = "198.51.100.1"
LAC_ADDR = "198.51.100.2"    # configured peer with a secret and hidden AVPs
LAC2_ADDR = "198.51.100.3"   # unlisted peer: default profile, no secret
LAC3_ADDR = "198.51.100.4"   # configured peer without a secret whose Host Name must be scripted-lac
SECRET = "s3cret"

CONFIG = f"""
local-address: {LNS_ADDR}
hostname: lnsd-test
receive-window: 8
accept-unknown-peers: true   # LAC2_ADDR is the unlisted peer these suites open tunnels from
peers:
  - {{address: {LAC_ADDR}, secret: {SECRET}, hide-avps: true}}
  - {{address: {LAC3_ADDR}, secret: "", host-name: scripted-lac}}
timers: {{hello: 60s, retransmit: 1s, tunnel-hold: 2s}}
shutdown-wait: 2s
ppp-profiles:
  incoming-test: {{keepalive: 1s, echo-failures: 2}}   # LCP Echo on incoming calls
incoming: {{profile: incoming-test, authentication: none}}
"""


class Lnsd:
    """lnsd inside the `lns` namespace and lnsctl to talk to it."""

    def __init__(self, lab, run_dir: Path):
        self.lab = lab
        self.sock = str(run_dir / "lnsd.sock")
        self.events = run_dir / "lnsd-events.jsonl"
        cfg = run_dir / "lnsd.yaml"
        cfg.write_text(CONFIG)
        self.proc = lab.start("lnsd", "lns", [str(BIN / "lnsd"), "--config", str(cfg), "--control", self.sock,
                                              "--events", str(self.events)], ready="lnsd ready")

    def ctl(self, *words: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.lab.exec("lns", [str(BIN / "lnsctl"), "--socket", self.sock, *words], check=check, timeout=10)

    def show(self, *words: str):
        return json.loads(self.ctl("--json", "show", "l2tp", *words).stdout)

    def event_lines(self) -> list[dict]:
        if not self.events.exists():
            return []
        return [json.loads(l) for l in self.events.read_text().splitlines() if l.strip()]
