"""The fault and attack campaigns of `./lab bench campaign` (dlab.cli.bench_campaign) at a small size,
so that they cannot rot: each asserts the campaign's invariants (every dial-out final, nothing stuck or
leaked, legitimate calls succeed during and after the attack, lnsd alive and answering, every
malformed datagram counted), never its timings (those are the figures in docs/reliability.md)."""
import pytest

from dlab.cli import bench_campaign as C
from dlab.dialout_lab import NotBuilt, build_dir

try:
    build_dir()
    BUILT = True
except NotBuilt:
    BUILT = False

pytestmark = pytest.mark.skipif(not BUILT, reason="lnsd and the emulated peers are not built")
QUIET = {"say": lambda *a: None}


@pytest.mark.req("REL.campaign-faults", "LAB.impairment")
def test_faults_campaign_every_dialout_final_nothing_stuck_or_leaked():
    r = C.run_faults(4, loss=0.3, duplicate=0.1, reorder=0.1, rate=50.0, seed=3, deadline=60.0,
                     trigger_timer="10s", **QUIET)
    assert r["outcome"] == "all" and r["stuck"] == 0, f"dial-outs not final: {r['final_states']}"
    for state in r["final_states"]:   # inService, or a final state with the cause lnsd gave
        assert state == "inService" or ("(" in state and "()" not in state), f"unexplained state {state!r}"
    assert sum(r["final_states"].values()) == 4, r["final_states"]
    assert r["lnsd_alive"], "lnsd exited"
    assert not any(r["leaks"].values()), f"left after every session was reset: {r['leaks']}"
    assert r["drain"]["left"]["sessions"] == 0 and not r["drain"]["left"]["dialout_sessions"], r["drain"]
    l2tp = r["relays"]["l2tp"]["rules"]
    assert l2tp["loss"] > 0, f"the L2TP relay dropped nothing: {r['relays']}"
    assert r["ok"]


@pytest.mark.req("REL.campaign-flood")
def test_flood_campaign_legitimate_calls_succeed_and_refusals_are_counted():
    r = C.run_flood(duration=3.0, rss_bound_mib=128.0, **QUIET)
    assert set(r["floods"]) == set(C.FLOODS)
    for kind, f in r["floods"].items():
        assert f["lnsd_alive"], f"lnsd exited under the {kind} flood"
        assert not f["sender_error"] and f["sender"].get("sent", 0) > 0, f"{kind} sender: {f}"
        for what, res in f["legitimate"].items():
            assert res.get("ok"), f"{kind} flood: legitimate {what} failed: {res}"
        assert f["rss_kib"]["hwm"] < 128 * 1024, f"{kind}: lnsd VmHWM {f['rss_kib']}"
    moved = {k: set(f["counters_moved"]) for k, f in r["floods"].items()}
    assert any("sccrq-dropped" in c or "tunnels-refused" in c for c in moved["sccrq"]), moved["sccrq"]
    assert any("discarded_by" in c for c in moved["trigger"]), moved["trigger"]
    assert {"l2tp.system.counters.sessions-refused-setup", "l2tp.system.counters.send-queue-overflows"} & moved["icrq"], \
        moved["icrq"]
    assert {"l2tp.system.counters.outside-window", "l2tp.system.counters.reorder-dropped"} <= moved["out-of-order"], \
        moved["out-of-order"]
    assert r["ok"]


@pytest.mark.req("REL.campaign-kill")
def test_kill_campaign_peers_clean_up_no_route_left_restarted_lnsd_serves():
    r = C.run_kill(4, peer_hello="1s", peer_retransmit="100ms", peer_tunnel_hold="1s", new_dialouts=2,
                   deadline=45.0, **QUIET)
    assert r["at_kill"]["in_service"] >= 2, f"killed too early: {r['at_kill']}"
    assert r["old_routes_after_kill"] == [], "routes through the dead lnsd's TUN"
    assert "timeout" not in r["peer_cleanup"], f"peers still hold the old calls: {r['peer_cleanup']}"
    rules = r["kernel_after_restart"]["rules"]
    assert any(x.endswith(" proto 209") for x in r["kernel_before"]["rules"]), \
        f"lnsd's own rules carry proto 209: {r['kernel_before']['rules']}"
    assert r["rules_planted"]["stale_owned"] not in rules, f"stale owned rule kept by the restart: {rules}"
    assert sorted(rules) == sorted([*r["kernel_before"]["rules"], r["rules_planted"]["foreign"]]), \
        f"ip rules before {r['kernel_before']['rules']}, after the restart {rules}"
    assert r["new_dialouts"]["in_service"] == 2, f"restarted lnsd: {r['new_dialouts']}"
    assert r["ok"]


@pytest.mark.req("REL.campaign-malformed")
def test_malformed_campaign_every_datagram_counted_lnsd_serves_after():
    r = C.run_malformed(**QUIET)
    assert r["from_corpora"] > 0, "no fuzz corpus file found"
    assert r["lnsd_alive"] and r["lnsd_alive_after"], "lnsd exited"
    assert not r["send_errors"], r["send_errors"][:5]
    assert r["lnsd_received"] >= r["inputs"], f"lnsd counted {r['lnsd_received']} of {r['inputs']}"
    for what, res in r["legitimate"].items():
        assert res.get("ok"), f"legitimate {what} after the malformed input failed: {res}"
    assert r["ok"]
