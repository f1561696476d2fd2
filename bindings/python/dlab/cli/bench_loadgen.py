"""`./lab bench loadgen`: lnsd under the load generator dl_loadgen (docs/performance.md, "Load generator").

Brings up the default lab (scenarios/topologies/default.yaml, no captures) with lnsd and the real
FreeRADIUS servers, but WITHOUT lac-emu, isdn-emu and cpe-emu: dl_loadgen
(build/scenarios/loadgen/dl_loadgen) runs in the `lac` namespace on the LAC's address
(198.51.100.2, UDP 1701) and is the LAC, the ISDN exchange and the CPEs of every site in one process.

- `--mode dialout` (default): the sites, RADIUS users, numbers and CPE names of `./lab bench dialout`
  (bench_dialout.plan_sites: home RADIUS users with the JunosE "L2TP Dial-Out" Table 75 attributes,
  LNS RADIUS users for the CPEs' CHAP); dl_loadgen sends one trigger datagram per site from `home`
  (a socket it opens in that namespace) at `--rate` per second and answers lnsd's SCCRQ / OCRQ as
  the LAC, the exchange routes each number to its CPE, whose PPP (LCP, CHAP both ways, IPCP) runs
  over the L2TP session. It measures trigger → OCRQ (lnsd's home RADIUS), OCRQ → OCCN (L2TP),
  OCCN → IPCP Opened (PPP with lnsd's LNS RADIUS), and the total.
- `--mode incoming`: `--sites` incoming calls (ICRQ … ICCN) over `--tunnels` tunnels; with
  `--ppp chap` the CPE side of each call then runs PPP with lnsd (LCP, CHAP checked by lnsd through
  the real LNS FreeRADIUS, which knows one user per call from plan_sites, IPCP with the user's
  Framed-IP-Address): a call counts when IPCP opens, per stage ICRQ → ICCN (L2TP) and ICCN →
  IPCP Opened (PPP).
- `--sweep R1,R2,…`: one run per offered rate (dialout: each rate on its own slice of sites, all
  users loaded once), a table and the latency-vs-offered-rate curve (matplotlib) in `--plot`.

FreeRADIUS runs as a tuned deployment would (`--radius-profile`, default "bench": no detail files,
no per-request log line, `-t` single-threaded; dlab.freeradius.PROFILES), still authorising both
exchanges with the same users; dl_loadgen reports each server's CPU over the set-up phase beside
lnsd's and its own (`--watch-pid radius-NAME=PID`, JSON "watched"), so the table shows the whole
lab's budget per call: lnsd + generator + each FreeRADIUS + the rest of the 2 cores.

lnsd runs without its JSON-lines event log (`--events` not given) and nobody subscribes to its
control socket's event stream: its EventBus then has no subscriber, and a published event costs a
counter increment (lns/core event.hpp) — what a production box runs. Every run is bounded
(dl_loadgen's own `--deadline`), and the lab is torn down whatever happens.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .. import lab as L
from ..dialout_lab import NotBuilt, build_dir, lnsd_argv, start_daemons
from .bench_dialout import LAC_SECRET, MAX_SITES, configure_daemons, lac_addresses, plan_sites, topology_for

LOADGEN = "scenarios/loadgen/dl_loadgen"
LAC_ADDRESS = "198.51.100.2"
LNS_ADDRESS = "198.51.100.1"
# lnsd's limits for the incoming mode: every tunnel comes from the one LAC address.
INCOMING_LIMITS = {"tunnels": 20000, "tunnels-per-peer": 20000, "tunnels-setup": 20000,
                   "tunnels-setup-per-peer": 20000, "sccrq-rate": 0, "sessions-setup-per-tunnel": 4096}


def _start_lnsd(lab: L.Lab, bdir: Path, config: dict):
    """lnsd in `lns` with `config`, its control socket in the run folder, no event log."""
    import yaml
    path = lab.run_dir / "lnsd.yaml"
    path.write_text(yaml.safe_dump(config))
    return lab.start("lnsd", "lns", lnsd_argv(bdir, "--config", str(path), "--control", str(lab.run_dir / "lnsd.sock")),
                     ready="lnsd ready")


def _tasks(pid: int) -> list[int]:
    """The thread ids of process `pid` (/proc/PID/task); [] once it has exited."""
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def pin_cores(lab: L.Lab, lnsd_pid: int) -> dict | None:
    """Gives lnsd a core of its own for the run (`--pin`): every thread of lnsd on the last CPU
    this process may use, every other lab process (FreeRADIUS …) and this process on the others,
    so the dl_loadgen started afterwards inherits them (sched_setaffinity(2); a child keeps its
    parent's mask). The peers' and lnsd's kernel work (veth transmit runs the receive softirq in
    the sender's context) follows them. Returns {"lnsd": [cpu], "lab": [cpus…]}, or None when
    fewer than 2 CPUs are available (nothing changed). Undo with `unpin_self`."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    own, rest = {cpus[-1]}, set(cpus[:-1])
    for tid in _tasks(lnsd_pid):
        os.sched_setaffinity(tid, own)
    for p in lab.procs:
        if p.pid != lnsd_pid:
            for tid in _tasks(p.pid):
                try:
                    os.sched_setaffinity(tid, rest)
                except OSError:      # a thread that ended meanwhile
                    pass
    os.sched_setaffinity(0, rest)
    return {"lnsd": sorted(own), "lab": sorted(rest), "all": cpus}


def unpin_self(pinned: dict | None) -> None:
    """Restores this process's CPU mask after `pin_cores`."""
    if pinned:
        os.sched_setaffinity(0, set(pinned["all"]))


def _loadgen(lab: L.Lab, bdir: Path, argv: list[str], deadline: float, tag: str) -> dict:
    """Runs dl_loadgen in `lac` with `argv` (+ --json, --deadline) and returns its JSON result."""
    out = lab.run_dir / f"loadgen-{tag}.json"
    # DL_LOADGEN_PREFIX: a profiler in front of dl_loadgen, e.g. "perf record -e cpu-clock -g -o /tmp/p.data"
    cmd = [*os.environ.get("DL_LOADGEN_PREFIX", "").split(), str(bdir / LOADGEN), *argv, "--deadline", str(deadline),
           "--json", str(out)]
    cp = lab.exec("lac", cmd, check=False, timeout=deadline + 20)
    (lab.run_dir / f"loadgen-{tag}.log").write_text(cp.stderr)
    if not out.exists():
        raise L.LabError(f"dl_loadgen wrote no result (status {cp.returncode}):\n{cp.stderr[-1500:]}")
    r = json.loads(out.read_text())
    r["exit_status"] = cp.returncode
    return r


def incoming_ppp_lnsd(config: dict) -> None:
    """lnsd's `incoming:` for `--ppp chap`: no proxy AVPs come from dl_loadgen, so lnsd
    renegotiates LCP and authenticates the CPE with CHAP itself (JunosE "Implementing L2TP"; Huawei
    "L2TP Session Establishment", LCP renegotiation), through its LNS RADIUS; IPCP with the
    profile's local address."""
    config["incoming"] = {"virtual-router": "default", "profile": "isdn", "authentication": "chap",
                          "mode": "lcp-renegotiation"}


def _median_ms(fn, repeat: int = 3) -> float:
    """Median wall time of `fn()` in ms over `repeat` calls."""
    import statistics
    import time
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return round(statistics.median(times), 3)


def _proc_cpu_s(pid: int) -> float:
    """utime + stime of /proc/<pid>/stat in seconds (proc(5))."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_lnsd(sock: Path, pid: int, sites: list) -> dict:
    """lnsd at its current size: `show memory` (heap and RSS, per dial-out session), and the answer
    time (request written → answer read and parsed, median of 3, ms) of the summaries, one item of
    each listing, and pages of 100 and 1000 items (the first and one after a key)."""
    from ..control_api import Daemon
    d = Daemon(sock, name="lnsd", timeout=60.0)
    mem = d.show("memory")
    summary = d.show("l2tp")["system"]
    one_l2tp = d.show("l2tp session", limit=1)["items"][0]["id"]
    one_ppp = d.show("ppp", limit=1)["items"][0]["id"]
    first = d.show("l2tp session", limit=1000)["items"]
    mid = first[len(first) // 2]["id"]   # a key inside the first page: the next page starts there
    n = summary["sessions"]
    cmds = {
        "show l2tp": lambda: d.show("l2tp"),
        "show l2tp destination": lambda: d.show("l2tp destination"),
        "show l2tp tunnel": lambda: d.show("l2tp tunnel"),
        "show l2tp dial-out": lambda: d.show("l2tp dial-out"),
        "show memory": lambda: d.show("memory"),
        "show l2tp session <t>/<s>": lambda: d.show("l2tp session", id=one_l2tp),
        "show l2tp dial-out session <key>": lambda: d.show("l2tp dial-out session", id=sites[len(sites) // 2].key),
        "show ppp <id>": lambda: d.show("ppp", id=one_ppp),
        "show l2tp session limit=100": lambda: d.show("l2tp session", limit=100),
        "show l2tp session limit=1000": lambda: d.show("l2tp session", limit=1000),
        "show l2tp session limit=1000 after=<key>": lambda: d.show("l2tp session", limit=1000, after=mid),
        "show l2tp dial-out session limit=100": lambda: d.show("l2tp dial-out session", limit=100),
        "show l2tp dial-out session limit=1000": lambda: d.show("l2tp dial-out session", limit=1000),
        "show ppp limit=100": lambda: d.show("ppp", limit=100),
        "show ppp limit=1000": lambda: d.show("ppp", limit=1000),
    }
    times = {name: _median_ms(fn) for name, fn in cmds.items()}
    refused = None
    try:
        d.show("l2tp session")            # the whole listing, unpaged: refused past 10 000 items
    except Exception as e:  # noqa: BLE001 (ControlError: the figure is the refusal itself)
        refused = {"error": str(e), "param": getattr(e, "param", None)}
    held = len(sites)
    return {"sessions": n, "sessions_established": summary["sessions-established"], "memory": mem,
            "heap_bytes_per_session": round(mem["heap-in-use"] / held, 1) if held else None,
            "show_ms": times, "unpaged_listing": refused, "load_average": [round(x, 2) for x in os.getloadavg()]}


def _loadgen_held(lab: L.Lab, bdir: Path, argv: list[str], deadline: float, tag: str, lnsd, sites: list,
                  say=print) -> dict:
    """dl_loadgen (dial-out, with --hold) in the background: once it prints that every site is in
    service, lnsd is measured (measure_lnsd) while the generator holds them; then the generator
    tears everything down (StopCCN on every tunnel) and exits; lnsd is watched until it holds no
    session and no PPP link (`lnsd_idle_s` after the generator's exit, its CPU meanwhile)."""
    import time
    from ..control_api import Daemon
    from ..wait import wait_for
    out = lab.run_dir / f"loadgen-{tag}.json"
    cmd = [*os.environ.get("DL_LOADGEN_PREFIX", "").split(), str(bdir / LOADGEN), *argv, "--deadline", str(deadline),
           "--json", str(out)]
    sock = lab.run_dir / "lnsd.sock"
    mem0 = Daemon(sock, name="lnsd").show("memory")
    g = lab.start(f"dl_loadgen-{tag}", "lac", cmd, ready="set-up done", within=deadline + 10)
    say("every site in service: measuring lnsd …")
    held = measure_lnsd(sock, lnsd.pid, sites)
    held["memory_before"] = mem0
    held["heap_bytes_per_session_over_idle"] = round((held["memory"]["heap-in-use"] - mem0["heap-in-use"]) / len(sites), 1)
    held["rss_bytes_per_session_over_idle"] = round((held["memory"]["rss-kib"] - mem0["rss-kib"]) * 1024 / len(sites), 1)
    say(json.dumps(held["show_ms"]))
    wait_for(lambda: not g.alive(), deadline + 20, "dl_loadgen to tear down and exit")
    t0, cpu0 = time.monotonic(), _proc_cpu_s(lnsd.pid)
    d = Daemon(sock, name="lnsd", timeout=60.0)

    def idle() -> bool:
        return d.show("l2tp")["system"]["sessions"] == 0 and d.show("ppp", limit=1)["total"] == 0
    wait_for(idle, 600, "lnsd to hold no session after the teardown")
    held["lnsd_idle_s"] = round(time.monotonic() - t0, 3)
    held["lnsd_idle_cpu_s"] = round(_proc_cpu_s(lnsd.pid) - cpu0, 3)
    held["memory_after_teardown"] = d.show("memory")
    if not out.exists():
        raise L.LabError(f"dl_loadgen wrote no result:\n{g.log_text()[-1500:]}")
    r = json.loads(out.read_text())
    r["exit_status"] = g.popen.wait(timeout=10) if g.popen else None
    r["held"] = held
    return r


def radius_watch_args(lab: L.Lab) -> list[str]:
    """dl_loadgen's `--watch-pid radius-NAME=PID` for every FreeRADIUS server the lab started."""
    return [x for p in lab.procs if p.name.startswith("radius-") for x in ("--watch-pid", f"{p.name}={p.pid}")]


def budget_per_call(r: dict, cores: int | None = None) -> dict:
    """The lab's CPU per call over a run's set-up phase (ms): lnsd, dl_loadgen, each watched
    process (the FreeRADIUS servers, JSON "watched"), and `rest`: what the machine's `cores` (default
    os.cpu_count()) had per call at the achieved rate, less those (the kernel's softirq work, other
    processes, idle time). None for a figure the run lacks."""
    cores = cores or os.cpu_count() or 1
    out = {"lnsd": (r.get("lns") or {}).get("cpu_ms_per_call"), "loadgen": r["loadgen"]["cpu_ms_per_call"]}
    for name, w in (r.get("watched") or {}).items():
        out[name] = (w or {}).get("cpu_ms_per_call")
    rate = r.get("calls_per_s") or r.get("setup_rate_per_s")
    known = [v for v in out.values() if v is not None]
    out["machine"] = round(cores * 1e3 / rate, 3) if rate else None
    out["rest"] = round(out["machine"] - sum(known), 3) if rate else None
    return out


def run_bench(mode: str, n: int, rates: list[float], tunnels: int = 1, window: int = 0,
              receive_window: int | None = None, deadline: float | None = None, say=print,
              ppp: str = "none", lacs: int = 1, hold: float = 0.0, radius_profile: str = "bench",
              pin: bool = False, zlb_ack: str | None = None, loop_moderation: str | None = None) -> list[dict]:
    """One lab, one dl_loadgen run per rate in `rates`; returns their JSON results (each with
    "load_average" and "offered_rate" added). Raises L.LabError when the lab cannot come up.

    Dial-out mode: `lacs` LAC engines in dl_loadgen (198.51.100.2, .20, .21, …: lac_addresses), the
    sites spread over them by their RADIUS Tunnel-Server-Endpoint (≤ 32 767 calls per LAC, its
    Q.931 call reference). `hold` > 0: every site is held in service that long, and meanwhile lnsd
    is measured at that size (`measure_lnsd`: memory, show answer times; result key "held").
    `radius_profile`: how FreeRADIUS is deployed (dlab.freeradius.PROFILES; "lab" is the tests').
    `pin`: lnsd alone on one core, the generator and FreeRADIUS on the others (`pin_cores`; result
    key "cpu_pinning").
    `zlb_ack`: lnsd's `timers.zlb-ack` (RFC 2661 §5.8, e.g. "1ms"); None: lnsd's default (0s, a ZLB
    at the end of its loop pass). Each result carries it as "lnsd_zlb_ack".
    `loop_moderation`: lnsd's `loop-moderation` (docs/lnsd.md, e.g. "300us"); None: lnsd's default
    (0s, off). Each result carries it as "lnsd_loop_moderation"."""
    try:
        bdir = build_dir()
    except NotBuilt as e:
        raise L.LabError(str(e)) from None
    if not (bdir / LOADGEN).exists():
        raise L.LabError(f"{bdir / LOADGEN} is not built (ci/build dl_loadgen)")
    total = n * len(rates) if mode == "dialout" else n
    if mode == "dialout" and not 1 <= total <= MAX_SITES:
        raise ValueError(f"--sites × rates = {total}: must be 1..{MAX_SITES}")
    if ppp != "none" and mode != "incoming":
        raise ValueError("--ppp applies to --mode incoming (the dial-out mode always runs PPP)")
    # incoming --ppp chap: one LNS RADIUS user per call (plan_sites' names, secrets, Framed-IP-Address;
    # dl_loadgen places tunnels × ceil(n / tunnels) calls)
    if mode == "incoming" and ppp != "none":
        total = tunnels * math.ceil(n / tunnels)
        if not 1 <= total <= MAX_SITES:
            raise ValueError(f"--sites {n} over {tunnels} tunnels: {total} calls, must be 1..{MAX_SITES}")
    if mode == "dialout":
        sites = plan_sites(total, lacs, tunnels)
    else:
        sites = plan_sites(total, 1, tunnels) if ppp != "none" else []
    lab = L.Lab(topology_for(sites, lacs) if mode == "dialout" else topology_for(sites, 1), capture=False,
                radius_profile=radius_profile)
    results = []
    with lab:
        say(f"lab {lab.runid} up; run folder {lab.run_dir}")
        configs: dict = {}

        def configure(c: dict) -> None:
            configure_daemons(sites or plan_sites(1), 1, receive_window)(c)
            for role in ("isdn", "lac", "cpe", "isdn2", "lac2", "cpe2"):
                c[role] = None
            if mode == "incoming":
                c["lnsd"]["limits"] = INCOMING_LIMITS
                if ppp != "none":
                    incoming_ppp_lnsd(c["lnsd"])
            # lnsd's own default acknowledges at the end of its loop pass (RFC 2661 §5.8), which a
            # LAC in slow start needs at this rate (docs/performance.md, "The delayed ZLB" and
            # "ZLB at the end of the pass"); --zlb-ack sets another value, for comparisons.
            if zlb_ack:
                c["lnsd"].setdefault("timers", {})["zlb-ack"] = zlb_ack
            if loop_moderation:
                c["lnsd"]["loop-moderation"] = loop_moderation
            configs.update(c)
            c["lnsd"] = None       # started below, without an event log
        start_daemons(lab, bdir, configure)
        lnsd = _start_lnsd(lab, bdir, configs["lnsd"])
        pinned = pin_cores(lab, lnsd.pid) if pin else None
        if pin:
            say(f"cores: lnsd on {pinned['lnsd']}, generator and FreeRADIUS on {pinned['lab']}" if pinned
                else "cores: fewer than 2 CPUs, nothing pinned")
        try:
            binds = lac_addresses(lacs) if mode == "dialout" else [LAC_ADDRESS]
            common = [*(x for a in binds for x in ("--bind", a)), "--lnsd-pid", str(lnsd.pid), "--window", str(window),
                      "--quiet", *radius_watch_args(lab)]
            if receive_window:
                common += ["--receive-window", str(receive_window)]
            if mode == "dialout":
                lab.exec("lns", ["ip", "link", "set", "dlo0", "txqueuelen", str(max(1000, 2 * total))])
                lab.exec("home", ["ping", "-n", "-q", "-c", "1", "-W", "2", "203.0.113.1"], check=False)
            for k, rate in enumerate(rates):
                if not lnsd.alive():
                    raise L.LabError(f"lnsd exited during the benchmark; run folder {lab.run_dir}")
                dl = deadline if deadline is not None else 30.0 + (n / rate if rate else n / 200.0) + hold
                if mode == "dialout":
                    chunk = sites[k * n:(k + 1) * n]
                    sites_file = lab.run_dir / f"sites-{k}.json"
                    sites_file.write_text(json.dumps([{"destination": s.destination, "number": s.number,
                                                       "name": s.name, "secret": s.secret, "lac": s.lac} for s in chunk]))
                    argv = ["dialout", *common, "--hostname", "lac", "--secret", LAC_SECRET, "--rate", str(rate),
                            "--sites-file", str(sites_file), "--home-netns", f"/run/netns/{lab.ns('home')}"]
                else:
                    argv = ["incoming", *common, "--lns", LNS_ADDRESS, "--hostname", "lac", "--tunnels", str(tunnels),
                            "--sessions-per-tunnel", str(math.ceil(n / tunnels)), "--rate", str(rate)]
                    if ppp != "none":
                        users = lab.run_dir / "ppp-users.json"
                        users.write_text(json.dumps([{"name": s.name, "secret": s.secret} for s in sites]))
                        argv += ["--ppp", ppp, "--users-file", str(users)]
                say(f"{mode}: {n} {'sites' if mode == 'dialout' else 'calls'} at "
                    f"{'%g/s' % rate if rate else 'full speed'} …")
                if mode == "dialout" and hold > 0:
                    r = _loadgen_held(lab, bdir, argv + ["--hold", str(hold)], dl, f"{mode}-{k}", lnsd, chunk, say)
                else:
                    r = _loadgen(lab, bdir, argv, dl, f"{mode}-{k}")
                r["offered_rate"] = rate
                r["ppp_mode"] = ppp
                r["radius_profile"] = radius_profile
                r["lnsd_zlb_ack"] = zlb_ack or "default"
                r["lnsd_loop_moderation"] = loop_moderation or "default"
                r["budget_ms_per_call"] = budget_per_call(r)
                r["load_average"] = [round(x, 2) for x in os.getloadavg()]
                r["cpu_pinning"] = {key: cpus for key, cpus in pinned.items() if key != "all"} if pinned else None
                results.append(r)
        finally:
            unpin_self(pinned)
        (lab.run_dir / "bench-loadgen.json").write_text(json.dumps(results, indent=1))
    return results


def _fmt(x, nd=2) -> str:
    return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def zlbs_per_call(r: dict) -> str:
    """"a, b": ZLBs lnsd sent (the generator received) and the generator sent, per call in service,
    over the whole run (set-up and teardown; RFC 2661 §5.8 acknowledgements nothing piggy-backed)."""
    m = r.get("messages") or {}
    calls = r.get("in_service") or 0
    if not calls:
        return "-"
    return (f"{(m.get('received') or {}).get('ZLB', 0) / calls:.2f}, "
            f"{(m.get('sent') or {}).get('ZLB', 0) / calls:.2f}")


def format_table(results: list[dict]) -> str:
    """One row per run: offered rate, achieved calls/s, latency percentiles, CPU per call of lnsd
    (and, dial-out, the times lnsd blocked and woke per call: proc(5) voluntary_ctxt_switches), the generator, each FreeRADIUS server that worked and the rest of the machine (budget_per_call)."""
    if not results:
        return "(no runs)"
    # the watched processes that worked in some run (an idle FreeRADIUS, e.g. home-b, is left out)
    watched = [name for name in (results[0].get("watched") or {})
               if any(((r.get("watched") or {}).get(name) or {}).get("cpu_s") for r in results)]
    extra_head = (*(f"{name} ms/call" for name in watched), "rest ms/call") if watched else ()

    def extra(r: dict) -> tuple:
        if not watched:
            return ()
        b = r.get("budget_ms_per_call") or {}
        return (*(_fmt(b.get(name), 3) for name in watched), _fmt(b.get("rest"), 3))
    if results[0]["mode"] == "dialout":
        head = ("offered/s", "in service", "calls/s", "p50 ms", "p90 ms", "p99 ms", "RADIUS p50", "L2TP p50",
                "PPP p50", "ZLB/call lnsd, gen", "lnsd ms/call", "lnsd wake-ups/call", "gen ms/call", *extra_head,
                "load avg")
        rows = []
        for r in results:
            lat = r["latency_ms"]
            rows.append((_fmt(r["offered_rate"], 0), f"{r['in_service']}/{r['sites']}", _fmt(r["calls_per_s"], 0),
                         _fmt(lat["total"].get("p50")), _fmt(lat["total"].get("p90")), _fmt(lat["total"].get("p99")),
                         _fmt(lat["radius"].get("p50")), _fmt(lat["l2tp"].get("p50")), _fmt(lat["ppp"].get("p50")),
                         zlbs_per_call(r), _fmt((r.get("lns") or {}).get("cpu_ms_per_call"), 3),
                         _fmt((r.get("lns") or {}).get("wakeups_per_call"), 2),
                         _fmt(r["loadgen"]["cpu_ms_per_call"], 3), *extra(r), " ".join(str(x) for x in r["load_average"])))
    else:
        head = ("offered/s", "established", "calls/s", "p50 ms", "p90 ms", "p99 ms", "L2TP p50", "PPP p50", "tunnels",
                "lnsd ms/call", "gen ms/call", *extra_head, "load avg")
        rows = []
        for r in results:
            lat = r["sessions"]["setup_ms"]
            stages = r.get("ppp_stages") or {}
            rows.append((_fmt(r["offered_rate"], 0), f"{r['established']}/{r['requested']}",
                         _fmt(r["setup_rate_per_s"], 0), _fmt(lat.get("p50")), _fmt(lat.get("p90")),
                         _fmt(lat.get("p99")), _fmt((stages.get("l2tp") or {}).get("p50")),
                         _fmt((stages.get("ppp") or {}).get("p50")),
                         f"{r['tunnels']['established']}/{r['tunnels']['requested']}",
                         _fmt((r.get("lns") or {}).get("cpu_ms_per_call"), 3), _fmt(r["loadgen"]["cpu_ms_per_call"], 3),
                         *extra(r), " ".join(str(x) for x in r["load_average"])))
    w = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w[i]) for i, h in enumerate(head))]
    lines += ["  ".join(c.rjust(w[i]) for i, c in enumerate(row)) for row in rows]
    for r in results:
        if r.get("held"):
            lines += _held_lines(r)
    fails = {k: v for r in results for k, v in r.get("failures", {}).items()}
    if fails:
        lines.append("failures: " + ", ".join(f"{k} {v}" for k, v in fails.items()))
    return "\n".join(lines)


def _held_lines(r: dict) -> list[str]:
    """lnsd at full size (run_bench hold > 0): memory per session, set-up / tear-down, show times."""
    h = r["held"]
    m, m0 = h["memory"], h["memory_before"]
    n = r["in_service"]
    lines = [f"held {n} sites in service: lnsd heap {m['heap-in-use'] / 1e6:.1f} MB "
             f"({h['heap_bytes_per_session_over_idle']:.0f} B/session over idle), RSS {m['rss-kib'] / 1024:.1f} MiB "
             f"({h['rss_bytes_per_session_over_idle'] / 1024:.2f} KiB/session over idle {m0['rss-kib'] / 1024:.1f} MiB)",
             f"set-up {r['setup_s']:.1f} s; tear-down: StopCCNs acknowledged in {r['teardown_s']:.2f} s, lnsd idle "
             f"{h['lnsd_idle_s']:.2f} s after the generator's exit; heap after {h['memory_after_teardown']['heap-in-use'] / 1e6:.1f} MB",
             f"load average during the measurement: {' '.join(str(x) for x in h['load_average'])}",
             "show answer times (ms, median of 3):"]
    lines += [f"  {k:45s} {v:9.2f}" for k, v in h["show_ms"].items()]
    if h.get("unpaged_listing"):
        lines.append(f"  unpaged `show l2tp session`: {h['unpaged_listing']['error']}")
    return lines


def plot(results: list[dict], path: Path) -> None:
    """Latency (p50, p90, p99 trigger → inService) and achieved calls/s against the offered rate."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rates = [r["offered_rate"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for p, style in (("p50", "o-"), ("p90", "s--"), ("p99", "^:")):
        ax.plot(rates, [r["latency_ms"]["total"].get(p) for r in results], style, label=f"{p} trigger → inService")
    ax.set_yscale("log")
    ax.set_xlabel("offered dial-outs per second")
    ax.set_ylabel("latency, ms (log)")
    ax2 = ax.twinx()
    ax2.plot(rates, [r["calls_per_s"] for r in results], "k.-", alpha=0.5, label="achieved calls/s")
    ax2.set_ylabel("achieved calls per second")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="lower right", fontsize=8)
    n = results[0]["sites"]
    load = " ".join(str(x) for x in results[-1]["load_average"])
    ax.set_title(f"lnsd dial-out under dl_loadgen ({n} sites per rate; load avg {load})", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def run(a) -> int:
    """`./lab bench loadgen` entry point: 0 when every call of every run completed, else 1."""
    say = (lambda *x: None) if a.json else print
    rates = [float(x) for x in a.sweep.split(",")] if a.sweep else [a.rate or 0.0]
    results = run_bench(a.mode, a.sites, rates, tunnels=a.tunnels, window=a.loadgen_window,
                        receive_window=a.window, deadline=a.deadline, say=say, ppp=getattr(a, "ppp", "none"),
                        lacs=a.lacs, hold=a.hold_in_service,
                        radius_profile=getattr(a, "radius_profile", "bench"), pin=getattr(a, "pin", False),
                        zlb_ack=getattr(a, "zlb_ack", None), loop_moderation=getattr(a, "loop_moderation", None))
    if a.json:
        print(json.dumps(results, indent=1))
    else:
        print(format_table(results))
    if a.sweep and a.mode == "dialout":
        plot(results, Path(a.plot))
        say(f"curve: {a.plot}")
    return 0 if all(r["complete"] for r in results) else 1
