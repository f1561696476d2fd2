"""`./lab bench campaign faults|flood|kill|malformed`: the fault and attack campaigns against lnsd in
the lab (docs/reliability.md "Measured in the lab"). Each is bounded (every wait has a deadline, every
flood a duration), stops by itself, tears its lab down whatever happens, prints its figures and
writes them as JSON into the run folder (`campaign-<kind>.json`).

- faults: N dial-outs (the bench's generated sites, dlab.cli.bench_dialout) whose L2TP (lnsd <->
  lac-emu) and RADIUS (lnsd <-> the home and the LNS FreeRADIUS) go through ImpairmentRelays that drop
  (default 30 %), duplicate and reorder datagrams at random (seeded). Every session must reach a
  final state (inService, or failed / inhibited / dormant with its cause); then every session is
  reset and lnsd must hold no dial-out session, no L2TP session, no tunnel that carries a session
  or is still being set up, and no route or `ip rule` it did not have before the triggers
  (`show … --json`, `ip -j route` / `ip -j rule` in the LNS namespace).
- flood: for each flood (SCCRQs from forged sources, ICRQs without ICCN on one tunnel, control
  messages ahead of a gap in Ns on one tunnel, triggers to ever new destinations) at the rate one
  Python sender reaches, for a bounded duration, while a scripted LAC places an incoming call and a
  dial-out is made (or, under the trigger flood, kept in service and used): both must succeed,
  lnsd's VmRSS stays under a stated bound, and the counters that moved name what was refused.
- kill: M dial-outs triggered, `kill -9 lnsd` once half of them are inService, lnsd restarted with
  the same configuration: how long lac-emu takes to drop the dead tunnels (its Hello / retransmission
  limits, RFC 2661 §5.5 / §5.8) and cpe-emu its PPP links, the `ip rule`s and routes in the LNS
  namespace after the kill and after the restart, and new dial-outs through the restarted lnsd.
  Before the restart, a rule lnsd owns (proto 209) that its configuration lacks, as another
  configuration would have left it, and an operator's rule are added: after the restart the rules
  must be those before the kill plus the operator's one.
- malformed: every UDP payload of the public captures (../shared/captures) and every fuzz corpus
  file of the repository sent to lnsd's UDP 1701 from a scripted peer: lnsd must count each (its
  `show l2tp` counters against the kernel's datagram count), stay alive and answer its control
  socket, and a dial-out and a scripted incoming call must still succeed afterwards.
"""
from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import socket
import threading
import time
from pathlib import Path

from .. import lab as L
from .. import netns
from ..control_api import request
from ..dialout_lab import (KEY, NotBuilt, lnsd_argv, build_dir, default_topology, start_daemons)
from ..lab import REPO
from ..wait import WaitTimeout, wait_for
from . import bench_dialout as B

LNS = "198.51.100.1"
RELAY_LAC, LAC = "198.51.100.9", "198.51.100.2"
RELAY_HOME, HOME_RADIUS = "192.0.2.19", "192.0.2.10"
RELAY_LNSR, LNS_RADIUS = "192.0.2.18", "192.0.2.11"
FLOODER = "198.51.100.3"        # lac2's address: a listed peer (lac2 itself is not started here)
CAPTURES = REPO.parent / "shared" / "captures"
KINDS = ("faults", "flood", "kill", "malformed")
FLOODS = ("sccrq", "icrq", "out-of-order", "trigger")


# ----- helpers shared by the campaigns -----

def _bdir() -> Path:
    try:
        return build_dir()
    except NotBuilt as e:
        raise L.LabError(str(e)) from None


def _ctl(d, cmd: str, args: dict | None = None, timeout: float = 10.0):
    """One control-API request to lnsd (the same JSON as `lnsctl --json`)."""
    return request(d.sock, cmd, args, timeout=timeout)


def _lnsd(lab: L.Lab):
    return next(p for p in reversed(lab.procs) if p.name == "lnsd")


def rss_kib(pid: int) -> dict:
    """VmRSS and VmHWM (KiB) of a process, from /proc/<pid>/status; {} when it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def flatten(obj, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a JSON value as {"a.b.c": n} (lists indexed by position)."""
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}{i}."))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix[:-1]] = obj
    return out


def counters(d) -> dict[str, float]:
    """lnsd's counters: `show l2tp` (system counters, limits usage) and the dial-out chassis and
    targets (`show l2tp dial-out`, `show l2tp dial-out target`), flattened."""
    c = {f"l2tp.{k}": v for k, v in flatten(_ctl(d, "show l2tp")).items()}
    c.update({f"dial-out.{k}": v for k, v in flatten(_ctl(d, "show l2tp dial-out")).items()})
    for t in _ctl(d, "show l2tp dial-out target"):
        c.update({f"target {t.get('target')}.{k}": v for k, v in flatten(t).items()})
    return c


def moved(before: dict, after: dict) -> dict[str, float]:
    """The counters that changed (after - before), those whose name says a refusal first."""
    out = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    refusal = ("dropped", "refused", "discard", "overflow", "malformed", "timeout", "unknown", "forgotten",
               "inhibited", "rate", "cap", "full", "bad", "error", "invalid")
    return dict(sorted(out.items(), key=lambda kv: (not any(w in kv[0] for w in refusal), kv[0])))


def kernel_state(lab: L.Lab) -> dict:
    """The LNS namespace's `ip rule`s and its routes (every table) through lnsd's TUNs (dlo*)."""
    rules = json.loads(lab.exec("lns", ["ip", "-j", "rule", "show"]).stdout or "[]")
    routes = json.loads(lab.exec("lns", ["ip", "-j", "route", "show", "table", "all"]).stdout or "[]")
    return {"rules": sorted(f"{r.get('priority')} iif {r.get('iif', '*')} table {r.get('table')}"
                            f" proto {r.get('protocol', 'unspec')}" for r in rules
                            if r.get("table") not in ("local", "main", "default")),
            "routes": sorted(f"{r.get('dst')} dev {r.get('dev')} table {r.get('table', 'main')}" for r in routes
                             if str(r.get("dev", "")).startswith("dlo") and r.get("type", "unicast") == "unicast")}


def lnsd_holds(d) -> dict:
    """What lnsd holds now: dial-out sessions by state, L2TP tunnels by state, L2TP sessions, and
    `tunnels_busy`: tunnels that carry a session or are neither established nor idle (an idle one
    is in its RFC 2661 §5.7 hold; an established one without sessions is kept for the next
    dial-out to that LAC, lnsd has no idle-tunnel timer)."""
    by_state: dict[str, int] = {}
    for s in _ctl(d, "show l2tp dial-out session"):
        by_state[s.get("state", "?")] = by_state.get(s.get("state", "?"), 0) + 1
    tunnels = _ctl(d, "show l2tp tunnel")
    t_state: dict[str, int] = {}
    for t in tunnels:
        t_state[t.get("state", "?")] = t_state.get(t.get("state", "?"), 0) + 1
    busy = sum(1 for t in tunnels if t.get("sessions") or t.get("state") not in ("established", "idle"))
    return {"dialout_sessions": by_state, "tunnels": t_state, "tunnels_busy": busy,
            "sessions": len(_ctl(d, "show l2tp session"))}


def drain_dialouts(d, deadline: float) -> dict:
    """Reset every dial-out session until none is left (an inService one goes down, a dormant or
    failed one is deleted: docs/dialout.md), then wait for the L2TP sessions to go and every tunnel
    to be idle or established without a session. Returns {"seconds", "left": lnsd_holds()}."""
    t0 = time.monotonic()

    def gone():
        left = _ctl(d, "show l2tp dial-out session")
        for s in left:
            try:
                _ctl(d, "l2tp dial-out session reset", {"id": s["session"]})
            except Exception:  # noqa: BLE001 - it may have gone meanwhile
                pass
        if left:
            return None
        h = lnsd_holds(d)
        return h if h["tunnels_busy"] == 0 and h["sessions"] == 0 else None
    try:
        wait_for(gone, deadline, "every dial-out session and L2TP session of lnsd gone", interval=0.5)
    except WaitTimeout:
        pass
    return {"seconds": round(time.monotonic() - t0, 2), "left": lnsd_holds(d)}


def _sites_topology(sites: list[B.Site], extra=None):
    """The default topology with the bench's RADIUS users for `sites`; `extra(raw)` edits it further."""
    def configure(raw: dict) -> None:
        raw["radius"]["home"]["users"] = [B._home_user(s) for s in sites]
        raw["radius"]["lns"]["users"] = [B._lns_user(s) for s in sites]
        if extra:
            extra(raw)
    return default_topology(configure)


def _trigger(lab: L.Lab, sites: list[B.Site], rate: float) -> dict:
    dests = "\n".join(s.destination for s in sites)
    cp = lab.exec("home", ["/usr/bin/python3", "-c", B.SENDER, str(rate)], input=dests,
                  timeout=max(30.0, 2 * len(sites) / rate if rate else 30.0))
    return json.loads(cp.stdout)


def _final_states(sites: list[B.Site], tail: B.EventTail) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in sites:
        f = tail.final.get(s.key)
        why = f"{f[0]} ({f[2]})" if f and f[0] != "inService" else (f[0] if f else
                                                                       ("not final (stuck)" if s.key in tail.trigger_ns else "no trigger seen"))
        out[why] = out.get(why, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _wait_final(sites, tail, lnsd, deadline) -> str:
    def settled():
        tail.poll()
        if not lnsd.alive():
            return "lnsd exited"
        return "all" if all(s.key in tail.final for s in sites) else None
    try:
        return wait_for(settled, deadline, f"{len(sites)} dial-out sessions final", interval=0.5)
    except WaitTimeout:
        return "deadline passed"


def _write(lab: L.Lab, kind: str, r: dict) -> dict:
    r["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    (lab.run_dir / f"campaign-{kind}.json").write_text(json.dumps(r, indent=1))
    return r


# ----- 1. dial-outs through loss, reordering and duplication -----

def _relay_sock(lab: L.Lab, host: str, addr: tuple[str, int]):
    s = netns.socket_in(lab.ns(host))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(addr)
    return s


def _impair(relay, loss: float, duplicate: float, reorder: float, seed: int) -> None:
    """Rules in order (the first that selects a datagram acts): drop with probability `loss`, else
    duplicate with `duplicate`, else hold until the next datagram in its direction with `reorder`."""
    if loss:
        relay.add_rule("loss", "drop", probability=loss, seed=seed)
    if duplicate:
        relay.add_rule("duplicate", "duplicate", probability=duplicate, seed=seed + 1)
    if reorder:
        relay.add_rule("reorder", "reorder", probability=reorder, seed=seed + 2, hold=0.5)


def run_faults(n: int, loss: float = 0.3, duplicate: float = 0.1, reorder: float = 0.1, rate: float = 100.0,
               seed: int = 1, deadline: float | None = None, trigger_timer: str = "30s", tunnels: int = 1,
               say=print) -> dict:
    """Campaign 1 (module docstring). `trigger_timer`: lnsd's dial-out trigger timer (JunosE
    "L2TP Dial-Out" Table 74: a session not inService when it expires goes inhibited); `tunnels`:
    Tunnel-Assignment-Id values the sites are spread over (one L2TP tunnel each, RFC 2868 §3.7,
    all through the relay to one lac-emu). Returns the
    report dict; its "ok" is True when every session reached a final state, none is left stuck,
    and nothing leaked after the reset."""
    from ..proto import ImpairmentRelay
    bdir = _bdir()
    sites = [dataclasses.replace(s, lac=RELAY_LAC) for s in B.plan_sites(n, 1, tunnels)]
    deadline = deadline if deadline is not None else 120.0 + n / 5.0

    def topo(raw: dict) -> None:
        for link in raw["links"]:
            if link["name"] == "core":
                link["ends"]["lac"] = [link["ends"]["lac"], f"{RELAY_LAC}/24"]
            if link["name"] == "aaa":
                link["ends"]["radius"] = list(link["ends"]["radius"]) + [f"{RELAY_HOME}/24", f"{RELAY_LNSR}/24"]
        for srv, relay in (("home", RELAY_HOME), ("lns", RELAY_LNSR)):
            raw["radius"][srv]["clients"] = list(raw["radius"][srv]["clients"]) + [relay]
    base = B.configure_daemons(sites, 1, None)

    def configure(c: dict) -> None:
        base(c)
        vr = c["lnsd"]["virtual-routers"][0]
        vr["radius"]["authentication"][0]["address"] = RELAY_HOME
        vr["lns-radius"]["authentication"][0]["address"] = RELAY_LNSR
        c["lnsd"]["dialout"]["timers"]["dormant"] = "2s"     # a reset session is deleted 2 s later
        c["lnsd"]["dialout"]["timers"]["trigger"] = trigger_timer
    r: dict = {"campaign": "faults", "sites": n, "loss": loss, "duplicate": duplicate, "reorder": reorder,
               "trigger_timer": trigger_timer, "tunnels": tunnels,
               "trigger_rate": rate, "seed": seed, "deadline_s": deadline,
               "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    t0 = time.monotonic()
    with L.Lab(_sites_topology(sites, topo), capture=False) as lab:
        r["run_dir"] = str(lab.run_dir)
        socks = [_relay_sock(lab, "lac", (RELAY_LAC, 1701)), _relay_sock(lab, "lac", (RELAY_LAC, 0)),
                 _relay_sock(lab, "radius", (RELAY_HOME, 1812)), _relay_sock(lab, "radius", (RELAY_HOME, 0)),
                 _relay_sock(lab, "radius", (RELAY_LNSR, 1812)), _relay_sock(lab, "radius", (RELAY_LNSR, 0))]
        relays = {"l2tp": ImpairmentRelay(socks[0], socks[1], (LAC, 1701)),
                  "home-radius": ImpairmentRelay(socks[2], socks[3], (HOME_RADIUS, 1812)),
                  "lns-radius": ImpairmentRelay(socks[4], socks[5], (LNS_RADIUS, 1812))}
        for i, rel in enumerate(relays.values()):
            _impair(rel, loss, duplicate, reorder, seed + 10 * i)
            rel.start()
        try:
            d = start_daemons(lab, bdir, configure)
            lnsd = _lnsd(lab)
            lab.exec("lns", ["ip", "link", "set", "dlo0", "txqueuelen", str(max(1000, 2 * n))])
            lab.exec("home", ["ping", "-n", "-q", "-c", "1", "-W", "2", "203.0.113.1"], check=False)
            kernel_before = kernel_state(lab)
            say(f"lab {lab.runid} up in {time.monotonic() - t0:.1f} s; {n} dial-outs at {rate}/s through "
                f"{loss:.0%} loss, {duplicate:.0%} duplication, {reorder:.0%} reordering of L2TP and RADIUS …")
            tail = B.EventTail(d.events)
            t1 = time.monotonic()
            r["sender"] = _trigger(lab, sites, rate)
            outcome = _wait_final(sites, tail, lnsd, deadline)
            tail.poll()
            r["settle_s"] = round(time.monotonic() - t1, 2)
            r["outcome"] = outcome
            r["final_states"] = _final_states(sites, tail)
            r["in_service"] = sum(1 for s in sites if tail.final.get(s.key, ("",))[0] == "inService")
            r["stuck"] = sum(1 for s in sites if s.key not in tail.final)
            lat = sorted((tail.final[s.key][1] - tail.trigger_ns[s.key]) / 1e9 for s in sites
                         if tail.final.get(s.key, ("",))[0] == "inService")
            if lat:
                r["trigger_to_inservice_s"] = {"p50": round(B.percentile(lat, 50), 2),
                                               "p99": round(B.percentile(lat, 99), 2), "max": round(lat[-1], 2)}
            r["lnsd_rss_kib"] = rss_kib(lnsd.pid)
            r["held_before_reset"] = lnsd_holds(d)
            r["lnsd_counters"] = {k: v for k, v in counters(d).items()
                                  if k.startswith("l2tp.system.counters") and v}
            say(f"{r['in_service']} / {n} inService, {r['stuck']} not final after {r['settle_s']} s; "
                f"resetting every session …")
            r["drain"] = drain_dialouts(d, 60.0 + n / 20.0)
            r["kernel_before"], r["kernel_after"] = kernel_before, kernel_state(lab)
            r["relays"] = {k: {"counters": rel.counters,
                               "rules": {x["name"]: x["applied"] for x in rel.rules}} for k, rel in relays.items()}
            r["lnsd_alive"] = lnsd.alive()
        finally:
            for rel in relays.values():
                rel.stop()
            for s in socks:
                s.close()
        left = r["drain"]["left"]
        r["leaks"] = {"dialout_sessions": sum(left["dialout_sessions"].values()), "tunnels": left["tunnels_busy"],
                      "sessions": left["sessions"],
                      "routes": sorted(set(r["kernel_after"]["routes"]) - set(kernel_before["routes"])),
                      "rules": sorted(set(r["kernel_after"]["rules"]) ^ set(kernel_before["rules"]))}
        r["ok"] = (outcome == "all" and r["stuck"] == 0 and r["lnsd_alive"]
                   and not any(r["leaks"].values()))
        return _write(lab, "faults", r)


def format_faults(r: dict) -> list[tuple[str, object]]:
    rel = r.get("relays", {})
    applied = ", ".join(f"{k}: " + " ".join(f"{n} {v}" for n, v in x["rules"].items())
                        + f" of {x['counters'].get('received')}" for k, x in rel.items())
    return [("dial-outs, L2TP tunnels, lnsd trigger timer", f"{r['sites']}, {r['tunnels']}, {r['trigger_timer']}"), ("impairment (L2TP, home and LNS RADIUS)",
                                        f"loss {r['loss']:.0%}, duplicate {r['duplicate']:.0%}, reorder {r['reorder']:.0%}, seed {r['seed']}"),
            ("datagrams impaired / received per relay", applied),
            ("outcome", f"{r.get('outcome')} in {r.get('settle_s')} s"),
            ("in service", f"{r.get('in_service')} / {r['sites']}"),
            ("final states", ", ".join(f"{k}: {v}" for k, v in r.get("final_states", {}).items())),
            ("stuck (not final)", r.get("stuck")),
            ("trigger -> inService p50 / p99 / max (s)",
             " / ".join(str(r.get("trigger_to_inservice_s", {}).get(k)) for k in ("p50", "p99", "max"))),
            ("lnsd VmRSS / VmHWM (KiB)", f"{r.get('lnsd_rss_kib', {}).get('VmRSS')} / {r.get('lnsd_rss_kib', {}).get('VmHWM')}"),
            ("reset of every session: gone in", f"{r.get('drain', {}).get('seconds')} s"),
            ("tunnels by state afterwards", r.get("drain", {}).get("left", {}).get("tunnels")),
            ("leaks (sessions, tunnels, routes, rules)", json.dumps(r.get("leaks")))]


# ----- 2. floods while legitimate calls are made -----

def _sccrq_flood(lab: L.Lab, stop: threading.Event, out: dict) -> None:
    """SCCRQs from forged sources 100.64.0.0/10 (RFC 6598), each its own address, port and
    Assigned Tunnel ID, as raw IPv4 from `lac2` (on the core link)."""
    from ..proto import L2TP, TriggerInjector
    rnd = random.Random(7)
    pkts = []
    for i in range(4096):
        src = f"100.{64 + rnd.randrange(64)}.{rnd.randrange(256)}.{1 + rnd.randrange(254)}"
        sccrq = bytes(L2TP.sccrq(assigned_tunnel_id=1 + i % 65535, host_name=f"flood{i}"))
        pkts.append(bytes(TriggerInjector.udp(src, LNS, 1024 + rnd.randrange(60000), 1701, sccrq)))
    raw = netns.socket_in(lab.ns("lac2"), socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    _blast(raw, pkts, (LNS, 0), stop, out)
    raw.close()


def _blast(sock, pkts: list[bytes], to, stop: threading.Event, out: dict) -> None:
    sent = errors = 0
    t0 = time.monotonic()
    while not stop.is_set():
        for p in pkts:
            try:
                sock.sendto(p, to)
                sent += 1
            except OSError:
                errors += 1
        out.update(sent=sent, errors=errors, seconds=time.monotonic() - t0)


def _flood_tunnel(lab: L.Lab):
    """A tunnel from the flooder (a listed peer's address) to lnsd: (ScriptedLac, its socket)."""
    from ..scripted_lac import ScriptedLac
    lac = ScriptedLac(lab, FLOODER, LNS, host="lac2", host_name="flooder")
    lac.open(tid=77)
    lac.l2tp.expect("ZLB", within=5)
    return lac


def _icrq_flood(lab: L.Lab, stop: threading.Event, out: dict) -> None:
    """ICRQs (RFC 2661 §7.4.1) on one established tunnel, never an ICCN; lnsd's ICRPs are
    acknowledged (the scripted endpoint acks what it drains), so the tunnel stays up."""
    from ..proto import L2TP
    lac = _flood_tunnel(lab)
    sent, t0, sid = 0, time.monotonic(), 0
    try:
        while not stop.is_set():
            for _ in range(64):
                sid = sid % 65535 + 1
                lac.l2tp.send(L2TP.icrq(assigned_session_id=sid, call_serial_number=sid))
                sent += 1
            lac.l2tp.drain(0.0)
            out.update(sent=sent, errors=0, seconds=time.monotonic() - t0)
    finally:
        lac.close()


def _ooo_flood(lab: L.Lab, stop: threading.Event, out: dict) -> None:
    """Control messages whose Ns leave a gap after the last in-order one (RFC 2661 §5.8), on one
    established tunnel: Hellos padded to ~8 KiB with non-mandatory vendor AVPs (§4.1: ignored),
    Ns inside the receive window (the out-of-order buffer's bytes bound) and beyond it."""
    from ..proto import L2TP
    lac = _flood_tunnel(lab)
    base, nr, tid = lac.l2tp.ns, lac.l2tp.nr, lac.tunnel
    pkts = []
    for k in range(1, 2000):
        m = L2TP.hello(tunnel_id=tid, ns=(base + 1 + (k % 15 if k % 2 else k)) & 0xFFFF, nr=nr)
        for _ in range(8):
            m.add_avp(1, b"\0" * 1000, mandatory=False, vendor_id=65000)
        pkts.append(bytes(m))
    try:
        _blast(lac.sock, pkts, (LNS, 1701), stop, out)
    finally:
        lac.close()


def _trigger_flood(lab: L.Lab, stop: threading.Event, out: dict) -> None:
    """UDP datagrams from `home` to ever new destinations of the dial-out prefix 10.10.0.0/16
    (10.10.2.0 - 10.10.255.255: the legitimate site 10.10.1.1 is left alone)."""
    s = netns.socket_in(lab.ns("home"))
    dests = [(f"10.10.{a}.{b}", 9) for a in range(2, 256) for b in range(1, 255)]
    sent = errors = 0
    t0 = time.monotonic()
    while not stop.is_set():
        for dst in dests:
            if stop.is_set():
                break
            try:
                s.sendto(b"trigger flood", dst)
                sent += 1
            except OSError:
                errors += 1
        out.update(sent=sent, errors=errors, seconds=time.monotonic() - t0)
    s.close()


FLOOD_FN = {"sccrq": _sccrq_flood, "icrq": _icrq_flood, "out-of-order": _ooo_flood, "trigger": _trigger_flood}


def _legit_incoming(lab: L.Lab) -> dict:
    """A scripted LAC (lac-emu's address, another port) opens a tunnel and places an incoming call."""
    from ..scripted_lac import ScriptedLac
    t0 = time.monotonic()
    lac = ScriptedLac(lab, LAC, LNS, host="lac", host_name="legit-lac")
    try:
        for attempt in range(3):   # the SCCRP may be lost in a flooded socket buffer: retry as a LAC would
            try:
                lac.open(tid=100 + attempt, within=10)
                break
            except Exception:  # noqa: BLE001 - ExpectTimeout
                lac.close()
                lac = ScriptedLac(lab, LAC, LNS, host="lac", host_name="legit-lac")
        else:
            return {"ok": False, "why": "no SCCRP in 3 x 10 s"}
        sid = lac.call(sid=1, within=10)
        return {"ok": bool(sid), "seconds": round(time.monotonic() - t0, 2), "lnsd_session": sid}
    except Exception as e:  # noqa: BLE001 - the report says why
        return {"ok": False, "why": str(e)[:300]}
    finally:
        try:
            lac.hang_up()
        except Exception:  # noqa: BLE001
            pass
        lac.close()


def _dialout_in_service(d, within: float) -> dict:
    t0 = time.monotonic()
    try:
        wait_for(lambda: any(s["session"] == KEY and s.get("state") == "inService"
                             for s in _ctl(d, "show l2tp dial-out session")), within,
                 f"dial-out {KEY} inService", interval=0.25)
        return {"ok": True, "seconds": round(time.monotonic() - t0, 2)}
    except WaitTimeout:
        s = [x for x in _ctl(d, "show l2tp dial-out session") if x["session"] == KEY]
        return {"ok": False, "why": f"not inService in {within} s: {s}"}


def _fresh_dialout(lab: L.Lab, d, within: float) -> dict:
    """Delete the legitimate site's dial-out session (reset until gone), then trigger it as a host
    with traffic would: a ping to 10.10.1.1 each round until the session is inService (a trigger
    that arrives while the target is inhibited is discarded, JunosE "L2TP Dial-Out" Table 73)."""
    def session():
        return next((s for s in _ctl(d, "show l2tp dial-out session") if s["session"] == KEY), None)
    try:
        wait_for(lambda: (_ctl(d, "l2tp dial-out session reset", {"id": KEY}) and False) if session() else True,
                 20, f"dial-out {KEY} deleted", interval=0.5)
    except WaitTimeout:
        return {"ok": False, "why": "the previous session was not deleted in 20 s"}
    t0 = time.monotonic()

    def in_service():
        s = session()
        if s and s.get("state") == "inService":
            return True
        if not s or s.get("state") in ("dormant", "postInhibited"):
            lab.exec("home", ["ping", "-n", "-q", "-c", "1", "-W", "1", "10.10.1.1"], check=False)
        return None
    try:
        wait_for(in_service, within, f"dial-out {KEY} inService", interval=0.5)
        return {"ok": True, "seconds": round(time.monotonic() - t0, 2)}
    except WaitTimeout:
        return {"ok": False, "why": f"not inService in {within} s: {session()}"}


def run_flood(duration: float = 60.0, floods: tuple[str, ...] = FLOODS, rss_bound_mib: float = 128.0,
              say=print) -> dict:
    """Campaign 2 (module docstring): one lab, each flood in turn for `duration` seconds."""
    bdir = _bdir()

    def configure(c: dict) -> None:
        c["lnsd"]["dialout"]["timers"]["dormant"] = "2s"
        for role in ("isdn2", "lac2", "cpe2"):
            c[role] = None
    r: dict = {"campaign": "flood", "duration_s": duration, "rss_bound_mib": rss_bound_mib,
               "load_average_start": [round(x, 2) for x in os.getloadavg()], "floods": {}}
    with L.Lab(default_topology(), capture=False) as lab:
        r["run_dir"] = str(lab.run_dir)
        d = start_daemons(lab, bdir, configure)
        lnsd = _lnsd(lab)
        lab.exec("home", ["ping", "-n", "-q", "-c", "1", "-W", "2", "10.10.1.1"], check=False)
        first = _dialout_in_service(d, 30)
        if not first["ok"]:
            raise L.LabError(f"the legitimate dial-out failed before any flood: {first}")
        for kind in floods:
            say(f"flood {kind} for {duration:g} s …")
            before, rss0 = counters(d), rss_kib(lnsd.pid)
            stop, out, peak = threading.Event(), {}, {"VmRSS": rss0.get("VmRSS", 0)}
            err: list[str] = []

            def flood(kind=kind, stop=stop, out=out, err=err):
                try:
                    FLOOD_FN[kind](lab, stop, out)
                except Exception as e:  # noqa: BLE001 - reported
                    err.append(f"{type(e).__name__}: {e}")
            th = threading.Thread(target=flood, daemon=True)
            t0 = time.monotonic()
            th.start()
            legit: dict = {}
            if kind == "trigger":
                # A trigger flood inhibits the target (JunosE "L2TP Dial-Out" Table 73) so no new
                # dial-out starts meanwhile; the one in service must carry traffic all along.
                legit["dialout_kept"] = {"ok": lab.ping("home", "10.10.1.1", count=3, wait=1.0)}
            else:
                legit["dialout"] = _fresh_dialout(lab, d, 45)
            legit["incoming_call"] = _legit_incoming(lab)
            while time.monotonic() - t0 < duration and lnsd.alive():
                peak["VmRSS"] = max(peak["VmRSS"], rss_kib(lnsd.pid).get("VmRSS", 0))
                time.sleep(0.2)   # sampling period of the RSS, not a wait for an event
            stop.set()
            th.join(30)
            alive = lnsd.alive()
            f: dict = {"sender": {k: (round(v, 1) if isinstance(v, float) else v) for k, v in out.items()},
                       "sender_error": err, "lnsd_alive": alive}
            if out.get("seconds"):
                f["rate_per_s"] = round(out.get("sent", 0) / out["seconds"])
            if alive:
                if kind == "trigger":
                    legit["dialout_after"] = _fresh_dialout(lab, d, 45)
                f["rss_kib"] = {"before": rss0.get("VmRSS"), "peak": peak["VmRSS"], "hwm": rss_kib(lnsd.pid).get("VmHWM")}
                f["counters_moved"] = moved(before, counters(d))
            f["legitimate"] = legit
            f["ok"] = (alive and not err and all(x.get("ok") for x in legit.values())
                       and f["rss_kib"]["hwm"] < rss_bound_mib * 1024)
            r["floods"][kind] = f
            say(f"  {kind}: {out.get('sent')} datagrams ({f.get('rate_per_s')}/s); legitimate: "
                + ", ".join(f"{k} {'ok' if v.get('ok') else 'FAILED ' + str(v.get('why'))}" for k, v in legit.items())
                + f"; VmRSS peak {peak['VmRSS']} KiB")
            if not alive:
                break
        r["ok"] = all(f["ok"] for f in r["floods"].values()) and len(r["floods"]) == len(floods)
        return _write(lab, "flood", r)


def format_flood(r: dict) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [("duration per flood", f"{r['duration_s']} s"),
                                      ("lnsd VmHWM bound", f"{r['rss_bound_mib']} MiB")]
    for kind, f in r["floods"].items():
        rows.append((f"{kind}: sent", f"{f['sender'].get('sent')} datagrams, {f.get('rate_per_s')}/s"
                     + (f", sender error {f['sender_error']}" if f["sender_error"] else "")))
        rows.append((f"{kind}: legitimate", ", ".join(f"{k} {'ok' if v.get('ok') else 'FAILED'}"
                                                      + (f" in {v['seconds']} s" if v.get("seconds") else "")
                                                      for k, v in f["legitimate"].items())))
        if "rss_kib" in f:
            rows.append((f"{kind}: lnsd VmRSS before / peak / VmHWM (KiB)",
                         f"{f['rss_kib']['before']} / {f['rss_kib']['peak']} / {f['rss_kib']['hwm']}"))
            top = list(f["counters_moved"].items())[:8]
            rows.append((f"{kind}: counters moved", ", ".join(f"{k.split('.', 1)[1] if k.startswith('l2tp.') else k} {v:+,.0f}"
                                                               for k, v in top)))
        else:
            rows.append((f"{kind}: lnsd", "EXITED"))
    return rows


# ----- 3. kill -9 lnsd in the middle of M dial-outs -----

def run_kill(m: int, rate: float = 0.0, peer_hello: str = "10s", peer_retransmit: str | None = None,
             peer_tunnel_hold: str | None = None, new_dialouts: int = 10, deadline: float | None = None,
             say=print) -> dict:
    """Campaign 3 (module docstring). lac-emu's Hello interval is `peer_hello` and its first
    retransmission timeout `peer_retransmit` (default its own, 1 s, doubled per retry up to 8 s):
    the LAC's limits that find the dead LNS (RFC 2661 §5.5, §5.8)."""
    bdir = _bdir()
    sites = B.plan_sites(m)
    deadline = deadline if deadline is not None else 120.0 + m / 10.0
    base = B.configure_daemons(sites, 1, None)

    def configure(c: dict) -> None:
        base(c)
        c["lac"].setdefault("timers", {})["hello"] = peer_hello
        if peer_retransmit:
            c["lac"]["timers"]["retransmit"] = peer_retransmit
        if peer_tunnel_hold:   # RFC 2661 §5.7 hold of lac-emu's closed tunnels (default 31 s)
            c["lac"]["timers"]["tunnel-hold"] = peer_tunnel_hold
        c["lnsd"]["dialout"]["timers"]["dormant"] = "2s"
    r: dict = {"campaign": "kill", "dial_outs": m, "peer_hello": peer_hello, "peer_retransmit": peer_retransmit or "1s",
               "peer_tunnel_hold": peer_tunnel_hold or "31s",
               "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    with L.Lab(_sites_topology(sites), capture=False) as lab:
        r["run_dir"] = str(lab.run_dir)
        d = start_daemons(lab, bdir, configure)
        lnsd = _lnsd(lab)
        lab.exec("lns", ["ip", "link", "set", "dlo0", "txqueuelen", str(max(1000, 2 * m))])
        lab.exec("home", ["ping", "-n", "-q", "-c", "1", "-W", "2", "203.0.113.1"], check=False)
        r["kernel_before"] = kernel_state(lab)
        tail = B.EventTail(d.events)
        say(f"lab {lab.runid}: triggering {m} dial-outs, kill -9 lnsd at {m // 2} inService …")
        r["sender"] = _trigger(lab, sites, rate)

        def half():
            tail.poll()
            return sum(1 for s in sites if tail.final.get(s.key, ("",))[0] == "inService") >= max(1, m // 2) or None
        try:
            wait_for(half, deadline, f"{m // 2} dial-outs inService", interval=0.2)
        except WaitTimeout:
            pass
        tail.poll()
        r["at_kill"] = {"in_service": sum(1 for s in sites if tail.final.get(s.key, ("",))[0] == "inService"),
                        "triggered": len(tail.trigger_ns),
                        "lac_emu": control_state(lab, "lac"), "cpe_network_up": control_state(lab, "cpe").get("network_up")}
        os.kill(lnsd.pid, signal.SIGKILL)
        t_kill = time.monotonic()
        wait_for(lambda: not lnsd.alive(), 10, "lnsd gone after SIGKILL", interval=0.05)
        r["kernel_after_kill"] = kernel_state(lab)
        say(f"killed lnsd with {r['at_kill']['in_service']} inService, lac-emu holding "
            f"{r['at_kill']['lac_emu'].get('l2tp')}; restarting it …")
        # What an lnsd with another configuration would have left too: a rule it owned (proto 209,
        # docs/lnsd.md "Policy rules") that this configuration does not have, which the restart must
        # remove, and an operator's rule (no protocol) that it must leave alone.
        lab.exec("lns", ["ip", "rule", "add", "iif", "leased-old", "lookup", "101", "priority", "1000",
                         "protocol", "209"])
        lab.exec("lns", ["ip", "rule", "add", "iif", "operator-x", "lookup", "102", "priority", "1001"])
        r["rules_planted"] = {"stale_owned": "1000 iif leased-old table 101 proto 209",
                              "foreign": "1001 iif operator-x table 102 proto unspec"}
        run = lab.run_dir
        t_start = time.monotonic()
        lab.start("lnsd", "lns", lnsd_argv(bdir, "--config", str(run / "lnsd.yaml"), "--control", d.sock,
                                           "--events", str(d.events)), ready="lnsd ready")
        r["restart_s"] = round(time.monotonic() - t_start, 2)
        r["kernel_after_restart"] = kernel_state(lab)
        # The peers' clean-up: lac-emu's tunnels and sessions to the old lnsd, cpe-emu's PPP links.
        cleanup: dict = {}

        def peers_clean():
            st, cpe = control_state(lab, "lac"), control_state(lab, "cpe")
            now = round(time.monotonic() - t_kill, 2)
            if st.get("l2tp", {}).get("sessions") == 0:
                cleanup.setdefault("lac_sessions_gone_s", now)
            if st.get("l2tp", {}).get("tunnels") == 0:   # counted until their §5.7 hold (31 s) ends
                cleanup.setdefault("lac_tunnels_gone_s", now)
            if cpe.get("network_up") == 0:
                cleanup.setdefault("cpe_links_down_s", now)
            return len(cleanup) == 3 or None
        try:
            wait_for(peers_clean, deadline, "lac-emu and cpe-emu clean after the kill", interval=0.5)
        except WaitTimeout:
            cleanup["timeout"] = True
        cleanup["lac_emu"] = control_state(lab, "lac").get("l2tp")
        cleanup["cpe_network_up"] = control_state(lab, "cpe").get("network_up")
        r["peer_cleanup"] = cleanup
        # New dial-outs through the restarted lnsd (the first sites again, and a trigger each).
        new = sites[:new_dialouts]
        tail2 = B.EventTail(d.events)
        tail2.offset = d.events.stat().st_size if d.events.exists() else 0
        _trigger(lab, new, 0.0)
        _wait_final(new, tail2, _lnsd(lab), 60.0 + new_dialouts)
        tail2.poll()
        r["new_dialouts"] = {"count": len(new), "in_service": sum(1 for s in new if tail2.final.get(s.key, ("",))[0] == "inService"),
                             "final_states": _final_states(new, tail2)}
        r["lnsd_alive"] = _lnsd(lab).alive()
        old = set(r["kernel_after_kill"]["routes"])
        r["old_routes_after_kill"] = sorted(old)
        rules = r["kernel_after_restart"]["rules"]
        r["ok"] = (not old and r["lnsd_alive"] and r["new_dialouts"]["in_service"] == len(new)
                   and "timeout" not in cleanup and len(rules) == len(set(rules))
                   and sorted(rules) == sorted([*r["kernel_before"]["rules"], r["rules_planted"]["foreign"]]))
        return _write(lab, "kill", r)


def control_state(lab: L.Lab, role: str) -> dict:
    """`show state` of an emulated peer (its control socket in the run folder); {} when it fails."""
    try:
        return request(lab.run_dir / f"{role}.ctl", "show state", None, timeout=5.0)
    except Exception:  # noqa: BLE001 - a figure
        return {}


def format_kill(r: dict) -> list[tuple[str, object]]:
    c = r.get("peer_cleanup", {})
    return [("dial-outs triggered", r["dial_outs"]),
            ("at the kill: inService / triggered", f"{r['at_kill']['in_service']} / {r['at_kill']['triggered']}"),
            ("at the kill: lac-emu tunnels, sessions; cpe-emu PPP links up",
             f"{r['at_kill']['lac_emu'].get('l2tp')}; {r['at_kill']['cpe_network_up']}"),
            ("routes via dlo* after the kill", r["old_routes_after_kill"] or "none"),
            ("ip rules before / after the kill / after the restart",
             f"{r['kernel_before']['rules']} / {r['kernel_after_kill']['rules']} / {r['kernel_after_restart']['rules']}"),
            ("ip rules planted before the restart (stale owned / foreign)",
             f"{r['rules_planted']['stale_owned']} / {r['rules_planted']['foreign']}"),
            ("lnsd restart to ready", f"{r['restart_s']} s"),
            (f"lac-emu sessions gone after the kill (Hello {r['peer_hello']}, retransmit {r['peer_retransmit']})",
             f"{c.get('lac_sessions_gone_s')} s"),
            (f"lac-emu tunnels gone (after their RFC 2661 §5.7 hold, {r['peer_tunnel_hold']})", f"{c.get('lac_tunnels_gone_s')} s"),
            ("cpe-emu PPP links down after the kill", f"{c.get('cpe_links_down_s')} s"),
            ("new dial-outs through the restarted lnsd", f"{r['new_dialouts']['in_service']} / {r['new_dialouts']['count']} inService"
             + ("" if r["new_dialouts"]["in_service"] == r["new_dialouts"]["count"] else f" ({r['new_dialouts']['final_states']})"))]


# ----- 4. malformed input from the wire -----

def malformed_inputs(captures: Path = CAPTURES) -> list[tuple[str, bytes]]:
    """(origin, datagram) for every UDP payload of every capture in `captures` (dlab.proto.read_pcap)
    and every fuzz corpus file of the repository (`*/fuzz/corpus/*/*`, cut to 65 507 octets, the
    largest UDP payload over IPv4)."""
    from ..proto import read_pcap
    out: list[tuple[str, bytes]] = []
    for cap in sorted(captures.glob("*.pcap*")) if captures.is_dir() else []:
        try:
            frames = read_pcap(cap)
        except ValueError:
            continue
        for i, f in enumerate(frames):
            p = f.get("payload")
            if p:
                out.append((f"{cap.name}#{i}", bytes(p)))
    for f in sorted(f for top in ("proto", "lns", "peers", "scenarios") for f in (REPO / top).glob("**/fuzz/corpus/*/*")):
        if f.is_file():
            out.append((str(f.relative_to(REPO)), f.read_bytes()[:65507]))
    return out


def _udp_in(lab: L.Lab) -> int:
    lines = [ln.split() for ln in lab.exec("lns", ["cat", "/proc/net/snmp"]).stdout.splitlines() if ln.startswith("Udp:")]
    return int(dict(zip(lines[0][1:], lines[1][1:]))["InDatagrams"])


def run_malformed(rate: float = 2000.0, captures: Path = CAPTURES, say=print) -> dict:
    """Campaign 4 (module docstring)."""
    bdir = _bdir()
    inputs = malformed_inputs(captures)

    def configure(c: dict) -> None:
        for role in ("isdn2", "lac2", "cpe2"):
            c[role] = None
    r: dict = {"campaign": "malformed", "inputs": len(inputs),
               "from_captures": sum(1 for o, _ in inputs if "#" in o), "from_corpora": sum(1 for o, _ in inputs if "#" not in o),
               "captures_dir": str(captures), "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    with L.Lab(default_topology(), capture=False) as lab:
        r["run_dir"] = str(lab.run_dir)
        d = start_daemons(lab, bdir, configure)
        lnsd = _lnsd(lab)
        before, udp0 = counters(d), _udp_in(lab)
        say(f"lab {lab.runid}: sending {len(inputs)} datagrams ({r['from_captures']} from captures, "
            f"{r['from_corpora']} fuzz corpus files) to lnsd at {rate:g}/s …")
        s = netns.socket_in(lab.ns("lac"))
        s.bind((LAC, 0))
        t0 = time.monotonic()
        errors = []
        for i, (origin, data) in enumerate(inputs):
            wait = t0 + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)   # pacing, so the socket buffer never drops one
            try:
                s.sendto(data, (LNS, 1701))
            except OSError as e:
                errors.append(f"{origin}: {e}")
        s.close()
        r["send_s"] = round(time.monotonic() - t0, 2)
        r["send_errors"] = errors
        sent = len(inputs) - len(errors)
        # "All counted": lnsd's received-datagram counter follows the kernel's delivery count.
        udp_key = "l2tp.system.counters.datagrams-in"

        def caught_up():
            if not lnsd.alive():
                return "exited"
            c = counters(d)
            return c if c.get(udp_key, 0) - before.get(udp_key, 0) >= sent else None
        try:
            wait_for(caught_up, 30, "lnsd to count every datagram", interval=0.5)
        except WaitTimeout:
            pass
        r["lnsd_alive"] = lnsd.alive()
        r["kernel_udp_delivered"] = _udp_in(lab) - udp0
        if r["lnsd_alive"]:
            t1 = time.monotonic()
            _ctl(d, "show l2tp")
            r["control_answer_ms"] = round(1000 * (time.monotonic() - t1), 1)
            after = counters(d)
            r["counters_moved"] = moved(before, after)
            r["lnsd_received"] = after.get(udp_key, 0) - before.get(udp_key, 0)
            r["legitimate"] = {"dialout": _fresh_dialout(lab, d, 45), "incoming_call": _legit_incoming(lab)}
            r["lnsd_alive_after"] = lnsd.alive()
            r["lnsd_rss_kib"] = rss_kib(lnsd.pid)
        r["ok"] = bool(r["lnsd_alive"] and r.get("lnsd_alive_after") and not errors
                       and r.get("lnsd_received", 0) >= sent
                       and all(x.get("ok") for x in r.get("legitimate", {}).values()))
        return _write(lab, "malformed", r)


def format_malformed(r: dict) -> list[tuple[str, object]]:
    top = list(r.get("counters_moved", {}).items())[:10]
    return [("datagrams sent", f"{r['inputs']} ({r['from_captures']} capture payloads, {r['from_corpora']} corpus files) "
                               f"in {r.get('send_s')} s, {len(r.get('send_errors', []))} send errors"),
            ("lnsd received (counter) / kernel delivered in lns", f"{r.get('lnsd_received')} / {r.get('kernel_udp_delivered')}"),
            ("lnsd alive, control answer", f"{r['lnsd_alive']}, {r.get('control_answer_ms')} ms"),
            ("counters moved", ", ".join(f"{k.split('.', 1)[1] if k.startswith('l2tp.') else k} {v:+,.0f}" for k, v in top)),
            ("legitimate after", ", ".join(f"{k} {'ok' if v.get('ok') else 'FAILED ' + str(v.get('why'))}"
                                           for k, v in r.get("legitimate", {}).items())),
            ("lnsd VmRSS (KiB)", r.get("lnsd_rss_kib", {}).get("VmRSS"))]


# ----- command line -----

def run(a) -> int:
    """`./lab bench campaign KIND`: 0 when the campaign's invariants held, else 1."""
    say = (lambda *x: None) if a.json else print
    kind = a.campaign
    if kind == "faults":
        r = run_faults(a.dialouts, loss=a.loss, duplicate=a.duplicate, reorder=a.reorder, rate=a.rate or 100.0,
                       seed=a.seed, deadline=a.deadline, trigger_timer=a.trigger_timer,
                       tunnels=a.tunnels, say=say)
        rows = format_faults(r)
    elif kind == "flood":
        r = run_flood(a.duration, tuple(a.floods.split(",")) if a.floods else FLOODS, a.rss_bound, say=say)
        rows = format_flood(r)
    elif kind == "kill":
        r = run_kill(a.dialouts, rate=a.rate or 0.0, peer_hello=a.peer_hello,
                     peer_retransmit=a.peer_retransmit, peer_tunnel_hold=a.peer_tunnel_hold, deadline=a.deadline, say=say)
        rows = format_kill(r)
    else:
        r = run_malformed(rate=a.rate or 2000.0, say=say)
        rows = format_malformed(r)
    rows = [*rows, ("load average start -> end", f"{r['load_average_start']} -> {r['load_average_end']}"),
            ("result", "invariants held" if r["ok"] else "INVARIANT BROKEN (see the JSON)"),
            ("JSON report", f"{r['run_dir']}/campaign-{kind}.json")]
    if a.json:
        print(json.dumps(r, indent=1))
    else:
        w = max(len(k) for k, _ in rows)
        print("\n".join(f"  {k:<{w}}  {v}" for k, v in rows))
    return 0 if r["ok"] else 1
