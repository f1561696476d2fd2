"""`./lab bench compare-lns` at a small size: the same incoming calls (6 tunnels alone, then 2 tunnels ×
3 sessions) against xl2tpd and against lnsd, judged on what each LNS sent as the generator counted it
(SCCRP and ICRP received, every message acknowledged: the teardown completes). The figures themselves
are printed by the benchmark, never asserted (docs/performance.md "lnsd against xl2tpd (same load)")."""
import os

import pytest

from dlab.cli import bench_compare as C
from dlab.lab import LabError

TUNNELS, SESSIONS = 6, 3


def _ready():
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not os.path.exists(C.XL2TPD):
        return "xl2tpd is not installed (Debian package xl2tpd)"
    try:
        C.generator_path(C.build_dir())
    except LabError as e:
        return str(e)
    return None


@pytest.fixture(scope="module")
def result():
    why = _ready()
    if why:
        pytest.skip(why)
    return C.run_compare([0.0], tunnels=TUNNELS, sessions=SESSIONS, sessions_total=TUNNELS, hold=3.0, window=16,
                         binds=2, step_deadline=20.0, do_ramp=False, say=lambda *a: None)


def _steps(r, kind):
    (s,) = r["lns"][kind]["rate_steps"]
    return s["tunnels"], s["sessions"]


def _acknowledged(step):
    """Every tunnel went idle at the teardown: the LNS acknowledged everything sent on it, ICCNs and
    StopCCN included (RFC 2661 §5.8: Nr is cumulative)."""
    g = step["generator"]
    return g["teardown_s"] >= 0 and not g["deadline_hit"]


@pytest.mark.req("PERF.compare-lns")
@pytest.mark.parametrize("kind", ["xl2tpd", "lnsd"])
def test_each_lns_answers_every_sccrq_and_icrq_and_acknowledges_every_iccn(result, kind):
    """Counts are at least (an LNS may retransmit, RFC 2661 §5.8, when the machine is slow to run it)."""
    t, s = _steps(result, kind)
    assert t["received"].get("SCCRP", 0) >= TUNNELS, f"{kind} SCCRPs: {t['received']}"
    assert t["tunnels_up"] == TUNNELS and t["tunnels_failed"] == 0, f"{kind} tunnels: {t['failures']}"
    assert _acknowledged(t), f"{kind}: tunnels step teardown {t['generator']['teardown_s']}"
    n = (TUNNELS // SESSIONS) * SESSIONS
    assert s["received"].get("SCCRP", 0) >= TUNNELS // SESSIONS, f"{kind} SCCRPs: {s['received']}"
    assert s["received"].get("ICRP", 0) >= n, f"{kind} ICRPs: {s['received']}"
    assert s["sent"].get("ICCN", 0) >= n and s["sessions_up"] == n, f"{kind} ICCNs: {s['sent']}, {s['failures']}"
    assert _acknowledged(s), f"{kind}: sessions step teardown {s['generator']['teardown_s']}"


@pytest.mark.req("PERF.compare-lns")
def test_xl2tpd_clears_each_call_with_cdn_when_pppd_cannot_start(result):
    """xl2tpd forks pppd on ICCN (control.c ICCN, start_pppd in xl2tpd.c); pppd cannot run here and
    exits; child_handler marks the call and xl2tpd sends CDN (call_close in call.c) while the tunnel
    stays."""
    _, s = _steps(result, "xl2tpd")
    n = (TUNNELS // SESSIONS) * SESSIONS
    assert s["cleared_after_setup"] == n, f"calls xl2tpd cleared after the ICCN: {s['cleared_after_setup']}"
    assert s["received"].get("CDN", 0) >= n, f"CDNs from xl2tpd: {s['received']}"
    assert s["received"].get("StopCCN", 0) == 0, f"xl2tpd closed a tunnel: {s['received']}"


@pytest.mark.req("PERF.compare-lns")
def test_lnsd_holds_every_session_through_the_hold(result):
    t, s = _steps(result, "lnsd")
    n = (TUNNELS // SESSIONS) * SESSIONS
    assert s["received"].get("CDN", 0) == 0 and s["cleared_after_setup"] == 0, f"lnsd cleared calls: {s['received']}"
    assert s["held"] == {"tunnels": TUNNELS // SESSIONS, "sessions": n}, f"lnsd holds {s['held']}"
    assert t["held"] == {"tunnels": TUNNELS, "sessions": 0}, f"lnsd holds {t['held']}"


@pytest.mark.req("PERF.compare-lns")
def test_the_table_puts_both_side_by_side(result):
    table = C.format_table(result)
    assert table.splitlines()[0].split() == ["xl2tpd", "lnsd", "ratio"], table
    for row in ("tunnels set up / s", "sessions set up / s", "LNS CPU ms per session", "LNS RSS KiB per tunnel",
                "/proc/loadavg"):
        assert row in table, f"row {row!r} missing:\n{table}"
    assert result["ratios"]["tunnels_per_s"] is not None, result["ratios"]
