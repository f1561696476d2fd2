"""The default lab with the real daemons: lnsd in `lns` (real FreeRADIUS home and LNS servers of
scenarios/topologies/default.yaml), isdn-emu + lac-emu in `lac` and `lac2`, cpe-emu in `cpe`.
Shared by `./lab demo` and tests/conformance/dialout, so both run exactly the same set-up.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from . import procs
from . import topology as T
from .control_api import Daemon, request
from .lab import REPO, Lab
from .pppd_cpe import PppdCpe, PppdSite
from .wait import WaitTimeout, wait_for

KEY = "default/10.10.0.0/16/10.10.1.1"   # the dial-out session key of JunosE "L2TP Dial-Out"'s example
BINARIES = ("lns/lnsd/lnsd", "lns/lnsd/lnsctl", "peers/lac/lac-emu", "peers/isdn/isdn-emu", "peers/cpe/cpe-emu")


# What lnsd's environment gets in the lab: glibc's malloc backs its heap with transparent huge
# pages (the glibc >= 2.35 tunable `glibc.malloc.hugetlb=1`: madvise(MADV_HUGEPAGE) on the heap;
# an older glibc ignores it). A dial-out call's session state then costs 0.03-0.13 page faults, not
# ~2: ~11 % of lnsd's CPU per call at 2 000 calls/s on this machine (docs/lnsd.md "Memory and huge
# pages", docs/performance.md "Eleventh round"). $DLAB_LNSD_TUNABLES replaces it ("" for glibc's defaults).
LNSD_TUNABLES = "glibc.malloc.hugetlb=1"


def lnsd_argv(bdir: Path, *args: str, wrapper: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The command that starts lnsd from build folder `bdir` with `args`: `env GLIBC_TUNABLES=…`
    (LNSD_TUNABLES, or $DLAB_LNSD_TUNABLES), then `wrapper` (e.g. valgrind), then lnsd. env(1)
    execs, so the process started is lnsd itself (same pid)."""
    tunables = os.environ.get("DLAB_LNSD_TUNABLES", LNSD_TUNABLES)
    return ["env", f"GLIBC_TUNABLES={tunables}", *wrapper, str(bdir / "lns/lnsd/lnsd"), *args]


class NotBuilt(RuntimeError):
    """lnsd or an emulated peer is missing from every candidate build directory."""


@dataclass
class LabSpec:
    """How a test module's (or a scenario's) lab is built: the `lab` fixture of dlab.pytest_plugin
    (module marker `lab_config(**fields)`), dlab.scenario's `lab:` section, and open_lab() for a
    fixture of another scope or a second lab of a module. Data, plus hooks for what must run at a
    given point of the set-up.

    topology: fn(raw) editing the raw default.yaml dict; or a topology file (str / Path; a relative
      path is taken from the test module's folder, e.g. "topology.yaml" beside it); or a topology
      dict (dlab.topology format).
    configure: fn(configs) editing the daemons' configs in place (daemon_configs; a role set to None
      is not started, lnsd included).
    daemons: False starts no daemon at all (the module starts its own processes): only namespaces,
      links, captures and FreeRADIUS.
    hosts: role -> lab host, for a topology that puts a daemon elsewhere than daemon_configs'
      default (e.g. {"cpe": "lac"}).
    relays: fn(lab) -> context manager, entered after the namespaces are up and before any daemon
      starts (an address the daemons' configs name must answer from their start); what it yields
      is `lab.relays`; it is exited before the lab goes down.
    start: fn(lab), run after the daemons (a UML guest, a scripted process); may pytest.skip.
    scripted_radius: names of FreeRADIUS servers of the topology NOT to start: the scripted_radius
      fixture serves on their address, port and secret instead.
    capture: per-link tcpdump (and so the per-test pcaps the tshark judge reads).
    judge_from: IPv4 sources whose malformed packets / expert errors the tshark judge counts (a
      conformance suite's DUT, whose scripted peer sends malformed packets on purpose); None: all."""
    configure: Callable[[dict], None] | None = None
    topology: Callable[[dict], None] | str | Path | dict | None = None
    scripted_radius: tuple[str, ...] | list[str] = ()
    capture: bool = True
    daemons: bool = True
    hosts: dict[str, str] = field(default_factory=dict)
    relays: Callable[[Lab], Any] | None = None
    start: Callable[[Lab], None] | None = None
    judge_from: frozenset[str] | set[str] | None = None

    def topology_for(self, folder: Path | None = None) -> T.Topology:
        """The parsed topology; `folder` resolves a relative topology file."""
        if self.topology is None or callable(self.topology):
            return default_topology(configure=self.topology)
        if isinstance(self.topology, dict):
            return T.parse(copy.deepcopy(self.topology))
        path = Path(self.topology)
        if not path.is_absolute() and folder is not None:
            path = folder / path
        return T.load(path)


LNSD_CONFIG = {
    "local-address": "198.51.100.1",
    "hostname": "lns",
    "timers": {"hello": "60s", "retransmit": "1s"},
    # lnsd refuses SCCRQs from unlisted addresses and believes proxy authentication only from
    # LACs marked trusted (docs/lnsd.md "Safe defaults"): the lab's two LACs are both.
    "peers": [{"address": "198.51.100.2", "trusted": True}, {"address": "198.51.100.3", "trusted": True}],
    "virtual-routers": [{
        "name": "default", "tun": "dlo0", "nas-ip-address": "192.0.2.1",
        "radius": {"authentication": [{"address": "192.0.2.10", "secret": "home-secret"}]},
        "lns-radius": {"authentication": [{"address": "192.0.2.11", "secret": "lns-secret"}]},
    }, {
        # Second virtual router: same prefix, its own home RADIUS (192.0.2.12) and LAC (lac2).
        "name": "vr-b", "tun": "dlo1", "table": 100, "ingress-interfaces": ["leased-b"],
        "nas-ip-address": "192.0.2.1",
        "radius": {"authentication": [{"address": "192.0.2.12", "secret": "home-b-secret"}]},
        "lns-radius": {"authentication": [{"address": "192.0.2.11", "secret": "lns-secret"}]},
    }],
    "ppp-profiles": {"isdn": {"local-address": "198.18.0.1"}},
    "dialout": {
        "timers": {"trigger": "30s", "dormant": "5m"},
        "profiles": {"isdn": {"authentication": "chap", "keepalive": "0s"}},
        "targets": [{"virtual-router": "default", "prefix": "10.10.0.0/16", "domain": "L2TP-dial-out.de.dt",
                     "profile": "isdn", "route-distinguisher": "0.0.0.0:65000"},
                    {"virtual-router": "vr-b", "prefix": "10.10.0.0/16", "domain": "L2TP-dial-out.vr-b.example",
                     "profile": "isdn"}],
    },
}



def build_dir() -> Path:
    """The build directory holding lnsd and the peers: $DL_BUILD_DIR, else build/, else build-int/."""
    for d in [os.environ.get("DL_BUILD_DIR"), REPO / "build", REPO / "build-int"]:
        if d and all((Path(d) / p).exists() for p in BINARIES):
            return Path(d)
    raise NotBuilt("lnsd / lac-emu / isdn-emu / cpe-emu not built (run ci/build or set DL_BUILD_DIR)")


class Lnsd:
    """lnsd of a lab: its control socket `sock`, its JSON-lines event log `events` (both in the run
    folder, named after `name`: the process name, "lnsd" or "lnsd-<config>" after a restart) and
    its process `proc` (dlab.procs.Tracked, set by whoever starts it); `host`: the lab host it runs
    in (lnsctl runs there too)."""

    def __init__(self, lab, bdir: Path, name: str = "lnsd", host: str = "lns"):
        self.lab, self.bdir, self.name, self.host = lab, bdir, name, host
        self.sock = str(lab.run_dir / f"{name}.sock")
        self.events = lab.run_dir / f"{name}-events.jsonl"
        self.pppd = None   # dlab.pppd_cpe.PppdCpe when the topology says `cpe: pppd`
        self.proc: procs.Tracked | None = None

    def ctl(self, *words: str):
        cp = self.lab.exec(self.host, [str(self.bdir / "lns/lnsd/lnsctl"), "--socket", self.sock, "--json", *words],
                           timeout=10)
        return json.loads(cp.stdout)

    def event_list(self) -> list[dict]:
        if not self.events.exists():
            return []
        return [json.loads(ln) for ln in self.events.read_text().splitlines() if ln.strip()]



def site_destination(k: int) -> str:
    """The k-th generated remote site's trigger destination in the default target 10.10.0.0/16."""
    return f"10.10.{k}.1"


def site_key(k: int) -> str:
    """The dial-out session key of site k in the default virtual router (lnsctl / control API)."""
    return f"default/10.10.0.0/16/{site_destination(k)}"


def site_number(k: int) -> str:
    """Site k's ISDN number (ERX-Dial-Out-Number, the OCRQ Called Number): 55510kk."""
    return f"55510{k:02d}"


def build_dir_or_skip() -> Path:
    """For pytest fixtures of lab suites: build_dir(), or skip the test (pytest.skip) when not root
    (network namespaces need it) or when the daemons are not built."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    try:
        return build_dir()
    except NotBuilt as e:
        pytest.skip(str(e))


def daemon_configs(run: Path) -> dict[str, dict]:
    """The default configurations of every daemon of the dial-out lab, keyed by role: `isdn`, `lac`,
    `cpe` (the site of JunosE "L2TP Dial-Out"'s example) and `isdn2`, `lac2`, `cpe2` (vr-b's LAC and site), `lnsd` (a deep copy
    of LNSD_CONFIG). Paths (sockets, event logs) point into the run folder `run`."""
    isdn = {"socket": str(run / "isdn.sock"), "control": str(run / "isdn.ctl"),
            "events": str(run / "isdn-events.jsonl"), "numbers": {"5551001": {"behaviour": "answer"}}}
    # Tunnel secret = the Tunnel-Password the home server returns for this LAC.
    lac = {"listen": "198.51.100.2", "host_name": "lac", "secret": "lac-secret", "number": "1701",
           "channels": 4, "isdn": str(run / "isdn.sock"), "control": str(run / "lac.ctl"),
           "events": str(run / "lac-events.jsonl")}
    # The CPE answers 5551001 and authenticates the LNS with CHAP (ERX-PPP-Username/Password). Its
    # TUN cpe0 (created at IPCP up, 198.18.0.2/32) carries the home side's prefixes, so `remote`
    # (10.10.1.1, default route via cpe 10.10.1.254) answers `home` (203.0.113.10) over the dial-out.
    cpe = {"isdn": str(run / "isdn.sock"), "control": str(run / "cpe.ctl"),
           "events": str(run / "cpe-events.jsonl"),
           "sites": [{"number": "5551001", "name": "cpe-remote", "secret": "cpe-pass",
                      "require_auth": "chap", "users": {"lns-home": "lns-home-pass"},
                      "tun": {"name": "cpe0", "routes": ["203.0.113.0/24", "192.0.2.0/24"]}}]}
    # vr-b's LAC: lac2 with its own exchange; the CPE site 5552002 checks the LNS with PAP.
    isdn2 = {"socket": str(run / "isdn2.sock"), "control": str(run / "isdn2.ctl"),
             "events": str(run / "isdn2-events.jsonl"), "numbers": {"5552002": {"behaviour": "answer"}}}
    lac2 = {"listen": "198.51.100.3", "host_name": "lac2", "secret": "", "number": "1702", "channels": 4,
            "isdn": str(run / "isdn2.sock"), "control": str(run / "lac2.ctl"),
            "events": str(run / "lac2-events.jsonl")}
    cpe2 = {"isdn": str(run / "isdn2.sock"), "control": str(run / "cpe2.ctl"),
            "events": str(run / "cpe2-events.jsonl"),
            "sites": [{"number": "5552002", "name": "cpe-remote", "secret": "cpe-pass",
                       "require_auth": "pap", "users": {"lns-vr-b": "lns-vr-b-pass"}}]}
    return {"isdn": isdn, "lac": lac, "cpe": cpe, "isdn2": isdn2, "lac2": lac2, "cpe2": cpe2,
            "lnsd": copy.deepcopy(LNSD_CONFIG)}


# role -> (process name, lab host, binary, ready line); started in this order, lnsd last.
_DAEMONS = (("isdn", "isdn-emu", "lac", "peers/isdn/isdn-emu", "isdn-emu ready"),
            ("lac", "lac-emu", "lac", "peers/lac/lac-emu", "lac-emu ready"),
            ("cpe", "cpe-emu", "cpe", "peers/cpe/cpe-emu", "cpe-emu ready"),
            ("isdn2", "isdn-emu-2", "lac2", "peers/isdn/isdn-emu", "isdn-emu ready"),
            ("lac2", "lac-emu-2", "lac2", "peers/lac/lac-emu", "lac-emu ready"),
            ("cpe2", "cpe-emu-2", "cpe", "peers/cpe/cpe-emu", "cpe-emu ready"))


def start_daemons(lab: Lab, bdir: Path, configure: Callable[[dict[str, dict]], None] | None = None,
                  hosts: dict[str, str] | None = None) -> Lnsd | None:
    """Write the daemons' configs into the run folder and start them, each awaited on its ready line.

    `configure(configs)` may edit the default configurations (see daemon_configs) in place first,
    e.g. scaled-down dial-out timers or another exchange behaviour; a role whose config it sets to
    None is not started (lnsd too: then None is returned). `hosts` moves a role to another lab host
    (default: _DAEMONS).

    With the topology's `cpe: pppd` the sites of role `cpe` are answered by real pppd on a UML
    guest instead of cpe-emu (dlab.pppd_cpe; extra pppd options per number in role `pppd`); the
    returned Lnsd's `pppd` is then that PppdCpe (else None)."""
    run = lab.run_dir
    run.mkdir(parents=True, exist_ok=True)
    configs = daemon_configs(run)
    if configure is not None:
        configure(configs)
    pppd = None
    for role, *_ in _DAEMONS:
        if configs.get(role) is None:
            continue
        if role == "cpe" and getattr(lab.topo, "cpe", "emu") == "pppd":
            pppd = start_pppd_cpe(lab, bdir, configs)
            continue
        start_role(lab, bdir, role, configs[role], host=(hosts or {}).get(role))
    if configs.get("lnsd") is None:
        return None
    d = start_lnsd(lab, bdir, configs["lnsd"])
    d.pppd = pppd
    return d


def start_role(lab: Lab, bdir: Path, role: str, config: dict, host: str | None = None,
               name: str | None = None) -> procs.Tracked:
    """Start one emulated peer of _DAEMONS (`isdn`, `lac`, `cpe`, `isdn2`, `lac2`, `cpe2`) with
    `config` written to <run>/<name or role>.yaml, awaited on its ready line. `name` (a restart
    with another config) suffixes the process name: `lac-emu-<name>`."""
    _, proc_name, default_host, binary, ready = next(d for d in _DAEMONS if d[0] == role)
    path = lab.run_dir / f"{role}{'-' + name if name else ''}.yaml"
    path.write_text(yaml.safe_dump(config))
    return lab.start(f"{proc_name}-{name}" if name else proc_name, host or default_host,
                     [str(bdir / binary), "--config", str(path)], ready=ready)


def start_lnsd(lab: Lab, bdir: Path, config: dict, name: str = "lnsd", host: str = "lns") -> Lnsd:
    """Start lnsd in lab host `host` with `config` written to <run>/<name>.yaml, its control socket
    and event log named after `name` too; awaited on "lnsd ready"."""
    (lab.run_dir / f"{name}.yaml").write_text(yaml.safe_dump(config))
    d = Lnsd(lab, bdir, name, host)
    # $DLAB_LNSD_WRAPPER (blank-separated words) goes in front of lnsd's command, e.g.
    # "valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out" (`./lab bench dialout --profile
    # callgrind` sets it); the wrapper must exec lnsd in its own process, as valgrind does.
    wrapper = shlex.split(os.environ.get("DLAB_LNSD_WRAPPER", ""))
    d.proc = lab.start(name, host, lnsd_argv(bdir, "--config", str(lab.run_dir / f"{name}.yaml"), "--control", d.sock,
                                             "--events", str(d.events), wrapper=wrapper), ready="lnsd ready",
                       within=120.0 if wrapper else 20.0)
    return d


class DialoutLab(Lab):
    """The lab open_lab() builds: a dlab.lab.Lab plus the daemons of its LabSpec.

    `bdir` (build folder), `lnsd` (Lnsd or None), `configs` (role -> config as running),
    `daemons` (role -> control_api.Daemon client, event stream open), `relays` (what the spec's
    relays hook yielded), `spec`, `scripted_radius_servers` (the servers the scripted_radius
    fixture replaces)."""

    def __init__(self, topo: T.Topology, spec: LabSpec, **kwargs: Any):
        super().__init__(topo, **kwargs)
        self.spec = spec
        self.bdir: Path | None = None
        self.lnsd: Lnsd | None = None
        self.configs: dict[str, dict] = {}
        self.daemons: dict[str, Daemon] = {}
        self.relays: Any = None
        self.scripted_radius_servers: dict = {}
        self._role_procs: dict[str, procs.Tracked] = {}
        self._base: dict[str, dict] = {}

    def start_daemons(self) -> None:
        """The spec's daemons (start_daemons with its configure and hosts), their clients opened."""
        def configure(c: dict) -> None:
            if self.spec.configure is not None:
                self.spec.configure(c)
            self.configs.update({r: v for r, v in c.items() if v is not None})
        self.lnsd = start_daemons(self, self.bdir, configure=configure, hosts=self.spec.hosts)
        self._base = copy.deepcopy(self.configs)
        names = {role: name for role, name, *_ in _DAEMONS}
        for role in self.configs:
            if role in names:
                self._role_procs[role] = next((p for p in reversed(self.procs) if p.name == names[role]), None)
        if self.lnsd is not None:
            self._role_procs["lnsd"] = self.lnsd.proc
        for role in ("lnsd", *names):
            self._open_client(role)

    def _open_client(self, role: str) -> None:
        if role == "lnsd" and self.lnsd is not None:
            self.daemons["lnsd"] = Daemon(self.lnsd.sock, name="lnsd").subscribe()
        elif role in self.configs and "control" in self.configs[role] and self._role_procs.get(role) is not None:
            self.daemons[role] = Daemon(self.configs[role]["control"], name=role).subscribe()

    def close_clients(self) -> None:
        for d in self.daemons.values():
            d.close()
        self.daemons.clear()

    def restart(self, role: str, config: dict | Callable[[dict], dict | None] | None = None,
                name: str | None = None) -> Lnsd | procs.Tracked:
        """Stop `role`'s daemon (SIGTERM: lnsd sends StopCCN first) and start it again with another
        config: `config` a dict, or fn(copy of the module's config of that role) returning the new
        one or editing it in place; None: the module's own config again. `name` labels it: lnsd's
        files and process become lnsd-<name>.yaml / .sock / -events.jsonl (a fresh event log),
        a peer's <role>-<name>.yaml; default "r<N>". Returns the new Lnsd (also `lab.lnsd`) or the
        peer's Tracked process; `lab.configs[role]` and `lab.daemons[role]` follow."""
        if role not in self._base:
            raise ValueError(f"restart({role!r}): not a daemon this lab started (has: {', '.join(self._base)})")
        if config is None:
            new = copy.deepcopy(self._base[role])
        elif callable(config):
            new = copy.deepcopy(self._base[role])
            new = config(new) or new
        else:
            new = config
        name = name or f"r{len(self.procs)}"
        old = self._role_procs.get(role)
        if old is not None:
            procs.stop(old)
            if old in self.procs:
                self.procs.remove(old)
        client = self.daemons.pop(role, None)
        if client is not None:
            client.close()
        if role == "lnsd":
            self.lnsd = start_lnsd(self, self.bdir, new, name=f"lnsd-{name}")
            started: Lnsd | procs.Tracked = self.lnsd
            self._role_procs[role] = self.lnsd.proc
        else:
            started = self._role_procs[role] = start_role(self, self.bdir, role, new,
                                                          host=self.spec.hosts.get(role), name=name)
        self.configs[role] = new
        self._open_client(role)
        return started


@contextlib.contextmanager
def open_lab(spec: LabSpec, folder: Path | None = None) -> Iterator[DialoutLab]:
    """Build the lab `spec` declares and tear it down on exit: namespaces, links, captures,
    FreeRADIUS (without spec.scripted_radius), then spec.relays, the daemons (unless
    spec.daemons is False), spec.start. `folder` resolves a relative topology file (the test
    module's folder). Skips (pytest.skip) when not root, or when the daemons are not built and
    the spec starts them; pytest.UsageError on a scripted_radius name the topology lacks."""
    if spec.daemons:
        bdir = build_dir_or_skip()
    else:
        if os.geteuid() != 0:
            pytest.skip("network namespaces need root")
        try:
            bdir = build_dir()
        except NotBuilt:
            bdir = None
    topo = spec.topology_for(folder)
    missing = [n for n in spec.scripted_radius if n not in topo.radius]
    if missing:
        raise pytest.UsageError(f"lab_config(scripted_radius=...): no RADIUS server {missing} in the topology (has: {', '.join(topo.radius)})")
    scripted = {n: topo.radius.pop(n) for n in spec.scripted_radius}
    with DialoutLab(topo, spec, capture=spec.capture) as lb, contextlib.ExitStack() as stack:
        lb.bdir, lb.scripted_radius_servers = bdir, scripted
        if spec.judge_from is not None:
            lb.tshark_judge_from = set(spec.judge_from)
        if spec.relays is not None:
            lb.relays = stack.enter_context(spec.relays(lb))
        stack.callback(lb.close_clients)
        if spec.daemons:
            lb.start_daemons()
        if spec.start is not None:
            spec.start(lb)
        yield lb


def wait_dialout_state(d: Lnsd, key: str, states: set[str], within: float = 30,
                       context: Callable[[], str] | None = None) -> dict:
    """Wait (≤ `within` s) until lnsd's dial-out session `key` is in one of `states`; returns its
    `show l2tp dial-out session KEY` entry. AssertionError on timeout with the last entry seen and
    `context()` (e.g. a peer's log)."""
    seen: list = []

    def probe():
        try:
            s = d.ctl("show", "l2tp", "dial-out", "session", key)
        except Exception:  # noqa: BLE001 - no such session yet
            return None
        seen[:] = [s]
        return s if s.get("state") in states else None
    try:
        return wait_for(probe, within, f"dial-out session {key} in {sorted(states)}")
    except WaitTimeout as e:
        raise AssertionError(f"{e}; session: {seen}" + (f"\n{context()}" if context else "")) from None


def start_pppd_cpe(lab: Lab, bdir: Path, configs: dict[str, dict]):
    """cpe-emu's sites (role `cpe`) answered by pppd on a UML guest (dlab.pppd_cpe.PppdCpe); the
    first site with a `tun` owns the remote office LAN (the CPE's address on the `site` link)."""
    if not (bdir / "peers/cpe/cpe-line").exists():
        raise NotBuilt(f"cpe: pppd needs cpe-line ({bdir}/peers/cpe/cpe-line: run ci/build cpe-line)")
    lan = next((a for a in lab.topo.links if a.name == "site"), None)
    lan_addr = lan.ends.get("cpe", [None])[0] if lan else None
    extra = configs.get("pppd") or {}
    sites, lan_taken = [], False
    for s in configs["cpe"]["sites"]:
        owns_lan = bool(s.get("tun")) and not lan_taken and lan_addr is not None
        lan_taken |= owns_lan
        sites.append(PppdSite.from_cpe_site(s, lan_addr if owns_lan else None, extra.get(str(s["number"]), [])))
    return PppdCpe(lab, bdir, sites, configs["cpe"]["isdn"]).start()


def default_topology(configure: Callable[[dict], None] | None = None):
    """scenarios/topologies/default.yaml parsed (dlab.topology); `configure(raw)` may edit the raw
    YAML dict first (e.g. add FreeRADIUS users to `radius: [...]`)."""
    raw = yaml.safe_load((REPO / "scenarios/topologies/default.yaml").read_text())
    if configure is not None:
        configure(raw)
    return T.parse(raw)


def control(path: Path, cmd: str, args: dict | None = None) -> dict:
    """One request on a daemon's control socket (see dlab.control_api.request)."""
    return request(path, cmd, args)
