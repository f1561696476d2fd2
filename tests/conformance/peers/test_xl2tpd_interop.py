"""Interop: xl2tpd (Debian, user space), a peer we did not write, acts as the LNS and places
an outgoing call to lac-emu through its control pipe (`o <lac-section> <number>`); OCRQ, OCRP and
OCCN complete (lac-emu's events show the session established and the ISDN call connected)."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from dlab.wait import wait_for

from .test_lac_outgoing import control, peers_lab, pytestmark  # noqa: F401  (module fixture and its lab_config mark reused)

XL2TPD = shutil.which("xl2tpd") or "/usr/sbin/xl2tpd"


def events(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def lac2(peers_lab):  # noqa: F811
    run = peers_lab.run_dir
    cfg = {"listen": "198.51.100.3", "host_name": "lac2", "number": "1702", "channels": 4,
           "isdn": str(run / "isdn.sock"), "control": str(run / "lac2.ctl"), "events": str(run / "lac2-events.jsonl")}
    (run / "lac2.yaml").write_text(yaml.safe_dump(cfg))
    peers_lab.start("lac2-emu", "lac", [str(peers_lab.bdir / "peers/lac/lac-emu"), "--config", str(run / "lac2.yaml")],
                    ready="lac-emu ready")
    return run / "lac2.ctl"


def test_xl2tpd_places_outgoing_call_to_lac_emu(peers_lab, lac2):  # noqa: F811
    if not shutil.which("xl2tpd") and not shutil.os.path.exists(XL2TPD):
        pytest.skip("xl2tpd not installed")
    run = peers_lab.run_dir
    xdir = run / "xl2tpd"
    xdir.mkdir(exist_ok=True)
    (xdir / "xl2tpd.conf").write_text(
        "[global]\nlisten-addr = 198.51.100.1\nport = 1701\naccess control = no\n\n"
        "[lac dialout]\nlns = 198.51.100.2\nchallenge = no\nrequire authentication = no\n"
        "pppoptfile = " + str(xdir / "options") + "\n")
    (xdir / "xl2tpd.conf").write_text((xdir / "xl2tpd.conf").read_text().replace("lns = 198.51.100.2", "lns = 198.51.100.3"))
    (xdir / "options").write_text("noauth\n")
    ctl = xdir / "l2tp-control"
    peers_lab.start("xl2tpd", "lns", [XL2TPD, "-D", "-c", str(xdir / "xl2tpd.conf"), "-p", str(xdir / "xl2tpd.pid"),
                                      "-C", str(ctl)], ready="Listening on IP address")
    peers_lab.exec("lns", ["sh", "-c", f"echo 'o dialout 5551000' > {ctl}"], timeout=10)
    ev = run / "lac2-events.jsonl"

    def connected():
        return any(e["entity"] == "lac.call" and e.get("to") == "connected" for e in events(ev))
    wait_for(connected, 20, "lac2-emu to connect the outgoing call from xl2tpd")
    names = [(e["entity"], e.get("event"), e.get("to")) for e in events(ev)]
    assert ("l2tp.session", "recv-OCRQ", "wait-cs-answer") in names, names
    assert any(n[0] == "l2tp.session" and n[2] == "established" for n in names), names
    state = control(lac2, "show state")
    assert state["counters"]["ocrq"] == 1 and state["counters"]["connected"] == 1, state
