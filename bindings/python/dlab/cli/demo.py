"""`./lab demo`: the main job — a dial-out on real parts, shown as it happens.

Brings up the default lab (docs/architecture.md "The default lab") with real FreeRADIUS home and LNS servers, starts lnsd,
isdn-emu, lac-emu and cpe-emu (dlab.dialout_lab, the same set-up the conformance suite uses), pings
10.10.1.1 from `home` — the first packet is the trigger — and waits (bounded) for the dial-out
session to reach inService. Then it prints one timeline, in milliseconds from the trigger, merging
what crossed the wire (decoded by tshark from the per-link captures: RADIUS, SCCRQ…SCCCN,
OCRQ/OCRP/OCCN, LCP, CHAP/PAP, IPCP) with lnsd's state transitions (dial-out session, tunnel,
session, PPP layers, routes); the Access-Accept attributes the manager used; the ping results; and
`lnsctl show l2tp dial-out session` and `show l2tp tunnel`. Captures, event logs and the timeline
(JSON) stay in the run folder it names; the lab is torn down unless --keep.

Options: `--keep` leaves the lab up (registered, for `./lab shell HOST` and `./lab down`);
`--scenario NAME` runs the demo on any scenario of the library — a topology of scenarios/topologies
(by name or file), or a YAML scenario of scenarios/examples (by file name, stem or its `name:`,
docs/scenarios.md) whose `lab.configs` change the daemons (e.g. `busy-site`: the line is busy, the
session ends inhibited); `--json` prints only the result as JSON on stdout (the timeline in order,
each entry {"t", "ms", "source", "what"}), progress goes nowhere.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import time
from pathlib import Path

import yaml

from .. import lab as L
from .. import scenario as S
from .. import topology as T
from ..dialout_lab import KEY, NotBuilt, build_dir, start_daemons
from ..freeradius import radius_request
from ..lab import REPO
from ..wait import WaitTimeout, wait_for

DIALOUT_USER = "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt"
# lnsd transitions worth a line in the timeline
SHOWN_ENTITIES = ("dialout.session", "l2tp.tunnel", "l2tp.session", "ppp.lcp", "ppp.auth", "ppp.ipcp",
                  "lnsd.route", "radius.request")


def wire_packets(pcap, link: str) -> list[dict]:
    """RADIUS and L2TP control / PPP control packets of one capture, decoded by tshark."""
    cp = subprocess.run(["tshark", "-n", "-r", str(pcap), "-Y", "radius || l2tp", "-T", "fields",
                         "-E", "separator=\t", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ip.dst",
                         "-e", "_ws.col.Protocol", "-e", "_ws.col.Info", "-e", "radius.User_Name"],
                        capture_output=True, text=True)
    out = []
    for line in cp.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 5:
            continue
        info = f[4]
        if "ZLB" in info or f[3] in ("ICMP", "IPv4"):
            continue  # acknowledgements and the pings themselves are shown elsewhere
        what = f"{f[3]} {info}".strip()
        if len(f) > 5 and f[5]:
            what += f"  User-Name={f[5]}"
        out.append({"t": float(f[0]), "source": f"wire:{link}", "what": f"{f[1]} → {f[2]}  {what}"})
    return out


def lnsd_transitions(events: list[dict]) -> list[dict]:
    out = []
    for e in events:
        if not e.get("entity", "").startswith(SHOWN_ENTITIES):
            continue
        wall = e.get("time")
        try:
            t = dt.datetime.fromisoformat(str(wall).replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
        arrow = f"{e.get('from') or '·'} → {e.get('to')}" if e.get("to") else e.get("event", "")
        cause = f" ({e['cause']})" if e.get("cause") else ""
        out.append({"t": t, "source": "lnsd",
                    "what": f"{e['entity']} {e.get('id', '')}: {arrow} on {e.get('event', '')}{cause}"})
    return out


SCENARIO_DIR = REPO / "scenarios" / "examples"
TOPOLOGY_DIR = REPO / "scenarios" / "topologies"
SETTLED = ("inService", "failed", "inhibited")


def resolve_scenario(name: str):
    """`--scenario NAME` → (topology, configure hook for start_daemons or None, description).

    A topology (name under scenarios/topologies or a .yaml file with `hosts`), else a YAML scenario
    (a file, or a file name / stem / `name:` under scenarios/examples). LabError lists what exists."""
    path = Path(name)
    candidates = [path] if path.suffix in (".yaml", ".yml") and path.exists() else []
    if not candidates and (TOPOLOGY_DIR / f"{name}.yaml").exists():
        return T.load(TOPOLOGY_DIR / f"{name}.yaml"), None, ""
    candidates += [SCENARIO_DIR / f"{name}.yaml", SCENARIO_DIR / f"{name.replace('-', '_')}.yaml"]
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        for f in sorted(SCENARIO_DIR.glob("*.yaml")):
            try:
                if S.load(f).name == name:
                    found = f
                    break
            except S.ScenarioError:
                continue
    if found is None:
        known = sorted({x.stem for x in TOPOLOGY_DIR.glob("*.yaml")} | {x.stem for x in SCENARIO_DIR.glob("*.yaml")})
        raise L.LabError(f"--scenario {name!r}: neither a topology nor a scenario ({', '.join(known)})")
    doc = yaml.safe_load(found.read_text())
    if isinstance(doc, dict) and "hosts" in doc:          # a topology file
        return T.load(found), None, ""
    sc = S.load(found)
    return T.load(TOPOLOGY_DIR / "default.yaml"), sc.lab_spec().configure, f"{sc.name}: {sc.description}"


def run(a) -> int:
    topo, configure, description = resolve_scenario(a.scenario)
    if getattr(a, "cpe", None):
        topo.cpe = a.cpe
    try:
        bdir = build_dir()
    except NotBuilt as e:
        raise L.LabError(str(e)) from None
    say = (lambda *x: None) if a.json else print
    lab = L.Lab(topo, persistent=a.keep)
    ok = False
    result: dict = {}
    try:
        t_up = time.monotonic()
        lab.up()
        say(f"lab {lab.runid} up in {time.monotonic() - t_up:.1f} s: {len(lab.namespaces)} namespaces, "
            f"FreeRADIUS home + LNS + vr-b servers; run folder {lab.run_dir}")
        if description:
            say(f"scenario {description}")
        d = start_daemons(lab, bdir, configure=configure)
        cpe_what = "cpe-emu" if d.pppd is None else \
            f"pppd on a UML guest (booted in {d.pppd.guest.boot_seconds:.1f} s)"
        say(f"lnsd, isdn-emu, lac-emu, {cpe_what} ready; dial-out route 10.10.0.0/16 (VR default, domain "
            "L2TP-dial-out.de.dt, RD 0.0.0.0:65000)")
        say("\nping 10.10.1.1 from home (the first packet is the trigger) …")
        ping = subprocess.Popen(L.netns.exec_argv(lab.ns("home"), ["ping", "-n", "-c", "8", "-i", "0.5",
                                                                   "-W", "1", "10.10.1.1"]),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def state():
            s = d.ctl("show", "l2tp", "dial-out", "session")
            return next((x for x in s if x["session"] == KEY and x.get("state") in SETTLED), None)
        try:
            final = wait_for(state, 30, "the dial-out session to leave authenticating/connecting")
        except WaitTimeout as e:
            final = {"state": f"timeout: {e}"}
        ping_out, _ = ping.communicate(timeout=30)
        if final.get("state") == "inService" and "bytes from" not in ping_out:
            # a slower peer (pppd on a UML guest) may finish IPCP after the trigger's pings ended
            ping_out += lab.exec("home", ["ping", "-n", "-c", "4", "-i", "0.5", "-W", "1", "10.10.1.1"],
                                 check=False, timeout=20).stdout
        # The default demo must reach inService; a scenario of the library shows where it settles.
        ok = final.get("state") == "inService" or (configure is not None and final.get("state") in SETTLED)

        events = d.event_list()
        lines = lnsd_transitions(events)
        for link in ("aaa", "core"):
            if link in lab.pcaps:
                lines += wire_packets(lab.pcaps[link], link)
        lines.sort(key=lambda x: x["t"])
        t0 = next((x["t"] for x in lines if "→ authenticating" in x["what"]), lines[0]["t"] if lines else 0)
        for x in lines:
            x["ms"] = round((x["t"] - t0) * 1000, 1)
        say(f"\n{'ms':>9}  {'where':10} what")
        for x in lines:
            say(f"{x['ms']:9.1f}  {x['source']:10} {x['what']}")

        accept = radius_request(lab, "home", {"User-Name": DIALOUT_USER, "Service-Type": "Outbound-User"})
        say("\nAccess-Accept of the home RADIUS server (attributes the dial-out manager used):")
        for name, value in accept["received"]["attributes"]:
            say(f"   {name} = {value}")

        replies = [ln for ln in ping_out.splitlines() if "bytes from" in ln]
        sent = sum(int(m) for m in re.findall(r"(\d+) packets transmitted", ping_out))
        say(f"\nping: {len(replies)} of {sent} answered" + (" (see the cpe-emu site's tun counters: "
                                                              "cpe.ctl show state)" if not replies else ""))
        for ln in ping_out.splitlines()[-2:]:
            say(f"   {ln}")
        show_s = lab.exec("lns", [str(bdir / "lns/lnsd/lnsctl"), "--socket", d.sock, "show", "l2tp",
                                  "dial-out", "session"], check=False).stdout
        show_t = lab.exec("lns", [str(bdir / "lns/lnsd/lnsctl"), "--socket", d.sock, "show", "l2tp",
                                  "tunnel"], check=False).stdout
        say("\nlnsctl show l2tp dial-out session\n" + show_s.rstrip())
        say("\nlnsctl show l2tp tunnel\n" + show_t.rstrip())
        result = {"runid": lab.runid, "run_folder": str(lab.run_dir), "ok": ok, "scenario": a.scenario,
                  "kept": bool(a.keep),
                  "session_state": final.get("state"), "timeline": lines,
                  "access_accept": accept["received"]["attributes"], "ping_replies": len(replies),
                  "pcaps": {k: str(v) for k, v in lab.pcaps.items()}, "events": str(d.events)}
        (lab.run_dir / "timeline.json").write_text(json.dumps(result, indent=1))
    finally:
        if not a.keep:
            lab.down()
    say(f"\nrun folder {lab.run_dir}: pcaps/*.pcap (one per link), lnsd-events.jsonl, timeline.json, logs/")
    if a.keep:
        say(f"lab {lab.runid} left up: ./lab shell HOST, ./lab down")
    else:
        left = [n for n in L.netns.list_lab_namespaces() if lab.runid in n]
        say(f"lab torn down ({len(left)} namespaces left)")
    if a.json:
        print(json.dumps(result, indent=1))
    say("demo: " + ("OK — dial-out session inService" if ok else f"FAILED — session {result.get('session_state')}"))
    return 0 if ok else 1
