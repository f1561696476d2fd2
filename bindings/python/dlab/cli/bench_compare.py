"""`./lab bench compare-lns`: the same incoming-call load against xl2tpd and against lnsd, side by side
(docs/performance.md "lnsd against xl2tpd (same load)").

One lab, two hosts on one link: `lns` (198.51.100.1) runs the LNS under test, `lac` runs the load
generator dl_loadgen (scenarios/loadgen) in its `incoming` mode, bound to `--binds` addresses
198.51.100.10, .11, … Each LNS is started fresh for every step (same address, same UDP port 1701, no
tunnel authentication, its limits raised as far as it allows) and stopped after it; the steps are,
for each LNS in turn:

- per offered rate R (0: as fast as the generator's set-ups in flight allow): a tunnels step (T
  tunnels, SCCRQ/SCCRP/SCCCN, no call, R tunnels/s) and a sessions step (T // S tunnels × S calls,
  ICRQ/ICRP/ICCN, R sessions/s), each held `hold` s then torn down: tunnels/s and sessions/s set
  up (the generator's figures), the LNS's CPU and memory per tunnel and per session;
- ramp: tunnels alone, doubled from `ramp_start` up to `ramp_max` until a step does not set every
  tunnel up (a set-up failed or timed out): the largest number of tunnels held at once (the
  generator's count, and the LNS's own during the hold), the LNS's CPU and memory per tunnel there.

Measured per step from /proc (proc(5)), before the load and when the generator's progress line
says the set-up is over: the LNS process group's CPU time (utime + stime of every live member plus
cutime + cstime: xl2tpd forks a pppd per call and reaps it, so its children count) and the LNS
process's own memory (VmRSS, VmHWM; the group's VmRSS apart).

xl2tpd (Debian, `force userspace = yes`: the host has no kernel L2TP) accepts the call and forks
pppd for it; pppd cannot run here (no PPP in the kernel), exits, and xl2tpd clears the call with a
CDN (Result Code 1) while the tunnel stays: the generator counts those CDNs, they are part of the
result. lnsd runs PPP itself in user space and keeps the session (LCP sending Configure-Requests
into the generator, which does not answer them) for the hold.

Bounded: every generator run has a deadline (the generator's own, and a wait of deadline + 30 s
here), the lab goes down whatever happens (with-block), processes are stopped by process group.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import yaml

from .. import lab as L
from .. import procs
from .. import topology as T
from ..control_api import request
from ..dialout_lab import lnsd_argv
from ..wait import WaitTimeout, wait_for

LNS_ADDR = "198.51.100.1"
PORT = 1701
XL2TPD = "/usr/sbin/xl2tpd"
GENERATOR = "scenarios/loadgen/dl_loadgen"       # in the build directory
LNS_KINDS = ("xl2tpd", "lnsd")
HOSTNAME = "loadgen-lac"
# The Receive Window Size both LNSs advertise (RFC 2661 §5.8): xl2tpd's default is 4 (DEFAULT_RWS_SIZE,
# l2tp.h), lnsd's 16; a sessions step puts many ICRQ/ICCN in flight on one tunnel.
RECEIVE_WINDOW = 64
# The ramp goes on while a step sets up at least this share of its tunnels within the step deadline.
RAMP_SUCCESS = 0.99


def lac_addresses(n: int) -> list[str]:
    """The generator's source addresses on the link: 198.51.100.10, .11, … (n of them, 1..100)."""
    if not 1 <= n <= 100:
        raise ValueError(f"--binds {n}: must be 1..100")
    return [f"198.51.100.{10 + i}" for i in range(n)]


def topology(binds: int) -> T.Topology:
    """Two namespaces on one link: `lns` (LNS_ADDR) and `lac` (the generator's addresses)."""
    return T.parse({
        "name": "compare-lns", "description": "one LNS under test and the incoming-call load generator",
        "hosts": {"lns": {}, "lac": {}},
        "links": [{"name": "wire", "ends": {"lns": f"{LNS_ADDR}/24",
                                            "lac": [f"{a}/24" for a in lac_addresses(binds)]}}]})


# ----- the two LNSs -----

def xl2tpd_conf(run: Path, window: int = RECEIVE_WINDOW) -> str:
    """xl2tpd.conf(5) for the comparison: listening on LNS_ADDR, any LAC (`access control = no`), no
    tunnel authentication, `assign ip = no` (an `ip range` would refuse an ICRQ once its addresses are
    taken: "No available IP address", control.c ICRQ), the tunnel receive window `window`, pppd's
    options file with `noauth`. xl2tpd has no tunnel or call limit to raise (no such key in file.c's
    keyword table), nor a Hello interval (HELLO_DELAY, 60 s, l2tp.h)."""
    return f"""[global]
listen-addr = {LNS_ADDR}
port = {PORT}
force userspace = yes
access control = no
auth file = {run / 'xl2tpd-secrets'}

[lns default]
assign ip = no
hostname = xl2tpd-lns
require authentication = no
challenge = no
length bit = yes
tunnel rws = {window}
pppoptfile = {run / 'xl2tpd-options'}
"""


def lnsd_conf(binds: list[str], window: int = RECEIVE_WINDOW) -> dict:
    """lnsd's configuration for the comparison: the generator's addresses listed as peers (no secret),
    every limit a peer can reach set to 0 (no limit, docs/lnsd.md "Limits") or its maximum, incoming
    calls run PPP without authentication (LCP from the start: the generator sends no proxy LCP)."""
    return {
        "local-address": LNS_ADDR, "port": PORT, "hostname": "lnsd-lns", "receive-window": window,
        "peers": [{"address": a} for a in binds],
        "limits": {"tunnels": 0, "tunnels-per-peer": 0, "tunnels-setup": 0, "tunnels-setup-per-peer": 0,
                   "sccrq-rate": 0, "sessions-setup-per-tunnel": 0, "send-queue": 0},
        "virtual-routers": [{"name": "default", "tun": "dlo0", "nas-ip-address": LNS_ADDR}],
        "ppp-profiles": {"cmp": {"local-address": "198.18.0.1"}},
        "incoming": {"virtual-router": "default", "profile": "cmp", "authentication": "none",
                     "mode": "lcp-renegotiation"},
        "events-flush": "loop", "shutdown-wait": "1s"}


class Lns:
    """One LNS under test in the lab's `lns` host: start() it fresh, ask what it held() by its own
    count, stop() it (by process group)."""
    name = ""

    def __init__(self, lab: L.Lab, bdir: Path, binds: list[str]):
        self.lab, self.bdir, self.binds = lab, bdir, binds
        self.proc: procs.Tracked | None = None
        self.starts = 0

    def start(self) -> procs.Tracked:
        raise NotImplementedError

    def held(self) -> dict:
        """What the LNS says it holds now: {"tunnels": n, "sessions": n, …}."""
        return {}

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop(self.proc)
            self.lab.procs.remove(self.proc)
            self.proc = None

    def _wait_bound(self) -> None:
        p = self.proc

        def bound():
            if not p.alive():
                raise L.LabError(f"{p.name} exited before binding UDP {PORT}:\n{p.log_text()[-2000:]}")
            out = self.lab.exec("lns", ["ss", "-H", "-uln", f"sport = :{PORT}"], check=False).stdout
            return bool(out.strip())
        wait_for(bound, 10.0, f"{p.name} bound to UDP {PORT}")


class Xl2tpdLns(Lns):
    """Debian's xl2tpd as LNS (xl2tpd_conf)."""
    name = "xl2tpd"

    def start(self):
        run = self.lab.run_dir
        self.starts += 1
        secrets = run / "xl2tpd-secrets"
        secrets.write_text("* * unused\n")
        secrets.chmod(0o600)
        (run / "xl2tpd-options").write_text("noauth\n")
        (run / "xl2tpd.conf").write_text(xl2tpd_conf(run))
        self.control = run / f"xl2tpd-{self.starts}.control"
        self.proc = self.lab.start(f"xl2tpd-{self.starts}", "lns", [XL2TPD, "-D", "-c", str(run / "xl2tpd.conf"),
                                   "-p", str(run / f"xl2tpd-{self.starts}.pid"), "-C", str(self.control)])
        self._wait_bound()
        return self.proc

    def held(self):
        """xl2tpd's own counts (`tunnels count=`, `calls count=`) and `tunnels_sharing_an_id`: tunnels
        whose Tunnel ID (`ourtid`) another tunnel also has (new_tunnel in xl2tpd.c draws it at random
        and no longer checks it is free; get_call in call.c gives a packet to the first tunnel of
        the list with that ID, the newest), so `reachable` (distinct Tunnel IDs) is what it can serve."""
        try:
            text = self.available()
        except Exception as e:  # noqa: BLE001 - a figure, not the outcome (xl2tpd too busy to answer)
            return {"error": str(e)}
        out, ids = {}, {}
        for line in text.splitlines():
            if "tunnels count=" in line:
                out["tunnels"] = int(line.rsplit("=", 1)[1])
            elif "calls count=" in line:
                out["sessions"] = int(line.rsplit("=", 1)[1])
            elif " ourtid " in line:
                tid = int(line.split(" ourtid ")[1].split()[0])
                ids[tid] = ids.get(tid, 0) + 1
        out["tunnels_sharing_an_id"] = sum(n for n in ids.values() if n > 1)
        out["reachable"] = len(ids)   # one tunnel per Tunnel ID gets its packets
        return out

    def available(self, within: float = 60.0) -> str:
        """The text xl2tpd answers to `x` (available): one line per tunnel (`id`, `ourtid`, calls), then the
        tunnel and call counts."""
        self.queries = getattr(self, "queries", 0) + 1
        fifo = self.lab.run_dir / f"xl2tpd-{self.starts}-{self.queries}.result"
        os.mkfifo(fifo)
        rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            wfd = os.open(self.control, os.O_WRONLY | os.O_NONBLOCK)
            try:
                os.write(wfd, f"@{fifo} x\n".encode())
            finally:
                os.close(wfd)
            got = bytearray()

            def done():   # everything readable now; True at the end of the answer (EOF after its last line)
                while True:
                    try:
                        chunk = os.read(rfd, 1 << 16)
                    except BlockingIOError:
                        return False
                    if not chunk:
                        return b"calls count=" in got
                    got.extend(chunk)
            wait_for(done, within, "xl2tpd's answer to `x` (available)", interval=0.005)
            return got.decode(errors="replace")
        finally:
            os.close(rfd)
            fifo.unlink(missing_ok=True)


class LnsdLns(Lns):
    """This project's lnsd (lnsd_conf)."""
    name = "lnsd"

    def start(self):
        run = self.lab.run_dir
        self.starts += 1
        cfg = run / "lnsd-compare.yaml"
        cfg.write_text(yaml.safe_dump(lnsd_conf(self.binds)))
        self.sock = run / f"lnsd-{self.starts}.sock"
        self.proc = self.lab.start(f"lnsd-{self.starts}", "lns", lnsd_argv(self.bdir, "--config", str(cfg), "--control",
                                                                      str(self.sock)), ready="lnsd ready")
        return self.proc

    def held(self):
        """Established tunnels and sessions of `show l2tp` (lnsd's control API: `tunnels-established`,
        `sessions`)."""
        try:
            sysinfo = request(str(self.sock), "show l2tp", timeout=30.0)["system"]
        except Exception as e:  # noqa: BLE001 - a figure, not the outcome
            return {"error": str(e)}
        return {"tunnels": sysinfo["tunnels-established"], "sessions": sysinfo["sessions"]}


LNS_CLASSES = {"xl2tpd": Xl2tpdLns, "lnsd": LnsdLns}


# ----- measuring -----

def group_stats(pgid: int) -> dict:
    """CPU time (s) and memory (KiB) of a process group, from /proc (proc(5)): `cpu_s` = utime + stime
    of every live member + cutime + cstime of every member (children it has reaped, e.g. xl2tpd's
    pppds); `rss_kib` / `hwm_kib` = the leader's VmRSS / VmHWM (the LNS itself); `group_rss_kib` = the
    VmRSS of every live member (xl2tpd's pppds of the moment included); `procs` = live members."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu, group_rss, n, rss, hwm = 0, 0, 0, 0, 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid or fields[0] == "Z":
                continue
            cpu += sum(int(x) for x in fields[11:15])
            n += 1
            with open(f"/proc/{d}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        group_rss += int(line.split()[1])
                        if int(d) == pgid:
                            rss = int(line.split()[1])
                    elif line.startswith("VmHWM:") and int(d) == pgid:
                        hwm = int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return {"cpu_s": cpu / tick, "rss_kib": rss, "hwm_kib": hwm, "group_rss_kib": group_rss, "procs": n}


def generator_argv(gen: Path, binds: list[str], tunnels: int, sessions: int, rate: float, window: int,
                   hold: float, deadline: float, out: Path) -> list[str]:
    """dl_loadgen's `incoming` command line (scenarios/loadgen, `dl_loadgen incoming --help`): `tunnels`
    tunnels, `sessions` calls on each (0: tunnels only), `rate` new units (sessions, or tunnels when
    `sessions` is 0) per second (0: as fast as `window` set-ups in flight allow), held `hold` s."""
    argv = [str(gen), "incoming", "--lns", LNS_ADDR, "--port", str(PORT)]
    for b in binds:
        argv += ["--bind", b]
    return argv + ["--tunnels", str(tunnels), "--sessions-per-tunnel", str(sessions), "--rate", f"{rate:g}",
                   "--window", str(window), "--hold", f"{hold:g}", "--hostname", HOSTNAME,
                   "--deadline", f"{deadline:g}", "--json", str(out)]


PROGRESS = re.compile(r"\[\s*([0-9.]+)s\] established (\d+)/(\d+) failed (\d+)")


def setup_done(log: str) -> bool:
    """The generator's last progress line says every unit is established or failed."""
    m = PROGRESS.findall(log[-4000:])
    return bool(m) and int(m[-1][1]) + int(m[-1][3]) >= int(m[-1][2])


def rate_to_last_established(j: dict, log: str) -> float | None:
    """Units set up per second up to the last one set up. The generator's own rate divides by the
    time to the last unit settled, failures included (a set-up that times out ends the run late);
    when some failed, the time is that of the first progress line (one a second) showing the final
    count, so the rate is a lower bound (the line's resolution: 1 s)."""
    if not j.get("established"):
        return None
    if not j.get("failed"):
        return round(j.get("setup_rate_per_s") or 0, 1)
    for t, est, _, _ in PROGRESS.findall(log):
        if int(est) >= j["established"]:
            return round(j["established"] / float(t), 1)
    return None


def gen_figures(j: dict, log: str = "") -> dict:
    """What the comparison reads from the generator's JSON result: tunnels and sessions requested and
    set up (a session when its ICCN is sent, a tunnel at its SCCCN), the set-up rate of the run's unit
    (sessions per second, or tunnels when there are no sessions: rate_to_last_established; the
    generator's own as `generator_rate_per_s`), and what the LNS sent (`received`: messages by type,
    e.g. SCCRP, ICRP, CDN, StopCCN, ZLB). `log`: the generator's output (its progress lines)."""
    msgs = j.get("messages", {})
    return {"unit": j.get("unit"), "tunnels_up": j.get("tunnels", {}).get("established", 0),
            "tunnels_failed": j.get("tunnels", {}).get("failed", 0),
            "sessions_up": j.get("sessions", {}).get("established", 0),
            "failed": j.get("failed", 0), "failures": j.get("failures", {}),
            "cleared_after_setup": j.get("dropped_after_established", 0),
            "setup_s": j.get("setup_s"), "generator_rate_per_s": round(j.get("setup_rate_per_s") or 0, 1),
            "rate_per_s": rate_to_last_established(j, log),
            "deadline_hit": j.get("deadline_hit"), "received": msgs.get("received", {}),
            "sent": msgs.get("sent", {}), "retransmitted": msgs.get("retransmitted", 0),
            "setup_ms": (j.get("sessions") if j.get("unit") == "session" else j.get("tunnels", {})).get("setup_ms")}


def run_step(lab: L.Lab, lns: Lns, gen: Path, tunnels: int, sessions: int, rate: float, window: int,
             hold: float, deadline: float, tag: str, say=print) -> dict:
    """One generator run against a freshly started `lns`. The LNS's CPU and memory are sampled before
    the load and once the set-up is over (the generator's progress line says every unit is settled;
    at its exit if it never says so), then, during the hold, what the LNS says it holds."""
    proc = lns.start()
    try:
        before = group_stats(proc.pgid)
        out = lab.run_dir / f"loadgen-{lns.name}-{tag}.json"
        argv = generator_argv(gen, lns.binds, tunnels, sessions, rate, window, hold, deadline, out)
        g = lab.start(f"loadgen-{lns.name}-{tag}", "lac", argv)
        seen: dict = {"peak_rss_kib": before["rss_kib"], "peak_procs": before["procs"]}

        def finished():   # (wait_for takes a predicate's exception for "not yet": a death is noted instead)
            if not proc.alive():
                seen["died"] = True
                return True
            s = group_stats(proc.pgid)
            seen["peak_rss_kib"] = max(seen["peak_rss_kib"], s["rss_kib"])
            seen["peak_procs"] = max(seen["peak_procs"], s["procs"])
            if "setup" not in seen and g.alive() and setup_done(g.log_text()):
                seen["setup"] = s
                seen["held"] = lns.held()
            return not g.alive()
        try:
            wait_for(finished, deadline + 30.0, f"dl_loadgen ({tag}) against {lns.name} to finish")
        except WaitTimeout:
            procs.stop(g)
            raise L.LabError(f"dl_loadgen ({tag}) against {lns.name} overran its deadline; "
                             f"output:\n{g.log_text()[-2000:]}") from None
        if seen.get("died"):
            procs.stop(g)
            raise L.LabError(f"{lns.name} exited during the load ({tag}):\n{proc.log_text()[-2000:]}")
        after = seen.get("setup") or group_stats(proc.pgid)
        code = g.popen.wait() if g.popen else None
        lab.procs.remove(g)
        try:
            j = json.loads(out.read_text())
        except (OSError, ValueError) as e:
            raise L.LabError(f"dl_loadgen ({tag}) wrote no JSON result ({e}); exit {code}; "
                             f"output:\n{g.log_text()[-2000:]}") from None
        r = {"lns": lns.name, "tag": tag, "offered": {"tunnels": tunnels, "sessions_per_tunnel": sessions,
                                                       "rate": rate, "window": window, "hold_s": hold},
             "generator_exit": code, **gen_figures(j, g.log_text()), "held": seen.get("held"),
             "sampled_at": "set-up over" if "setup" in seen else "generator exit",
             "cpu_s": round(after["cpu_s"] - before["cpu_s"], 3),
             "rss_before_kib": before["rss_kib"], "rss_after_setup_kib": after["rss_kib"],
             "rss_peak_kib": seen["peak_rss_kib"], "hwm_kib": after["hwm_kib"],
             "group_rss_after_setup_kib": after["group_rss_kib"], "procs_peak": seen["peak_procs"], "generator": j}
        up_t, up_s = r["tunnels_up"], r["sessions_up"]
        grown = max(0, r["rss_after_setup_kib"] - r["rss_before_kib"])
        r["cpu_ms_per_tunnel"] = round(1000 * r["cpu_s"] / up_t, 3) if up_t else None
        r["cpu_ms_per_session"] = round(1000 * r["cpu_s"] / up_s, 3) if up_s else None
        r["rss_kib_per_tunnel"] = round(grown / up_t, 3) if up_t else None
        r["rss_kib_per_session"] = round(grown / up_s, 3) if up_s else None
        unit = "sessions" if sessions else "tunnels"
        say(f"  {lns.name:7} {tag:16} {unit} {up_s if sessions else up_t}/{tunnels * max(1, sessions)} at "
            f"{r['rate_per_s']}/s; CDN {r['received'].get('CDN', 0)} StopCCN {r['received'].get('StopCCN', 0)}; "
            f"cpu {r['cpu_s']} s; rss +{grown} KiB; holds {r['held']}")
        return r
    finally:
        lns.stop()


def ramp(lab: L.Lab, lns: Lns, gen: Path, start: int, maximum: int, window: int, hold: float,
         deadline: float, say=print) -> dict:
    """Tunnels only (no session), as fast as `window` set-ups in flight allow, doubled from `start`
    up to `maximum` until a step sets up fewer than RAMP_SUCCESS of them or the generator's
    `deadline` (s) passes; returns ramp_summary (the largest number of tunnels held, …)."""
    steps, t = [], start
    while True:
        r = run_step(lab, lns, gen, t, 0, 0.0, window, hold, deadline, f"ramp-{t}", say)
        steps.append(r)
        if not _ok(r) or t >= maximum:
            break
        t = min(maximum, 2 * t)
    return ramp_summary(steps, maximum)


def _ok(step: dict) -> bool:
    """A ramp step that set up at least RAMP_SUCCESS of its tunnels before its deadline."""
    return step["tunnels_up"] >= RAMP_SUCCESS * step["offered"]["tunnels"] and not step["deadline_hit"]


def ramp_summary(steps: list[dict], maximum: int) -> dict:
    """The ramp's result from its steps: the largest number of tunnels held at once among the steps
    that passed (_ok; among all when none did), a step's holding being the smaller of the generator's
    count and the LNS's own during the hold (for xl2tpd the tunnels it can reach, one per distinct
    Tunnel ID: Xl2tpdLns.held); the rate, CPU and memory per tunnel of that step; why the ramp stopped."""
    def held(s):
        h = s["held"] or {}
        own = h.get("reachable", h.get("tunnels"))
        return min(s["tunnels_up"], own) if own is not None else s["tunnels_up"]
    best = max([s for s in steps if _ok(s)] or steps, key=held)
    last = steps[-1]
    return {"steps": steps, "largest_tunnels_held": held(best), "at_step": best["tag"],
            "set_up_there": best["tunnels_up"], "lns_count_there": best["held"],
            "tunnels_per_s": best["rate_per_s"],
            "rss_kib_per_tunnel": best["rss_kib_per_tunnel"], "cpu_ms_per_tunnel": best["cpu_ms_per_tunnel"],
            "stopped_by": "the maximum" if last["offered"]["tunnels"] >= maximum and _ok(last)
                          else f"{last['offered']['tunnels']}: {last['tunnels_up']} set up"
                               + (", deadline" if last["deadline_hit"] else "")}


def build_dir() -> Path:
    """The build directory holding lnsd and dl_loadgen: $DL_BUILD_DIR, else build/."""
    bdir = Path(os.environ.get("DL_BUILD_DIR") or L.REPO / "build")
    if not (bdir / "lns/lnsd/lnsd").exists():
        raise L.LabError(f"lnsd not built in {bdir}: ci/build lnsd")
    return bdir


def generator_path(bdir: Path) -> Path:
    g = bdir / GENERATOR
    if not g.exists():
        raise L.LabError(f"dl_loadgen not built ({g}): ci/build dl_loadgen")
    return g


def run_compare(rates: list[float], tunnels: int = 1000, sessions: int = 10, sessions_total: int = 200,
                hold: float = 3.0, window: int = 256, binds: int = 4, ramp_start: int = 2000, ramp_max: int = 64000,
                step_deadline: float = 120.0,
                kinds: tuple[str, ...] = LNS_KINDS, do_ramp: bool = True, say=print) -> dict:
    """The whole comparison (module docstring); also written to the run folder as compare-lns.json.
    Per LNS and offered rate R: a tunnels step (`tunnels` tunnels, no session, R tunnels/s) and a
    sessions step (sessions_total // sessions tunnels × `sessions` calls, R sessions/s); then the ramp.
    Raises L.LabError when the lab cannot come up, an LNS dies or the generator overruns."""
    bdir = build_dir()
    gen = generator_path(bdir)
    if "xl2tpd" in kinds and not os.path.exists(XL2TPD):
        raise L.LabError("xl2tpd is not installed (Debian package xl2tpd)")
    addrs = lac_addresses(binds)
    lab = L.Lab(topology(binds), capture=False)
    result: dict = {"offered": {"rates": rates, "tunnels": tunnels, "sessions_per_tunnel": sessions,
                                "sessions": max(1, sessions_total // max(1, sessions)) * sessions,
                                "hold_s": hold, "window": window, "binds": binds, "step_deadline_s": step_deadline,
                                "ramp": {"start": ramp_start, "max": ramp_max} if do_ramp else None},
                    "loadavg_start": Path("/proc/loadavg").read_text().strip(), "lns": {}}
    with lab:
        result["run_dir"] = str(lab.run_dir)
        say(f"lab {lab.runid} up; run folder {lab.run_dir}")
        for kind in kinds:
            lns = LNS_CLASSES[kind](lab, bdir, addrs)
            out: dict = {"rate_steps": []}
            for rate in rates:
                t = run_step(lab, lns, gen, tunnels, 0, rate, window, hold, step_deadline, f"tunnels@{rate:g}", say)
                s = run_step(lab, lns, gen, max(1, sessions_total // max(1, sessions)), sessions, rate, window, hold,
                             step_deadline, f"sessions@{rate:g}", say) if sessions else None
                out["rate_steps"].append({"rate": rate, "tunnels": t, "sessions": s})
            if do_ramp:
                out["ramp"] = ramp(lab, lns, gen, ramp_start, ramp_max, window, hold, step_deadline, say)
            result["lns"][kind] = out
    result["loadavg_end"] = Path("/proc/loadavg").read_text().strip()
    result["ratios"] = ratios(result)
    (Path(result["run_dir"]) / "compare-lns.json").write_text(json.dumps(result, indent=1))
    return result


def _ratio(a, b):
    return round(a / b, 1) if a and b else None


def _fig(step: dict | None, key: str):
    return None if step is None else step.get(key)


def ratios(r: dict) -> dict:
    """lnsd / xl2tpd for the set-up rates (the best of the rate steps) and the largest number of
    tunnels held; xl2tpd / lnsd for CPU and memory per tunnel and per session (of the last rate step),
    so that > 1 always means lnsd does better."""
    x, n = r["lns"].get("xl2tpd"), r["lns"].get("lnsd")
    if not x or not n:
        return {}

    def best(d, kind):
        return max((_fig(s[kind], "rate_per_s") or 0 for s in d["rate_steps"]), default=0)
    out = {"tunnels_per_s": _ratio(best(n, "tunnels"), best(x, "tunnels")),
           "sessions_per_s": _ratio(best(n, "sessions"), best(x, "sessions"))}
    xs, ns = x["rate_steps"][-1], n["rate_steps"][-1]
    for kind, key in (("tunnels", "cpu_ms_per_tunnel"), ("sessions", "cpu_ms_per_session"),
                      ("tunnels", "rss_kib_per_tunnel"), ("sessions", "rss_kib_per_session")):
        out[f"{key}_xl2tpd_over_lnsd"] = _ratio(_fig(xs[kind], key), _fig(ns[kind], key))
    if x.get("ramp") and n.get("ramp"):
        out["largest_tunnels_held"] = _ratio(n["ramp"]["largest_tunnels_held"], x["ramp"]["largest_tunnels_held"])
    return out


def format_table(r: dict) -> str:
    """The side-by-side table of one run_compare result (the ratio column: lnsd / xl2tpd for rates and
    counts, xl2tpd / lnsd for costs)."""
    kinds = list(r["lns"])
    two = kinds == ["xl2tpd", "lnsd"]
    rows: list[tuple[str, ...]] = [("", *kinds, "ratio" if two else "")]

    def row(label, vals, cost=False):
        ratio = ""
        if two:
            ratio = str(_ratio(vals[0], vals[1]) if cost else _ratio(vals[1], vals[0]))
        rows.append((label, *("-" if v is None else str(v) for v in vals), ratio))
    o = r["offered"]
    for i, st in enumerate(r["lns"][kinds[0]]["rate_steps"]):
        rate = st["rate"]
        steps = [r["lns"][k]["rate_steps"][i] for k in kinds]
        offered = f"{rate:g}/s" if rate else "as fast as the set-ups in flight allow"
        rows.append((f"offered {offered}", *("" for _ in kinds), ""))
        t = [s["tunnels"] for s in steps]
        row(f"  tunnels set up / s ({o['tunnels']} tunnels)", [x["rate_per_s"] for x in t])
        rows.append(("    tunnels set up", *(f"{x['tunnels_up']}/{o['tunnels']}" for x in t), ""))
        row("    LNS CPU ms per tunnel", [x["cpu_ms_per_tunnel"] for x in t], cost=True)
        row("    LNS RSS KiB per tunnel", [x["rss_kib_per_tunnel"] for x in t], cost=True)
        if all(s["sessions"] for s in steps):
            ss = [s["sessions"] for s in steps]
            row(f"  sessions set up / s ({ss[0]['offered']['tunnels']} x {o['sessions_per_tunnel']})",
                [x["rate_per_s"] for x in ss])
            rows.append(("    sessions set up (ICCN sent) / then cleared by the LNS (CDN)",
                         *(f"{x['sessions_up']} / {x['cleared_after_setup']}" for x in ss), ""))
            rows.append(("    sessions the LNS holds in the hold",
                         *(str((x["held"] or {}).get("sessions")) for x in ss), ""))
            row("    LNS CPU ms per session", [x["cpu_ms_per_session"] for x in ss], cost=True)
            row("    LNS RSS KiB per session", [x["rss_kib_per_session"] for x in ss], cost=True)
    if all(r["lns"][k].get("ramp") for k in kinds):
        rp = [r["lns"][k]["ramp"] for k in kinds]
        row("largest number of tunnels held", [x["largest_tunnels_held"] for x in rp])
        rows.append(("  tunnels offered / set up there", *(f"{x['at_step'].split('-')[-1]} / {x['set_up_there']}"
                                                           for x in rp), ""))
        rows.append(("  the LNS's own count there",
                     *(", ".join(f"{k} {v}" for k, v in (x["lns_count_there"] or {}).items()) for x in rp), ""))
        rows.append(("  ramp stopped by", *(x["stopped_by"] for x in rp), ""))
        row("  tunnels set up / s there", [x["tunnels_per_s"] for x in rp])
        row("  LNS RSS KiB per tunnel there", [x["rss_kib_per_tunnel"] for x in rp], cost=True)
        row("  LNS CPU ms per tunnel there", [x["cpu_ms_per_tunnel"] for x in rp], cost=True)
    rows.append(("/proc/loadavg at start | end", r["loadavg_start"], r["loadavg_end"], ""))
    w = [max(len(x[i]) for x in rows) for i in range(len(rows[0]))]
    return "\n".join("  " + "  ".join(c.ljust(w[i]) for i, c in enumerate(x)).rstrip() for x in rows)


def run(a) -> int:
    """`./lab bench compare-lns` entry point (cli/main.py): 1 when lnsd (if compared) did not set up
    every tunnel and session offered in its rate steps, else 0 (xl2tpd's failures are figures)."""
    say = (lambda *x: None) if a.json else print
    rates = [float(x) for x in a.rates.split(",")]
    kinds = tuple(a.lns.split(","))
    if not kinds or any(k not in LNS_CLASSES for k in kinds) or any(r < 0 for r in rates):
        print(f"lab: --lns takes {', '.join(LNS_KINDS)} (comma-separated), --rates rates >= 0", file=sys.stderr)
        return 2
    r = run_compare(rates, tunnels=a.cmp_tunnels, sessions=a.sessions_per_tunnel, sessions_total=a.sessions_per_step,
                    hold=a.hold, window=a.in_flight, binds=a.binds, ramp_start=a.ramp_start, ramp_max=a.ramp_max,
                    step_deadline=a.step_deadline, kinds=kinds, do_ramp=not a.no_ramp, say=say)
    if a.json:
        print(json.dumps(r, indent=1))
    else:
        print(format_table(r))
        print(f"JSON: {r['run_dir']}/compare-lns.json")
    ok = all(s["tunnels"]["tunnels_up"] == s["tunnels"]["offered"]["tunnels"]
             and (not s["sessions"] or s["sessions"]["sessions_up"] == s["sessions"]["offered"]["tunnels"] *
                  s["sessions"]["offered"]["sessions_per_tunnel"])
             for s in r["lns"].get("lnsd", {}).get("rate_steps", []))
    return 0 if ok else 1
