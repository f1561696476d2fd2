"""A running lab: namespaces, links, addresses, routes, RADIUS servers and processes of a topology.

Use as a context manager so teardown happens on success, failure and Ctrl-C::

    with Lab(topology.load("scenarios/topologies/default.yaml")) as lab:
        lab.exec("home", ["ping", "-c1", "203.0.113.1"])

Every run registers itself in /run/dlab/<runid>.json before it creates anything, with the pid and
the start time (/proc) of the process that owns it; a later `Lab.up()` removes runs whose owner is
gone (stale: no such pid, or the pid now names another process), and `teardown_all()` removes
every dl-* namespace and every process the registry names. $DLAB_SESSION, when set (`./lab test`
sets it), is recorded too, so whoever set it can remove exactly its own leftovers
(`teardown_session`).
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

from . import freeradius, netns, procs
from .topology import Topology
from .wait import wait_for

REGISTRY = Path(os.environ.get("DLAB_REGISTRY", "/run/dlab"))
REPO = Path(__file__).resolve().parents[3]
RUNS = Path(os.environ.get("DLAB_RUNS", REPO / "runs"))
SWITCH = "sw"


class LabError(RuntimeError):
    """The lab could not be brought up; the message says which step and why."""


def new_runid() -> str:
    return secrets.token_hex(3)


class Lab:
    """One run of a topology. `persistent=True` (./lab up) survives its owner process."""

    def __init__(self, topo: Topology, runid: str | None = None, persistent: bool = False,
                 run_dir: Path | None = None, radius_debug: bool = False, capture: bool = True,
                 radius_profile: str = "lab"):
        """`radius_profile`: a name of freeradius.PROFILES, how the FreeRADIUS servers are
        deployed ("lab", the default, is what the tests read: detail files, per-auth log lines);
        KeyError for another name."""
        self.topo = topo
        self.radius_profile = freeradius.PROFILES[radius_profile]
        self.runid = runid or new_runid()
        self.persistent = persistent
        self.run_dir = run_dir or RUNS / f"{time.strftime('%Y%m%d-%H%M%S')}-{self.runid}"
        self.radius_debug = radius_debug or os.environ.get("DLAB_RADIUS_DEBUG") == "1"
        self.capture = capture
        self.pcaps: dict[str, Path] = {}
        self.procs: list[procs.Tracked] = []
        self.namespaces: list[str] = []
        self.radius_conf: dict[str, Path] = {}
        self._up = False

    # ----- naming -----
    def ns(self, host: str) -> str:
        """Namespace of a host of this run."""
        if host != SWITCH and host not in self.topo.hosts:
            raise KeyError(f"no host {host!r} in topology {self.topo.name} (hosts: {', '.join(self.topo.hosts)})")
        return netns.ns_name(self.runid, host)

    @property
    def state_file(self) -> Path:
        return REGISTRY / f"{self.runid}.json"

    def _save_state(self) -> None:
        REGISTRY.mkdir(parents=True, exist_ok=True)
        state = {"runid": self.runid, "topology": self.topo.name,
                 "source": str(self.topo.source) if self.topo.source else None,
                 "owner_pid": os.getpid(), "owner_start": procs.start_time(os.getpid()),
                 "session": os.environ.get("DLAB_SESSION"), "persistent": self.persistent,
                 "run_dir": str(self.run_dir), "namespaces": self.namespaces,
                 "processes": [p.to_json() for p in self.procs], "started": time.time()}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.state_file)

    # ----- lifecycle -----
    def __enter__(self) -> "Lab":
        self.up()
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    def up(self) -> "Lab":
        """Create everything; on any error tear down what was made and raise LabError."""
        cleanup_stale()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._save_state()
        self._up = True
        try:
            self._build_network()
            if self.capture:
                self._start_captures()
            self._start_radius()
            self._start_processes()
        except BaseException as e:
            self.down()
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            raise LabError(f"lab {self.runid} ({self.topo.name}) failed to come up: {e}") from e
        return self

    def _create_ns(self, host: str, sysctls: dict[str, str] | None = None) -> str:
        name = netns.ns_name(self.runid, host)
        self.namespaces.append(name)
        self._save_state()
        netns.create(name, sysctls)
        return name

    def _build_network(self) -> None:
        t = self.topo
        for h in t.hosts.values():
            self._create_ns(h.name, h.sysctls)
        if any(lk.shared for lk in t.links):
            self._create_ns(SWITCH, {"net.ipv4.ip_forward": "0", **netns.bridge_netfilter_off()})
        sw = netns.ns_name(self.runid, SWITCH)
        for lk in t.links:
            hosts = list(lk.ends)
            if not lk.shared:
                a, b = hosts
                netns.veth(self.ns(a), lk.name, self.ns(b), lk.name)
            else:
                br = f"br-{lk.name}"
                netns.bridge(sw, br)
                for h in hosts:
                    port = f"{lk.name[:7]}.{h[:7]}"
                    netns.veth(self.ns(h), lk.name, sw, port)
                    netns.enslave(sw, port, br)
            for h, addrs in lk.ends.items():
                for a in addrs:
                    netns.addr_add(self.ns(h), lk.name, a)
        for h in t.hosts.values():
            for r in h.routes:
                netns.route_add(self.ns(h.name), r.to, r.via, r.dev)

    def _start_captures(self) -> None:
        """One tcpdump per link, writing <run>/pcaps/<link>.pcap: on the bridge of a shared link (sees
        every host on it), else on the first end's interface. Packet-buffered (-U) and in immediate
        mode (each packet handed over as it arrives, not when libpcap's 1 s TPACKET_V3 block times
        out) so a pcap is complete up to the last packet even while the lab runs (per-test cuts)."""
        pdir = self.run_dir / "pcaps"
        pdir.mkdir(parents=True, exist_ok=True)
        for lk in self.topo.links:
            host, dev = (SWITCH, f"br-{lk.name}") if lk.shared else (next(iter(lk.ends)), lk.name)
            out = pdir / f"{lk.name}.pcap"
            self.pcaps[lk.name] = out
            self.start(f"capture-{lk.name}", host,
                       ["tcpdump", "-n", "-U", "--immediate-mode", "-Z", "root", "-s", "0", "-i", dev,
                        "-w", str(out)],
                       ready="listening on")

    def _start_radius(self) -> None:
        for srv in self.topo.radius.values():
            confdir = freeradius.write_config(srv, self.run_dir / "radius", self.radius_profile)
            self.radius_conf[srv.name] = confdir
            self.start(f"radius-{srv.name}", srv.host,
                       freeradius.argv(confdir, self.radius_debug, self.radius_profile), ready=freeradius.READY_TEXT)

    def _start_processes(self) -> None:
        for p in self.topo.processes:
            argv = [a.format(run_dir=self.run_dir, repo=REPO, runid=self.runid) for a in p.argv]
            self.start(p.name, p.host, argv, ready=p.ready)

    def start(self, name: str, host: str, argv: list[str], ready: str | None = None,
              within: float = 20.0, stdin_pipe: bool = False, pass_fds: tuple[int, ...] = ()) -> procs.Tracked:
        """Start `argv` inside `host`'s namespace, tracked; if `ready` is given, wait until that
        text appears in its output (and fail with the output's tail if it exits first).
        `stdin_pipe` / `pass_fds` as for procs.start."""
        log = self.run_dir / "logs" / f"{name}.log"
        # The log is appended to when a process of the same name is started again (a restart):
        # readiness is judged on this process's output only, not on the last one's ready line.
        start_at = log.stat().st_size if log.exists() else 0

        def output() -> str:
            try:
                return log.read_bytes()[start_at:].decode(errors="replace")
            except OSError:
                return ""
        t = procs.start(name, host, netns.exec_argv(self.ns(host), argv), log, stdin_pipe=stdin_pipe,
                        pass_fds=pass_fds)
        self.procs.append(t)
        self._save_state()
        if ready:
            def is_ready() -> bool:
                if ready in output():
                    return True
                if not t.alive():
                    tail = "\n".join(output().splitlines()[-15:])
                    raise LabError(f"{name} exited (status {t.popen.poll() if t.popen else '?'}) "
                                   f"before it was ready:\n{tail}")
                return False
            try:
                wait_for(is_ready, within, f"{name} to print {ready!r}")
            except LabError:
                raise
            except Exception as e:  # WaitTimeout, possibly wrapping the LabError above
                last = getattr(e, "last", None)
                if isinstance(last, LabError):
                    raise last from None
                raise LabError(f"{e}\n--- {name} output ---\n{output()[-2000:]}") from None
        return t

    def down(self) -> None:
        """Stop every process (by process group), then delete every namespace. Idempotent."""
        for t in reversed(self.procs):
            procs.stop(t)
        for ns in reversed(self.namespaces):
            leftovers = netns.pids(ns) if ns in netns.list_lab_namespaces() else []
            if leftovers:
                procs.stop_pids(leftovers)
            netns.delete(ns)
        self.procs.clear()
        self.namespaces.clear()
        self.state_file.unlink(missing_ok=True)
        self._up = False

    # ----- using the lab -----
    def exec(self, host: str, argv: list[str], check: bool = True, timeout: float = 30.0,
             input: str | None = None) -> subprocess.CompletedProcess:
        """Run a command inside `host` and wait for it (bounded by `timeout` seconds)."""
        cp = subprocess.run(netns.exec_argv(self.ns(host), argv), capture_output=True, text=True,
                            timeout=timeout, input=input)
        if check and cp.returncode != 0:
            raise LabError(f"[{host}] {' '.join(argv)} exited {cp.returncode}:\n{cp.stdout}{cp.stderr}")
        return cp

    def ping(self, host: str, address: str, count: int = 1, wait: float = 1.0) -> bool:
        """True if `host` gets an ICMP echo reply from `address`."""
        cp = self.exec(host, ["ping", "-n", "-q", "-c", str(count), "-W", str(int(max(1, wait))), address],
                       check=False, timeout=count * wait + 5)
        return cp.returncode == 0

    def status(self) -> dict:
        """JSON-able state: namespaces, their interfaces/addresses, processes and whether alive."""
        hosts = {}
        for ns in self.namespaces:
            cp = subprocess.run(["ip", "-n", ns, "-j", "addr"], capture_output=True, text=True)
            try:
                ifs = json.loads(cp.stdout or "[]")
            except json.JSONDecodeError:
                ifs = []
            hosts[ns] = {i["ifname"]: [f"{a['local']}/{a['prefixlen']}" for a in i.get("addr_info", [])]
                         for i in ifs if i.get("ifname") != "lo"}
        return {"runid": self.runid, "topology": self.topo.name, "run_dir": str(self.run_dir),
                "namespaces": hosts,
                "processes": [{**p.to_json(), "alive": p.alive()} for p in self.procs]}


# ----- registry-wide operations -----
def registered_runs() -> list[dict]:
    runs = []
    if REGISTRY.is_dir():
        for f in sorted(REGISTRY.glob("*.json")):
            try:
                runs.append(json.loads(f.read_text()))
            except (OSError, json.JSONDecodeError):
                continue
    return runs


def teardown_state(state: dict) -> None:
    """Tear down a run described by its registry entry (processes by pgid, then namespaces). A
    recorded process whose pid now names another process (pid reused) is left alone."""
    for p in reversed(state.get("processes", [])):
        pgid = int(p.get("pgid", 0))
        if procs.same_process_alive(pgid, p.get("start_time")) or (
                p.get("start_time") is None and procs.pgid_alive(pgid)):
            procs.stop_group(pgid)
    prefix = netns.ns_name(state["runid"], "")
    for ns in netns.list_lab_namespaces():
        if ns.startswith(prefix):
            procs.stop_pids(netns.pids(ns))
            netns.delete(ns)
    (REGISTRY / f"{state['runid']}.json").unlink(missing_ok=True)


def owner_alive(state: dict) -> bool:
    """The run's owner process still runs (same pid and, when recorded, same start time)."""
    return procs.same_process_alive(int(state.get("owner_pid", 0)), state.get("owner_start"))


def cleanup_stale() -> list[str]:
    """Remove runs whose owner process is gone (unless persistent) and dl-* namespaces that no
    registered run claims. Returns the run ids / namespaces removed.

    The namespaces are listed before the registry is read: a run registers itself before it
    creates a namespace, so a namespace in the list belongs to a run the registry read after it
    shows (a run that is starting meanwhile is never mistaken for an orphan)."""
    removed = []
    namespaces = netns.list_lab_namespaces()
    claimed: set[str] = set()
    for st in registered_runs():
        if st.get("persistent") or owner_alive(st):
            claimed.add(netns.ns_name(st["runid"], ""))
            continue
        teardown_state(st)
        removed.append(st["runid"])
    live = set(netns.list_lab_namespaces())
    for ns in namespaces:
        if ns in live and not any(ns.startswith(c) for c in claimed) and not any(
                ns.startswith(netns.ns_name(r, "")) for r in removed):
            procs.stop_pids(netns.pids(ns))
            netns.delete(ns)
            removed.append(ns)
    return removed


def teardown_session(session: str) -> list[str]:
    """Remove every registered run recorded with DLAB_SESSION == `session` whose owner is gone
    (what `./lab test` does after its pytest exits, whatever way it exited). Runs of other
    sessions and runs whose owner still runs are left alone."""
    removed = []
    for st in registered_runs():
        if st.get("session") == session and not owner_alive(st):
            teardown_state(st)
            removed.append(st["runid"])
    return removed


def teardown_all() -> list[str]:
    """`./lab down --all`: every registered run and every dl-* namespace, whatever its owner."""
    removed = []
    for st in registered_runs():
        teardown_state(st)
        removed.append(st["runid"])
    for ns in netns.list_lab_namespaces():
        procs.stop_pids(netns.pids(ns))
        netns.delete(ns)
        removed.append(ns)
    return removed


def install_signal_teardown() -> None:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt so `with Lab(...)` blocks tear down."""
    def handler(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
