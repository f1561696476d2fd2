"""Interop: Debian's xl2tpd (user-space mode, `challenge = yes`, a secret) as the LAC in the `lac`
namespace dials lnsd: SCCRQ … SCCCN with tunnel authentication, then ICRQ … ICCN; xl2tpd's pppd
cannot run here, so the call then ends: the teardown must be clean (CDN / StopCCN handled, lnsd
back to no sessions)."""
from __future__ import annotations

import shutil

import pytest

from lnsd_helpers import LAC_ADDR, LNS_ADDR, SECRET

from dlab.wait import wait_for

XL2TPD = shutil.which("xl2tpd") or "/usr/sbin/xl2tpd"


@pytest.fixture
def xl2tpd_conf(lnsd_lab, tmp_path):
    if not shutil.os.path.exists(XL2TPD):
        pytest.skip("xl2tpd not installed")
    secrets = tmp_path / "l2tp-secrets"
    secrets.write_text(f"* * {SECRET}\n")
    secrets.chmod(0o600)
    conf = tmp_path / "xl2tpd.conf"
    conf.write_text(f"""[global]
listen-addr = {LAC_ADDR}
port = 1701
force userspace = yes
access control = no
auth file = {secrets}

[lac lnsd]
lns = {LNS_ADDR}
hostname = xl2tpd-lac
challenge = yes
require authentication = no
autodial = yes
redial = no
length bit = yes
ppp debug = no
pppoptfile = {tmp_path / 'options'}
""")
    (tmp_path / "options").write_text("noauth\n")
    return conf, tmp_path


def test_xl2tpd_lac_sets_up_tunnel_and_incoming_call_then_tears_down_cleanly(lnsd_lab, xl2tpd_conf):
    lab, lnsd = lnsd_lab
    conf, d = xl2tpd_conf
    xl = lab.start("xl2tpd", "lac", [XL2TPD, "-D", "-c", str(conf), "-p", str(d / "xl2tpd.pid"),
                                      "-C", str(d / "l2tp-control")])
    try:
        def tunnel_up():
            return [t for t in lnsd.show("tunnel") if t["destination"] == LAC_ADDR and t["state"] == "established"]
        wait_for(tunnel_up, 10.0, "xl2tpd's tunnel established at lnsd")
        t = lnsd.show("tunnel", str(tunnel_up()[0]["id"]))[0]
        assert t["authenticated"] is True
        events = lnsd.event_lines()
        # SCCRQ … SCCCN, then ICRQ … ICCN (the session reached established at least once).
        wait_for(lambda: any(e["entity"] == "l2tp.session" and e.get("to") == "established"
                             for e in lnsd.event_lines()), 10.0, "ICRQ/ICRP/ICCN completed")
        # pppd cannot run: xl2tpd ends the call; lnsd must be left with no session.
        wait_for(lambda: lnsd.show("session") == [], 15.0, "call cleared")
        events = lnsd.event_lines()
        assert not any(e.get("permitted") is False for e in events if e["entity"].startswith("l2tp"))
        assert lnsd.show("summary")["system"]["counters"]["malformed"] == 0
    finally:
        from dlab import procs
        procs.stop(xl)
    out = xl.log_text()
    assert "Connection established" in out or "established" in out.lower(), out[-2000:]
