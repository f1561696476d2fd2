"""`./lab bench dialout`: the dial-out load benchmark (docs/performance.md).

Brings up the default lab (scenarios/topologies/default.yaml, no packet captures) with N remote
sites, triggers every site from `home` and measures, from lnsd's own JSON-lines event log
(`time_ns`, the steady clock), each dial-out session's trigger → inService latency, the calls per
second to inService, and lnsd's CPU time (/proc/<pid>/stat) and memory (VmRSS / VmHWM).

Per site i (0-based), all generated (nothing is shared between sites but the LACs' tunnels):
- destination 10.10.(1 + i // 200).(1 + i % 200) inside the dial-out prefix 10.10.0.0/16 for the
  first 40 000 sites; past them (j = i - 40 000) 10.11.(1 + j // 250).(1 + j % 250) inside a second
  target 10.11.0.0/16, which lnsd is then given (up to 100 000 sites);
- a home RADIUS (192.0.2.10) user "0.0.0.0:65000/<destination>@L2TP-dial-out.de.dt" whose
  Access-Accept carries the JunosE "L2TP Dial-Out" Table 75 attributes with the site's own ERX-Dial-Out-Number
  (55 + 5 digits), a LAC (Tunnel-Server-Endpoint) and a tunnel (Tunnel-Assignment-Id);
- an LNS RADIUS (192.0.2.11) user "site<i>" (the CPE's CHAP name) with Framed-IP-Address
  198.18.(1 + i // 200).(1 + i % 200) (past 40 000: 198.19.(1 + j // 250).(1 + j % 250)) and
  Framed-Route "<destination>/32 <that address> 1";
- a cpe-emu site (one cpe-emu serves them all) answering the number, authenticating the LNS with
  CHAP (mutual authentication, ERX-PPP-Username/Password) and authenticating itself as site<i>.
The ISDN exchange (isdn-emu) delivers each number to the cpe-emu that registered it. `--lacs K`
lac-emu processes on 198.51.100.2, .20, .21, … (one exchange), `--tunnels T` assignment ids per
LAC, so lnsd spreads the calls over K × T L2TP tunnels; every LAC has ≥ N channels.

Triggers: one UDP datagram per destination from a small sender in `home` (a socket loop, not N
pings), all at once or paced at `--rate` per second. lnsd's `max-connecting-sessions` is N, so no
session waits in pending. Bounded: every wait has a deadline (`--deadline`), and the lab is torn
down whatever happens (with-block).
"""
from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import lab as L
from ..dialout_lab import NotBuilt, build_dir, default_topology, start_daemons
from ..lnsd_profile import LnsdProfile
from ..wait import WaitTimeout, wait_for

DOMAIN = "L2TP-dial-out.de.dt"
RD = "0.0.0.0:65000"
LAC_SECRET = "lac-secret"
MAX_SITES = 100_000         # 10.10.1-200.1-200, then 10.11.1-240.1-250 (the number has 5 digits)
FIRST_BLOCK = 40_000        # sites in 10.10.0.0/16, 200 destinations per third octet
SITES_PER_OCTET = 200
SECOND_TARGET = "10.11.0.0/16"   # sites past FIRST_BLOCK, 250 per third octet
SECOND_PER_OCTET = 250
# The dial-out session's events between trigger and inService: RADIUS Access-Accept (aaa-grant),
# OCRQ/OCRP/OCCN done (call-connected); inService follows PPP (LCP, CHAP both ways, LNS RADIUS, IPCP).
STAGES = ("aaa-grant", "call-connected")
FINAL_STATES = ("inService", "inhibited", "failed", "dormant", "postInhibited")


@dataclass(frozen=True)
class Site:
    """One remote site of the benchmark (see the module docstring for the addressing)."""
    index: int
    destination: str      # IPv4 inside 10.10.0.0/16, the trigger's destination
    number: str           # ERX-Dial-Out-Number (ISDN number the CPE answers)
    name: str             # the CPE's PPP name (LNS RADIUS user)
    secret: str
    framed_ip: str        # Framed-IP-Address of the CPE (IPCP)
    lac: str              # Tunnel-Server-Endpoint
    assignment_id: str    # Tunnel-Assignment-Id: one L2TP tunnel per (LAC, id)

    @property
    def key(self) -> str:
        """lnsd's dial-out session key (VR/prefix/destination)."""
        prefix = "10.10.0.0/16" if self.index < FIRST_BLOCK else SECOND_TARGET
        return f"default/{prefix}/{self.destination}"


def lac_addresses(k: int) -> list[str]:
    """The LACs' addresses on the `core` link: 198.51.100.2 (the default lac), then .20, .21, …"""
    return ["198.51.100.2"] + [f"198.51.100.{20 + j}" for j in range(k - 1)]


def plan_sites(n: int, lacs: int = 1, tunnels: int = 1) -> list[Site]:
    """N sites, spread round-robin over `lacs` LACs × `tunnels` tunnels each.

    Raises ValueError if n is not 1..MAX_SITES or lacs / tunnels < 1."""
    if not 1 <= n <= MAX_SITES:
        raise ValueError(f"--sites {n}: must be 1..{MAX_SITES}")
    if lacs < 1 or tunnels < 1:
        raise ValueError("--lacs and --tunnels must be at least 1")
    addrs = lac_addresses(lacs)
    out = []
    for i in range(n):
        if i < FIRST_BLOCK:
            a, b = 1 + i // SITES_PER_OCTET, 1 + i % SITES_PER_OCTET
            dest, framed = f"10.10.{a}.{b}", f"198.18.{a}.{b}"
        else:
            j = i - FIRST_BLOCK
            a, b = 1 + j // SECOND_PER_OCTET, 1 + j % SECOND_PER_OCTET
            dest, framed = f"10.11.{a}.{b}", f"198.19.{a}.{b}"
        k = i % (lacs * tunnels)
        out.append(Site(i, dest, f"55{i:05d}", f"site{i}", f"pass{i}", framed, addrs[k % lacs], f"t{k // lacs}"))
    return out


def _home_user(s: Site) -> dict:
    return {"name": f"{RD}/{s.destination}@{DOMAIN}",
            "check": ["Service-Type == Outbound-User", "Auth-Type := Accept"],
            "reply": ["Service-Type = Outbound-User", "Tunnel-Type:1 = L2TP", "Tunnel-Medium-Type:1 = IPv4",
                      f"Tunnel-Server-Endpoint:1 = \"{s.lac}\"", f"Tunnel-Password:1 = \"{LAC_SECRET}\"",
                      "Tunnel-Preference:1 = 1", f"Tunnel-Assignment-Id:1 = \"{s.assignment_id}\"",
                      "Tunnel-Client-Auth-Id:1 = \"lns\"", f"ERX-Dial-Out-Number = \"{s.number}\"",
                      "ERX-PPP-Username = \"lns-home\"", "ERX-PPP-Password = \"lns-home-pass\"",
                      "ERX-PPP-Auth-Protocol = CHAP", "ERX-Minimum-BPS = 56000", "ERX-Maximum-BPS = 64000",
                      "ERX-Bearer-Type = Digital"]}


def _lns_user(s: Site) -> dict:
    return {"name": s.name, "check": [f"Cleartext-Password := \"{s.secret}\""],
            "reply": ["Service-Type = Framed-User", "Framed-Protocol = PPP",
                      f"Framed-IP-Address = {s.framed_ip}", f"Framed-Route = \"{s.destination}/32 {s.framed_ip} 1\""]}


def topology_for(sites: list[Site], lacs: int):
    """The default topology with the sites' RADIUS users (home and LNS servers replaced) and the
    extra LAC addresses on `core`."""
    def configure(raw: dict) -> None:
        raw["radius"]["home"]["users"] = [_home_user(s) for s in sites]
        raw["radius"]["lns"]["users"] = [_lns_user(s) for s in sites]
        for link in raw["links"]:
            if link["name"] == "core":
                link["ends"]["lac"] = [f"{a}/24" for a in lac_addresses(lacs)]
    return default_topology(configure)


def configure_daemons(sites: list[Site], lacs: int, window: int | None, zlb_ack: str | None = None,
                      cpe_restart: str | None = None, events_flush: str = "loop"):
    """configure(configs) for dialout_lab.start_daemons: one exchange, the first LAC, one cpe-emu
    with every site, lnsd with room for N connecting sessions; vr-b's peers are not started."""
    n = len(sites)

    def configure(c: dict) -> None:
        c["isdn"]["numbers"] = {}      # every number is registered by cpe-emu and delivered to it
        c["lac"]["channels"] = min(65535, n + 10)
        c["cpe"]["sites"] = [{"number": s.number, "name": s.name, "secret": s.secret, "require_auth": "chap",
                              "users": {"lns-home": "lns-home-pass"}} for s in sites]
        c["isdn2"] = c["lac2"] = c["cpe2"] = None
        d = c["lnsd"]["dialout"]
        if n > FIRST_BLOCK:   # the sites past the first 40 000 are in a second target
            d["targets"] = [*d["targets"], {"virtual-router": "default", "prefix": SECOND_TARGET, "domain": DOMAIN,
                                            "profile": "isdn", "route-distinguisher": RD}]
        d["max-connecting-sessions"] = n + 10
        # The burst is the measurement: lift the dial-out limits (docs/reliability.md) above N.
        d["max-sessions-per-target"] = d["max-sessions-per-virtual-router"] = n + 10
        d["trigger-rate"] = d["trigger-burst"] = n + 10
        if window:
            c["lac"]["receive_window"] = window
            c["lnsd"]["receive-window"] = window
        if zlb_ack:   # RFC 2661 §5.8 ZLB timer of lnsd's and the LACs' L2TP engines (default 0s: end of pass)
            c["lac"].setdefault("timers", {})["zlb-ack"] = zlb_ack
            c["lnsd"].setdefault("timers", {})["zlb-ack"] = zlb_ack
        if cpe_restart:  # the CPE's PPP restart timer (RFC 1661 §4.6, default 3 s)
            c["cpe"].setdefault("timers", {})["ppp-restart"] = cpe_restart
        # Event logs written once per pass of each daemon's loop (the suites keep the default, per
        # event: an event is then in the file before any packet it caused; docs/performance.md).
        for role in ("lnsd", "isdn", "lac", "cpe"):
            c[role]["events-flush"] = events_flush
    return configure


def _start_extra_lacs(lab: L.Lab, bdir: Path, lacs: int, n: int) -> None:
    run = lab.run_dir
    base = yaml.safe_load((run / "lac.yaml").read_text())
    for j, addr in enumerate(lac_addresses(lacs)[1:], start=2):
        cfg = dict(base, listen=addr, host_name=f"lac{j}", number=f"17{j:02d}", channels=min(65535, n + 10),
                   control=str(run / f"lac{j}.ctl"), events=str(run / f"lac{j}-events.jsonl"))
        (run / f"lac{j}.yaml").write_text(yaml.safe_dump(cfg))
        lab.start(f"lac-emu-{j}", "lac", [str(bdir / "peers/lac/lac-emu"), "--config", str(run / f"lac{j}.yaml")],
                  ready="lac-emu ready")


# The trigger sender, run by /usr/bin/python3 inside `home`: one UDP datagram per destination
# (port 9, discard), all at once or paced; prints the monotonic send times of the first and last.
# Paced, it sleeps until each datagram is due (a busy wait here took a quarter of the machine from
# the lab it measures); every datagram already due goes out at once, so the average rate holds
# even when a sleep overshoots.
SENDER = r"""
import json, socket, sys, time
dests = sys.stdin.read().split()
rate = float(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
t0 = time.monotonic_ns()
errors = 0
for i, d in enumerate(dests):
    if rate > 0:
        wait = t0 + int(i * 1e9 / rate) - time.monotonic_ns()
        if wait > 0:
            time.sleep(wait / 1e9)
    try:
        s.sendto(b"dial-out bench trigger", (d, 9))
    except OSError:
        errors += 1
print(json.dumps({"first_ns": t0, "last_ns": time.monotonic_ns(), "sent": len(dests), "errors": errors}))
"""


class EventTail:
    """Reads lnsd's JSON-lines event log incrementally; keeps each dial-out session's trigger time
    (first event, `from` "") and its first final state (inService, inhibited, failed, …)."""

    def __init__(self, path: Path):
        self.path, self.offset = path, 0
        self.trigger_ns: dict[str, int] = {}
        self.final: dict[str, tuple[str, int, str]] = {}   # key -> (state, time_ns, cause)
        self.stage_ns: dict[str, dict[str, int]] = {}      # key -> {"aaa-grant": t, "call-connected": t}
        self.lines = 0
        self.radius_timeouts = 0   # radius.request timer-expiry: a retransmission (RFC 5080 §2.2.1)

    def poll(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for ln in data[:end].splitlines():
            self.lines += 1
            if b'"radius.request"' in ln and b'"timer-expiry"' in ln:
                self.radius_timeouts += 1
            if b'"dialout.session"' not in ln:
                continue
            e = json.loads(ln)
            key, to = e.get("id", ""), e.get("to", "")
            if e.get("from") == "" and key not in self.trigger_ns:
                self.trigger_ns[key] = int(e["time_ns"])
            if e.get("event") in STAGES:
                self.stage_ns.setdefault(key, {}).setdefault(e["event"], int(e["time_ns"]))
            if to in FINAL_STATES and key not in self.final and key in self.trigger_ns:
                self.final[key] = (to, int(e["time_ns"]), e.get("cause", ""))


def proc_stats(pid: int) -> dict:
    """CPU time (user, system, seconds) and memory (VmRSS, VmHWM, KiB) of a process, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    out = {"utime_s": int(fields[11]) / tick, "stime_s": int(fields[12]) / tick}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def _tun_stats(lab: L.Lab) -> dict:
    """dlo0's kernel counters in `lns` (tx = towards lnsd: packets, dropped)."""
    cp = lab.exec("lns", ["ip", "-j", "-s", "link", "show", "dlo0"], check=False)
    try:
        st = json.loads(cp.stdout)[0]["stats64"]
        return {"tx_packets": st["tx"]["packets"], "tx_dropped": st["tx"]["dropped"]}
    except (ValueError, LookupError):
        return {}


UDP_HOSTS = ("lns", "radius", "lac", "cpe")


def _udp_stats(lab: L.Lab) -> dict:
    """Per host, the kernel's UDP counters (/proc/net/snmp of its namespace): datagrams lost to a
    full socket buffer show as RcvbufErrors."""
    out = {}
    for h in UDP_HOSTS:
        lines = [ln.split() for ln in lab.exec(h, ["cat", "/proc/net/snmp"]).stdout.splitlines()
                 if ln.startswith("Udp:")]
        if len(lines) >= 2:
            out[h] = {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:])
                      if k in ("InDatagrams", "InErrors", "RcvbufErrors", "SndbufErrors")}
    return out


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of an ascending list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def summarise(sites: list[Site], tail: EventTail) -> dict:
    """Latency (trigger → inService, ms), calls/s to inService and the sessions that did not make it."""
    lat = []
    not_in_service: dict[str, int] = {}
    in_service_ns = []
    for s in sites:
        f = tail.final.get(s.key)
        if f and f[0] == "inService":
            lat.append((f[1] - tail.trigger_ns[s.key]) / 1e6)
            in_service_ns.append(f[1])
        else:
            why = f"{f[0]} ({f[2]})" if f else ("triggered, not final" if s.key in tail.trigger_ns else "no trigger")
            not_in_service[why] = not_in_service.get(why, 0) + 1
    stages: dict[str, list[float]] = {"trigger -> aaa-grant": [], "aaa-grant -> call-connected": [],
                                      "call-connected -> inService": []}
    for s in sites:
        f, st = tail.final.get(s.key), tail.stage_ns.get(s.key, {})
        if f and f[0] == "inService" and len(st) == 2:
            stages["trigger -> aaa-grant"].append((st["aaa-grant"] - tail.trigger_ns[s.key]) / 1e6)
            stages["aaa-grant -> call-connected"].append((st["call-connected"] - st["aaa-grant"]) / 1e6)
            stages["call-connected -> inService"].append((f[1] - st["call-connected"]) / 1e6)
    lat.sort()
    triggers = [tail.trigger_ns[s.key] for s in sites if s.key in tail.trigger_ns]
    out = {"sites": len(sites), "in_service": len(lat), "not_in_service": not_in_service}
    if lat:
        span = (max(in_service_ns) - min(triggers)) / 1e9
        out.update({
            "first_trigger_to_last_inservice_s": round(span, 3),
            "calls_per_s": round(len(lat) / span, 1) if span > 0 else None,
            "trigger_span_s": round((max(triggers) - min(triggers)) / 1e9, 3),
            "latency_ms": {"min": round(lat[0], 2), "p50": round(percentile(lat, 50), 2),
                           "p90": round(percentile(lat, 90), 2), "p99": round(percentile(lat, 99), 2),
                           "max": round(lat[-1], 2), "mean": round(statistics.fmean(lat), 2)},
            "stages_ms": {k: {"p50": round(percentile(sorted(v), 50), 2), "p99": round(percentile(sorted(v), 99), 2)}
                          for k, v in stages.items() if v},
        })
    return out


def run_bench(n: int, rate: float = 0.0, lacs: int = 1, tunnels: int = 1, window: int | None = None,
              zlb_ack: str | None = None, cpe_restart: str | None = None, deadline: float | None = None,
              events_flush: str = "loop", profile: str | None = None, say=print) -> dict:
    """Run one benchmark (module docstring) and return the result dict (also written to the run
    folder as bench-dialout.json). `profile`: syscalls, perf or callgrind (dlab.lnsd_profile), lnsd
    profiled during the trigger phase, its figures under "profile". Raises L.LabError when the lab
    cannot come up or a daemon dies."""
    sites = plan_sites(n, lacs, tunnels)
    try:
        bdir = build_dir()
    except NotBuilt as e:
        raise L.LabError(str(e)) from None
    deadline = deadline if deadline is not None else 60.0 + n / 50.0
    t0 = time.monotonic()
    topo = topology_for(sites, lacs)
    lab = L.Lab(topo, capture=False)
    result: dict = {"sites": n, "rate": rate or "all at once", "lacs": lacs, "tunnels_per_lac": tunnels,
                    "receive_window": window or 16, "zlb_ack": zlb_ack or "0s",
                    "cpe_ppp_restart": cpe_restart or "3s", "events_flush": events_flush,
                    "run_dir": str(lab.run_dir)}
    with lab:
        result["setup_lab_s"] = round(time.monotonic() - t0, 2)   # namespaces + 3 FreeRADIUS servers
        say(f"lab {lab.runid} up in {result['setup_lab_s']} s ({n} home + {n} LNS RADIUS users); "
            f"run folder {lab.run_dir}")
        t1 = time.monotonic()
        prof = LnsdProfile(profile, lab.run_dir) if profile else None
        saved_wrapper = os.environ.get("DLAB_LNSD_WRAPPER")
        if prof and prof.wrapper():
            os.environ["DLAB_LNSD_WRAPPER"] = prof.wrapper()
        try:
            d = start_daemons(lab, bdir, configure_daemons(sites, lacs, window, zlb_ack, cpe_restart, events_flush))
        finally:
            if saved_wrapper is None:
                os.environ.pop("DLAB_LNSD_WRAPPER", None)
            else:
                os.environ["DLAB_LNSD_WRAPPER"] = saved_wrapper
        if lacs > 1:
            _start_extra_lacs(lab, bdir, lacs, n)
        result["setup_daemons_s"] = round(time.monotonic() - t1, 2)
        lnsd = next(p for p in lab.procs if p.name == "lnsd")
        # The triggers arrive in a burst: room for all of them in the TUN's queue (the kernel's
        # default of 500 would drop the rest before lnsd reads them), and home's neighbour entry for
        # its gateway resolved first (the ARP queue holds few packets).
        lab.exec("lns", ["ip", "link", "set", "dlo0", "txqueuelen", str(max(1000, 2 * n))])
        lab.exec("home", ["ping", "-n", "-q", "-c", "1", "-W", "2", "203.0.113.1"], check=False)
        tun_before, udp_before = _tun_stats(lab), _udp_stats(lab)
        tail = EventTail(d.events)
        if prof:
            prof.start(lnsd.pid)
        before = proc_stats(lnsd.pid)
        others_before = {p.name: proc_stats(p.pid) for p in lab.procs if p.name != "lnsd" and p.alive()}
        say(f"daemons ready in {result['setup_daemons_s']} s: lnsd, isdn-emu, {lacs} lac-emu, cpe-emu "
            f"({n} sites); triggering {n} destinations {'at %g/s' % rate if rate else 'all at once'} …")
        dests = "\n".join(s.destination for s in sites)
        sent = lab.exec("home", ["/usr/bin/python3", "-c", SENDER, str(rate)], input=dests,
                        timeout=max(30.0, 2 * n / rate if rate else 30.0))
        result["sender"] = json.loads(sent.stdout)
        progress = {"count": -1, "since": time.monotonic()}

        def settled():
            """Every site final; or every triggered session final and no new one for 3 s."""
            tail.poll()
            if not lnsd.alive():
                return "lnsd exited"
            done = sum(1 for s in sites if s.key in tail.final)
            if done == n:
                return "all"
            seen = len(tail.trigger_ns) + len(tail.final)
            if seen != progress["count"]:
                progress.update(count=seen, since=time.monotonic())
                return None
            idle = time.monotonic() - progress["since"]
            return "stalled" if done == len(tail.trigger_ns) and idle > 3.0 else None

        try:
            outcome = wait_for(settled, deadline, f"{n} dial-out sessions to reach a final state")
        except WaitTimeout:
            outcome = "deadline passed"
        result["complete"] = outcome == "all"
        if outcome == "lnsd exited":
            code = lnsd.popen.poll() if lnsd.popen else None
            result["summary_so_far"] = summarise(sites, tail)
            (lab.run_dir / "bench-dialout.json").write_text(json.dumps(result, indent=1))
            raise L.LabError(f"lnsd exited (status {code}; negative: killed by that signal) during the "
                             f"benchmark, {result['summary_so_far']['in_service']} sessions in service; "
                             f"run folder {lab.run_dir}\n{lnsd.log_text()[-1500:]}")
        tail.poll()
        after = proc_stats(lnsd.pid)
        result.update(summarise(sites, tail))
        if prof:
            result["profile"] = prof.stop(result["in_service"])
        cpu = after["utime_s"] + after["stime_s"] - before["utime_s"] - before["stime_s"]
        result["lnsd"] = {"cpu_s": round(cpu, 2), "user_s": round(after["utime_s"] - before["utime_s"], 2),
                          "system_s": round(after["stime_s"] - before["stime_s"], 2),
                          "cpu_ms_per_call": round(1000 * cpu / max(1, result["in_service"]), 3),
                          "rss_before_kib": before["VmRSS"], "rss_after_kib": after["VmRSS"],
                          "hwm_kib": after["VmHWM"],
                          "rss_per_call_kib": round((after["VmRSS"] - before["VmRSS"]) / max(1, result["in_service"]), 2)}
        others = {}
        for p in lab.procs:
            if p.name in others_before and p.alive():
                a, b = proc_stats(p.pid), others_before[p.name]
                others[p.name] = round(max(0.0, a["utime_s"] + a["stime_s"] - b["utime_s"] - b["stime_s"]), 2)
        result["peers_cpu_s"] = others
        result["lnsd_event_lines"] = tail.lines
        try:   # lnsd's L2TP counters (e.g. data for sessions not yet established, RFC 2661 §5.8 acks)
            result["lnsd_l2tp_summary"] = d.ctl("show", "l2tp")
        except Exception as e:  # noqa: BLE001 - a figure, not the benchmark's outcome
            result["lnsd_l2tp_summary"] = {"error": str(e)}
        tun_after = _tun_stats(lab)
        result["tun_dlo0"] = {k: tun_after.get(k, 0) - tun_before.get(k, 0) for k in tun_after}
        udp_after = _udp_stats(lab)
        result["udp"] = {h: {k: v - udp_before.get(h, {}).get(k, 0) for k, v in c.items()} for h, c in udp_after.items()}
        summary = result.get("lnsd_l2tp_summary", {}).get("system", {}).get("counters", {})
        result["lnsd_radius_retransmissions"] = tail.radius_timeouts
        result["lnsd_l2tp_unknown_session"] = summary.get("unknown-session")
        result["lnsd_l2tp_data_early"] = {k: summary.get(f"data-early-{k}")
                                          for k in ("kept", "delivered", "dropped", "discarded")}
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        (lab.run_dir / "bench-dialout.json").write_text(json.dumps(result, indent=1))
    return result


def format_table(r: dict) -> str:
    """The human-readable report of one run_bench result."""
    lat = r.get("latency_ms", {})
    rows = [("sites", r["sites"]), ("triggers", f"{r['rate']}" + ("" if isinstance(r["rate"], str) else " /s")),
            ("LACs x tunnels", f"{r['lacs']} x {r['tunnels_per_lac']}"),
            ("L2TP receive window, zlb-ack", f"{r['receive_window']}, {r['zlb_ack']}"),
            ("CPE PPP restart timer", r["cpe_ppp_restart"]),
            ("daemons' event logs flushed per", r.get("events_flush")),
            ("lab set-up (namespaces, FreeRADIUS)", f"{r['setup_lab_s']} s"),
            ("daemons set-up", f"{r['setup_daemons_s']} s"),
            ("in service", f"{r['in_service']} / {r['sites']}" + ("" if r["complete"] else " (deadline passed)")),
            ("calls/s to inService", r.get("calls_per_s")),
            ("first trigger -> last inService", f"{r.get('first_trigger_to_last_inservice_s')} s"),
            ("latency p50 / p90 / p99 (ms)", f"{lat.get('p50')} / {lat.get('p90')} / {lat.get('p99')}"),
            ("latency min / mean / max (ms)", f"{lat.get('min')} / {lat.get('mean')} / {lat.get('max')}"),
            *((f"  {k} p50 / p99 (ms)", f"{v['p50']} / {v['p99']}") for k, v in r.get("stages_ms", {}).items()),
            ("lnsd CPU (user + system)", f"{r['lnsd']['cpu_s']} s ({r['lnsd']['user_s']} + {r['lnsd']['system_s']}), "
                                         f"{r['lnsd']['cpu_ms_per_call']} ms/call"),
            ("lnsd VmRSS before / after / VmHWM", f"{r['lnsd']['rss_before_kib']} / {r['lnsd']['rss_after_kib']} / "
                                                  f"{r['lnsd']['hwm_kib']} KiB ({r['lnsd']['rss_per_call_kib']} KiB/call)"),
            ("peers' CPU (s)", ", ".join(f"{k} {v}" for k, v in sorted(r["peers_cpu_s"].items()))),
            ("load average", " ".join(str(x) for x in r["load_average"]))]
    if r.get("tun_dlo0"):
        rows.append(("triggers into dlo0 / dropped by it", f"{r['tun_dlo0'].get('tx_packets')} / {r['tun_dlo0'].get('tx_dropped')}"))
    prof = r.get("profile") or {}
    if prof.get("kind") == "syscalls":
        rows.append(("lnsd system calls per call (perf trace)", f"{prof['total_per_call']}: " +
                     ", ".join(f"{k} {v}" for k, v in list(prof["per_call"].items())[:12])))
    elif prof.get("kind") == "callgrind":
        rows.append(("lnsd instructions per call (callgrind)", f"{prof['instructions_per_call']:,} ({prof['inclusive']})"))
    elif prof.get("kind") == "perf":
        rows.append(("lnsd perf report (cpu-clock)", prof["report"]))
        if "split" in prof:
            sp = prof["split"]
            rows.append(("lnsd CPU samples: user / own kernel / receive softirq (peers')",
                         f"{sp['user']} / {sp['own_kernel']} / {sp['rx_softirq']} % of {sp['samples']}"))
    rows.append(("lnsd RADIUS retransmissions", r.get("lnsd_radius_retransmissions")))
    rows.append(("lnsd L2TP data for unknown / not established sessions", r.get("lnsd_l2tp_unknown_session")))
    early = r.get("lnsd_l2tp_data_early") or {}
    rows.append(("lnsd L2TP data before OCCN/ICCN kept / delivered / dropped / discarded",
                 " / ".join(str(early.get(k)) for k in ("kept", "delivered", "dropped", "discarded"))))
    rows.append(("UDP RcvbufErrors per host", ", ".join(f"{h} {c.get('RcvbufErrors')}" for h, c in r.get("udp", {}).items())))
    if r["not_in_service"]:
        rows.append(("not in service", ", ".join(f"{k}: {v}" for k, v in r["not_in_service"].items())))
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{w}}  {v}" for k, v in rows)


def run(a) -> int:
    """`./lab bench dialout` entry point (cli.py): 0 when every site reached inService, else 1."""
    say = (lambda *x: None) if a.json else print
    r = run_bench(a.sites, rate=a.rate or 0.0, lacs=a.lacs, tunnels=a.tunnels, window=a.window,
                  zlb_ack=a.zlb_ack, cpe_restart=a.cpe_restart, deadline=a.deadline,
                  events_flush=a.events_flush, profile=a.profile, say=say)
    if a.json:
        print(json.dumps(r, indent=1))
    else:
        print(format_table(r))
    return 0 if r["in_service"] == r["sites"] else 1
