"""Scale-out on routing (docs/scale-out.md): two lnsd boxes serve the same dial-out target, each
announces what lnsd puts in its kernel over BGP (BIRD), the home router spreads destinations over
both with ECMP, and when one box is killed the home router converges on the other, which serves
the dial-outs from then on; a box that comes back announces again, and a box cut off (its link
down) is withdrawn by BFD, not by the BGP hold time.

Topology: scenarios/topologies/scale-out.yaml (boxes lns-a and lns-b, AS 65001; home, AS 65000;
lac and lac2 chosen per box by Tunnel-Preference; four sites 10.10.k.1, k = 1..4, answered behind
both LACs). The convergence times are printed (and written to <run>/scale-out.json,
scale-out-bfd.json and scale-out-lac-cut.json), not asserted. The last case cuts a box off the LACs
while its lnsd and BIRD run: lnsd's route-withdrawal takes its dial-out route out of the kernel,
BIRD withdraws it, home converges on the other box.
"""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from dlab import bird
from dlab.dialout_lab import LNSD_CONFIG, REPO, site_destination, site_key, site_number, start_lnsd
from dlab.wait import wait_for

SITES = (1, 2, 3, 4)
TARGET = "10.10.0.0/16"
HOME_AS, BOX_AS = 65000, 65001
# box -> (leased address: its BGP address and the home route's next hop, core, aaa)
BOXES = {"lns-a": ("203.0.113.1", "198.51.100.1", "192.0.2.1"),
         "lns-b": ("203.0.113.2", "198.51.100.4", "192.0.2.2")}
HOME = "203.0.113.10"
# The LAC each box's home RADIUS entries prefer (Tunnel-Preference 1, by NAS-Identifier).
PREFERRED_LAC = {"lns-a": "198.51.100.2", "lns-b": "198.51.100.3"}


def box_config(box: str) -> dict:
    """lnsd's configuration on `box`: the default lab's default virtual router and target, with the
    box's own addresses and NAS-Identifier (what the home RADIUS steers on)."""
    leased, core, aaa = BOXES[box]
    vr = dict(LNSD_CONFIG["virtual-routers"][0], **{"nas-ip-address": aaa, "nas-identifier": box})
    # route-withdrawal (docs/scale-out.md "A box that cannot reach a LAC"): one dial-out that no
    # LAC answered takes the target's route out of the kernel for 10 s. A dead LAC is found within
    # the trigger (connecting) timer, 10 s here, or 1 + 2 + 4 s of SCCRQ retransmissions per LAC.
    dialout = dict(LNSD_CONFIG["dialout"], targets=[
        {"virtual-router": "default", "prefix": TARGET, "domain": "L2TP-dial-out.de.dt", "profile": "isdn"}],
        timers={"trigger": "10s", "dormant": "5m"},
        **{"route-withdrawal": {"after-failures": 1, "hold-down": "10s"}})
    return dict(LNSD_CONFIG, **{"local-address": core, "hostname": box, "virtual-routers": [vr],
                                "dialout": dialout, "max-retransmits": 2})


def configure(c: dict) -> None:
    """Both LACs answer every site (their exchanges know the four numbers; one cpe-emu per
    exchange answers them); lnsd is started per box by start()."""
    numbers = {site_number(k): {"behaviour": "answer"} for k in SITES}
    sites = [{"number": site_number(k), "name": f"site{k}", "secret": "cpe-pass", "require_auth": "chap",
              "users": {"lns-home": "lns-home-pass"}} for k in SITES]
    for isdn, lac, cpe in (("isdn", "lac", "cpe"), ("isdn2", "lac2", "cpe2")):
        c[isdn]["numbers"] = numbers
        c[lac].update(secret="lac-secret", channels=16)
        c[cpe]["sites"] = sites
    c["lnsd"] = None


def start(lab) -> None:
    """BIRD on home and on both boxes, then lnsd on both boxes (lab.boxes: box -> Lnsd)."""
    bird.start(lab, "home", bird.BirdConfig(
        router_id=HOME, asn=HOME_AS, install=True,
        neighbours=[bird.Neighbour(BOXES[b][0], BOX_AS) for b in BOXES]))
    for box, (leased, _, _) in BOXES.items():
        bird.start(lab, box, bird.BirdConfig(router_id=leased, asn=BOX_AS, announce=[TARGET],
                                             neighbours=[bird.Neighbour(HOME, HOME_AS)]))
    lab.boxes = {box: start_lnsd(lab, lab.bdir, box_config(box), name=f"lnsd-{box}", host=box) for box in BOXES}


pytestmark = [pytest.mark.lab_config(topology=REPO / "scenarios/topologies/scale-out.yaml",
                                     configure=configure, start=start),
              pytest.mark.scale_out]


def trigger(lab, k: int) -> None:
    """One packet from home to site k's destination (the dial-out trigger: lnsd sees it on its TUN).
    The echo is not answered (the sites have no LAN here); only the trigger matters."""
    lab.exec("home", ["ping", "-n", "-q", "-c", "1", "-W", "0.05", site_destination(k)], check=False, timeout=10)


def serving_box(lab, k: int, boxes) -> str | None:
    """The box whose lnsd has site k's dial-out session inService, else None."""
    for box in boxes:
        try:
            if lab.boxes[box].ctl("show", "l2tp", "dial-out", "session", site_key(k)).get("state") == "inService":
                return box
        except Exception:  # noqa: BLE001 - no such session on this box (lnsctl exits non-zero)
            continue
    return None


def lacs_carrying_sessions(lab, box: str) -> set[str]:
    """The LACs (tunnel destinations) of `box`'s lnsd that carry at least one session."""
    return {t["destination"] for t in lab.boxes[box].ctl("show", "l2tp", "tunnel") if t.get("sessions")}


def home_spread(lab) -> dict[str, str]:
    """Site destination -> the box home's kernel would forward it to now (ECMP hash)."""
    out = {}
    for k in SITES:
        cp = lab.exec("home", ["ip", "-j", "route", "get", site_destination(k)], check=False)
        gw = (json.loads(cp.stdout or "[{}]") or [{}])[0].get("gateway")
        out[site_destination(k)] = next((b for b, (leased, _, _) in BOXES.items() if leased == gw), str(gw))
    return out


def test_both_boxes_announce_and_home_installs_ecmp(lab):
    both = sorted(BOXES[b][0] for b in BOXES)
    hops = wait_for(lambda: bird.route_next_hops(lab, "home", TARGET) == both and both,
                    30, f"home's route to {TARGET} with next hops {both}")
    assert hops == both
    # BIRD on home holds both BGP routes; the kernel got one multipath route from them.
    text = bird.birdc(lab, "home", "show", "route", "for", site_destination(1), "all")
    assert all(gw in text for gw in both), f"home's BIRD misses a box's route:\n{text}"


def test_killing_a_box_converges_on_the_other(lab):
    both = sorted(BOXES[b][0] for b in BOXES)
    wait_for(lambda: bird.route_next_hops(lab, "home", TARGET) == both, 30, f"ECMP route to {TARGET}")
    # A trigger from home reaches inService through one box (ECMP picks it by hash).
    trigger(lab, 1)
    first = wait_for(lambda: serving_box(lab, 1, BOXES), 30, "site 1 inService on a box")
    other = next(b for b in BOXES if b != first)
    # Through the LAC the home RADIUS prefers for that box (its NAS-Identifier's entries).
    assert wait_for(lambda: lacs_carrying_sessions(lab, first) == {PREFERRED_LAC[first]}, 10,
                    f"{first}'s session on its preferred LAC {PREFERRED_LAC[first]}")
    spread = home_spread(lab)
    # Its Framed-Route 10.10.1.0/24 (lnsd's access route) is announced by that box only.
    site_net = "10.10.1.0/24"
    assert wait_for(lambda: bird.route_next_hops(lab, "home", site_net) == [BOXES[first][0]], 15,
                    f"home's route to {site_net} via {first}")

    victim = lab.boxes[first].proc
    t0 = time.monotonic()
    os.kill(victim.pid, signal.SIGKILL)
    wait_for(lambda: bird.route_next_hops(lab, "home", TARGET) == [BOXES[other][0]], 30,
             f"home's route to {TARGET} to lose {first}'s next hop")
    t_withdrawn = time.monotonic() - t0
    wait_for(lambda: bird.route_next_hops(lab, "home", site_net) == [], 30,
             f"home's route to {site_net} withdrawn with {first}")
    t_site_withdrawn = time.monotonic() - t0

    # New dial-outs are served by the surviving box: a site never dialled, and the site that was
    # served by the killed box (through the other LAC: the surviving box prefers its own).
    def served(k: int) -> float:
        trigger(lab, k)
        wait_for(lambda: serving_box(lab, k, [other]), 30, f"site {k} inService on {other}")
        return time.monotonic() - t0
    t_new = served(2)
    t_again = served(1)
    assert wait_for(lambda: bird.route_next_hops(lab, "home", site_net) == [BOXES[other][0]], 15,
                    f"home's route to {site_net} via {other}")
    # The survivor places both calls through its own preferred LAC.
    assert lacs_carrying_sessions(lab, other) == {PREFERRED_LAC[other]}

    result = {"killed": first, "survivor": other, "load": open("/proc/loadavg").read().split()[:3],
              "home_ecmp_spread_before_kill": spread,
              "kill_to_target_withdrawn_s": round(t_withdrawn, 3),
              "kill_to_site_route_withdrawn_s": round(t_site_withdrawn, 3),
              "kill_to_new_site_inService_s": round(t_new, 3),
              "kill_to_same_site_inService_s": round(t_again, 3)}
    (lab.run_dir / "scale-out.json").write_text(json.dumps(result, indent=1))
    print("\nscale-out convergence:", json.dumps(result))


def start_dead_lnsds(lab) -> None:
    """lnsd started again on every box whose lnsd is no longer running (same configuration)."""
    for box, d in list(lab.boxes.items()):
        if not d.proc.alive():
            lab.boxes[box] = start_lnsd(lab, lab.bdir, box_config(box), name=f"lnsd-{box}-again", host=box)


def test_a_box_that_comes_back_announces_again_and_a_cut_box_is_withdrawn_by_bfd(lab):
    """A killed box's lnsd started again: its target route is back and home spreads over both
    boxes again. Then a box becomes unreachable (its leased link down: no TCP reset, no BGP
    NOTIFICATION reaches home, as when a box loses power): home's BFD session (3 × 100 ms) takes
    the BGP session down, not the 9 s hold time, and the route loses that box."""
    start_dead_lnsds(lab)
    both = sorted(BOXES[b][0] for b in BOXES)
    wait_for(lambda: bird.route_next_hops(lab, "home", TARGET) == both, 30,
             f"home's route to {TARGET} via both boxes again")
    cut, other = "lns-b", "lns-a"
    t0 = time.monotonic()
    lab.exec(cut, ["ip", "link", "set", "leased", "down"])
    wait_for(lambda: bird.route_next_hops(lab, "home", TARGET) == [BOXES[other][0]], 30,
             f"home's route to {TARGET} to lose {cut}")
    t_withdrawn = time.monotonic() - t0
    peer = f"peer{list(BOXES).index(cut)}"
    status = bird.birdc(lab, "home", "show", "protocols", "all", peer)
    assert "BFD session down" in status, f"home's BGP session to {cut} did not go down by BFD:\n{status}"
    result = {"cut": cut, "load": open("/proc/loadavg").read().split()[:3],
              "link_down_to_target_withdrawn_s": round(t_withdrawn, 3)}
    (lab.run_dir / "scale-out-bfd.json").write_text(json.dumps(result, indent=1))
    print("\nscale-out box cut:", json.dumps(result))


def restore_both_boxes(lab) -> None:
    """Both boxes reachable and running lnsd again (the cases above kill one lnsd and cut lns-b's
    leased link), and home's route through both."""
    for box in BOXES:
        lab.exec(box, ["ip", "link", "set", "leased", "up"])
        lab.exec(box, ["ip", "link", "set", "core", "up"])
    start_dead_lnsds(lab)
    both = sorted(BOXES[b][0] for b in BOXES)
    wait_for(lambda: bird.route_next_hops(lab, "home", TARGET) == both, 60,
             f"home's route to {TARGET} via both boxes")


def route_state(lab, box: str) -> str:
    """The route state (announced, withdrawn, probation) of `box`'s dial-out target."""
    return lab.boxes[box].ctl("show", "l2tp", "dial-out", "target")[0]["route"]


@pytest.mark.req("ROUTE.withdrawal")
def test_a_box_cut_off_from_the_lacs_withdraws_its_route_and_the_other_serves(lab):
    """A box whose lnsd and BIRD run but which cannot reach any LAC (its core link down, inside
    its namespace): the trigger home's ECMP hash sends it fails (no LAC answers), lnsd takes the
    target's route out of the kernel (route-withdrawal), BIRD withdraws it, home converges on the
    other box, which serves that site and a new one; when the link is back, the route returns after
    the hold-down. With route-withdrawal off (JunosE's behaviour) home keeps both next hops and
    the box keeps failing its share of triggers, so the wait for the withdrawal fails."""
    restore_both_boxes(lab)
    fresh = [k for k in SITES if serving_box(lab, k, BOXES) is None]
    assert fresh, "every site already in service: nothing to trigger"
    spread = home_spread(lab)
    k = fresh[0]
    cut = spread[site_destination(k)]
    assert cut in BOXES, f"home routes {site_destination(k)} to {cut}, not a box"
    other = next(b for b in BOXES if b != cut)
    assert route_state(lab, cut) == "announced"
    withdrawals_before = lab.boxes[cut].ctl("show", "l2tp", "dial-out", "chassis")["wiring"]["route-withdrawals"]

    t0 = time.monotonic()
    lab.exec(cut, ["ip", "link", "set", "core", "down"])
    trigger(lab, k)
    wait_for(lambda: bird.route_next_hops(lab, "home", TARGET) == [BOXES[other][0]], 40,
             f"home's route to {TARGET} to lose {cut}, cut off from the LACs")
    t_withdrawn = time.monotonic() - t0
    assert route_state(lab, cut) == "withdrawn"
    wiring = lab.boxes[cut].ctl("show", "l2tp", "dial-out", "chassis")["wiring"]
    assert wiring["route-withdrawals"] == withdrawals_before + 1
    # lnsd's event for it: the target's route FSM announced -> withdrawn.
    assert any(e.get("entity") == "lnsd.dialout-route" and e.get("to") == "withdrawn"
               for e in lab.boxes[cut].event_list()), "no lnsd.dialout-route withdrawn event"

    # New dial-outs through the other box: the site the cut box failed, and a site never dialled.
    def served(site: int) -> float:
        trigger(lab, site)
        wait_for(lambda: serving_box(lab, site, [other]), 30, f"site {site} inService on {other}")
        return time.monotonic() - t0
    t_same = served(k)
    more = [s for s in fresh if s != k]
    t_new = served(more[0]) if more else None

    # The link back: after the hold-down (10 s from the withdrawal) the route is back on probation
    # and home spreads over both boxes again.
    t1 = time.monotonic()
    lab.exec(cut, ["ip", "link", "set", "core", "up"])
    both = sorted(BOXES[b][0] for b in BOXES)
    wait_for(lambda: bird.route_next_hops(lab, "home", TARGET) == both, 40,
             f"home's route to {TARGET} via {cut} again after its hold-down")
    t_back = time.monotonic() - t1
    assert route_state(lab, cut) == "probation"

    result = {"cut": cut, "survivor": other, "site": site_destination(k),
              "load": open("/proc/loadavg").read().split()[:3],
              "cut_to_target_withdrawn_s": round(t_withdrawn, 3),
              "cut_to_same_site_inService_s": round(t_same, 3),
              "cut_to_new_site_inService_s": round(t_new, 3) if t_new is not None else None,
              "link_up_to_announced_again_s": round(t_back, 3)}
    (lab.run_dir / "scale-out-lac-cut.json").write_text(json.dumps(result, indent=1))
    print("\nscale-out LAC cut:", json.dumps(result))
