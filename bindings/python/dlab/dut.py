"""Implementations under test (DUTs) of the RFC 2661 conformance suite (tests/conformance/rfc2661).

A DUT profile says how to configure, start and stop an L2TP implementation inside a lab namespace,
which roles it plays ("lac", "lns") and which optional features it claims. The suite's scripted peer
(dlab.proto.ScriptedL2tp) plays the other role and judges only what the DUT puts on the wire.

Two ways to write a profile (docs/conformance.md, "Your own stack"):

* a YAML file (`--dut path/to/mystack.yaml`, or `duts/NAME.yaml` of this repository)::

      name: mystack
      roles: [lns]
      features: [tunnel-auth, incoming-calls]
      files:                       # written into the run folder; {placeholders} filled (see Context.fields)
        mystack.conf: |
          listen {address}:{port}
          peer {secret_peer} secret {secret}
      start: [/usr/sbin/mystackd, -f, -c, "{run_dir}/mystack.conf"]
      ready: "ready"               # text in its output; default: wait until UDP {port} is bound
      initiate: [mystackctl, connect, "{peer}"]   # optional: makes it open a tunnel and place a call

* a Python class deriving from `Dut` (when starting it needs code), registered with `register()`.

Features a profile may claim (a test of a feature the DUT does not claim is "not applicable"):
tunnel-auth (Challenge / Challenge Response, §5.1.1), hidden-avps (§4.3), incoming-calls (§5.2.1),
outgoing-calls (§5.2.2), hello (sends HELLO after `hello` seconds idle, §6.5), sequencing (§5.4),
proxy (Proxy LCP / Authentication AVPs accepted, §4.4.5), ppp (an LNS that runs PPP on its incoming calls
itself: the RFC 1661 tests of test_ppp_rfc1661.py).
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import procs
from .wait import wait_for

REPO = Path(__file__).resolve().parents[3]
BUILD = Path(os.environ.get("DLAB_BUILD_DIR", REPO / "build"))
PROFILE_DIR = REPO / "duts"
FEATURES = {"tunnel-auth", "hidden-avps", "incoming-calls", "outgoing-calls", "hello", "sequencing", "proxy", "ppp"}


@dataclass
class Context:
    """What the suite gives a DUT: the lab, the host it runs in and its address, the scripted peer's two
    addresses (`secret_peer` shares `secret` with the DUT, `open_peer` has none), the role to play, the
    HELLO interval and first retransmission timeout (seconds) to configure, and a run folder."""
    lab: object
    host: str
    address: str
    secret_peer: str
    open_peer: str
    role: str
    run_dir: Path
    secret: str = "s3cret"
    port: int = 1701
    hello: int = 10
    retransmit: int = 1

    def fields(self) -> dict[str, str]:
        """The {placeholders} of a YAML profile."""
        return {"address": self.address, "port": str(self.port), "secret_peer": self.secret_peer,
                "open_peer": self.open_peer, "secret": self.secret, "role": self.role,
                "run_dir": str(self.run_dir), "hello": str(self.hello), "retransmit": str(self.retransmit),
                "build": str(BUILD)}


class DutUnavailable(RuntimeError):
    """The DUT cannot run here (binary missing, kernel feature absent); the message says why."""


class NotApplicable(RuntimeError):
    """The DUT cannot do what a test needs of it (e.g. initiate a control connection); the message
    says why, and becomes the test's "not applicable" verdict."""


@dataclass
class Dut:
    """Base profile. Subclasses override `start` (and `unavailable` when they need something)."""
    name: str
    roles: tuple[str, ...]
    features: frozenset[str] = field(default_factory=frozenset)
    description: str = ""
    procs: list = field(default_factory=list)

    def unavailable(self) -> str | None:
        """Why the DUT cannot run here, or None."""
        return None

    def start(self, ctx: Context) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        for p in reversed(self.procs):
            procs.stop(p, grace=3.0)
        self.procs.clear()

    def logs(self) -> str:
        return "\n".join(p.log_text()[-4000:] for p in self.procs)

    def initiate(self, ctx: Context, peer: str) -> None:
        """Make the running DUT open a control connection to `peer` (UDP ctx.port) with an SCCRQ and,
        once it is up, place a call on it (a LAC: ICRQ, RFC 2661 §5.2.1; an LNS: OCRQ, §5.2.2): the
        initiator tests judge what it sends. NotApplicable (with why) when the profile cannot."""
        raise NotApplicable(f"{self.name}: the profile has no way to make it initiate a control connection")

    # helpers for subclasses
    def _spawn(self, ctx: Context, name: str, argv: list[str], ready: str | None = None) -> None:
        self.procs.append(ctx.lab.start(f"dut-{name}", ctx.host, argv, ready=ready))
        if ready is None:
            wait_udp_bound(ctx, self.procs[-1])


def wait_udp_bound(ctx: Context, proc, within: float = 10.0) -> None:
    """Wait until something listens on UDP ctx.port in the DUT's namespace (for DUTs that print no
    ready line); fails with the DUT's output if it exits first."""
    def bound() -> bool:
        if not proc.alive():
            raise DutUnavailable(f"{proc.name} exited before binding UDP {ctx.port}:\n{proc.log_text()[-2000:]}")
        out = ctx.lab.exec(ctx.host, ["ss", "-H", "-uln", f"sport = :{ctx.port}"], check=False).stdout
        return bool(out.strip())
    wait_for(bound, within, f"{proc.name} bound to UDP {ctx.port}")


def _which(path: str) -> str | None:
    return path if os.path.exists(path) else shutil.which(os.path.basename(path))


class Lnsd(Dut):
    """lnsd, this project's LNS (docs/lnsd.md). It initiates (SCCRQ, then OCRQ) for a dial-out trigger:
    initiate() answers its Access-Request from a scripted RADIUS server (dlab.proto.ScriptedRadius on
    the open peer's address, UDP 1812) with the tunnel attributes of JunosE "L2TP Dial-Out" Table 75
    naming the peer, and sends the trigger: a ping from the DUT's host to a new address of the dial-out
    target DIALOUT_PREFIX (routed into lnsd's TUN dlo0)."""

    DIALOUT_PREFIX, DOMAIN, RADIUS_SECRET, CALLED = "10.77.0.0/16", "rfc2661.test", "rfc2661-radius", "5551000"

    def __init__(self):
        super().__init__("lnsd", ("lns",), frozenset({"tunnel-auth", "hidden-avps", "incoming-calls", "hello",
                                                       "sequencing", "proxy", "ppp"}), "this project's LNS")
        self._radius = None
        self._triggers = 0

    def unavailable(self):
        b = BUILD / "lns" / "lnsd" / "lnsd"
        return None if b.exists() else f"lnsd not built ({b})"

    def start(self, ctx):
        cfg = ctx.run_dir / "lnsd.yaml"
        cfg.write_text(yaml.safe_dump({
            "local-address": ctx.address, "port": ctx.port, "hostname": "lnsd-dut", "receive-window": 8,
            # Enough retries for the §5.8 long-timer tests to see the back-off reach its cap (8 s).
            "max-retransmits": 7,
            # Both of the suite's peers are listed: lnsd refuses unlisted LACs by default (docs/lnsd.md
            # "Safe defaults"); the open peer authenticates no tunnel.
            "peers": [{"address": ctx.secret_peer, "secret": ctx.secret, "hide-avps": True},
                      {"address": ctx.open_peer}],
            "timers": {"hello": f"{ctx.hello}s", "retransmit": f"{ctx.retransmit}s", "tunnel-hold": "2s"},
            # initiate(): every trigger goes to the open peer again, whatever became of the last tunnel.
            "tunnel-selection": {"mode": "round-robin", "dead-time": "0s"},
            "virtual-routers": [{"name": "default", "tun": "dlo0", "nas-ip-address": ctx.address,
                                 "radius": {"authentication": [{"address": ctx.open_peer,
                                                                "secret": self.RADIUS_SECRET}]}}],
            "ppp-profiles": {"dut": {"local-address": "198.18.0.1"}},
            "dialout": {"profiles": {"dut": {"authentication": "chap", "keepalive": "0s"}},
                        "targets": [{"virtual-router": "default", "prefix": self.DIALOUT_PREFIX, "domain": self.DOMAIN,
                                     "profile": "dut"}]},
            # PPP on incoming calls without an authentication phase (no RADIUS server here): the
            # RFC 1661 tests reach the Network-Layer Protocol phase (IPCP, Protocol-Reject).
            "incoming": {"authentication": "none", "mode": "lcp-renegotiation"},
            "shutdown-wait": "1s"}))
        self._spawn(ctx, "lnsd", [str(BUILD / "lns" / "lnsd" / "lnsd"), "--config", str(cfg),
                                  "--control", str(ctx.run_dir / "lnsd.sock")], ready="lnsd ready")

    def stop(self):
        if self._radius is not None:
            self._radius.stop()
            self._radius = None
        super().stop()

    def _answer(self, peer: str, request):
        """The Access-Accept of a dial-out (JunosE "L2TP Dial-Out" Table 75; RFC 2868 tunnel attributes,
        tag 1): the tunnel to `peer` without Tunnel-Password, the call to CALLED, digital bearer."""
        from . import proto
        return proto.Radius.access_accept(0, [
            ("Service-Type", "Outbound-User"), ("Tunnel-Type", "L2TP", 1), ("Tunnel-Medium-Type", "IPv4", 1),
            ("Tunnel-Server-Endpoint", peer, 1), ("ERX-Dial-Out-Number", self.CALLED),
            ("ERX-Minimum-BPS", 56000), ("ERX-Maximum-BPS", 64000), ("ERX-Bearer-Type", 2)])

    def initiate(self, ctx, peer):
        if peer != ctx.open_peer:
            raise NotApplicable(f"the lnsd profile's scripted RADIUS server names {ctx.open_peer} only")
        if self._radius is None:
            from types import SimpleNamespace

            from .pytest_plugin import ScriptedRadiusServer
            self._radius = ScriptedRadiusServer(ctx.lab, "dut-radius", SimpleNamespace(
                host="peer", address=ctx.open_peer, auth_port=1812, secret=self.RADIUS_SECRET))
        self._radius.handler = lambda r: self._answer(peer, r)
        # The last initiate's dial-out session and tunnel go first: a call its tunnel did not place
        # (a lost tie-breaker) would otherwise be placed again, with an SCCRQ this test did not ask for.
        ctl = [str(BUILD / "lns" / "lnsd" / "lnsctl"), "--socket", str(ctx.run_dir / "lnsd.sock")]
        if self._triggers:
            ctx.lab.exec(ctx.host, ctl + ["l2tp", "dial-out", "session", "reset",
                                          f"default/{self.DIALOUT_PREFIX}/{self._dest()}"], check=False, timeout=10)
        ctx.lab.exec(ctx.host, ctl + ["l2tp", "clear", "destination", peer], check=False, timeout=10)
        self._triggers += 1  # a new destination each time: a new dial-out session (its own Access-Request)
        ctx.lab.exec(ctx.host, ["ping", "-n", "-c", "1", "-W", "1", self._dest()], check=False, timeout=5)

    def _dest(self) -> str:
        """The trigger destination of the current initiate (in DIALOUT_PREFIX)."""
        return f"10.77.{self._triggers // 250}.{self._triggers % 250 + 1}"


class LacEmu(Dut):
    """lac-emu, this project's emulated LAC, with isdn-emu behind it for outgoing calls: called number
    5551000 answers, 5551002 is busy (Q.850 17)."""

    def __init__(self):
        super().__init__("lac-emu", ("lac",), frozenset({"tunnel-auth", "hidden-avps", "outgoing-calls", "hello"}),
                         "this project's emulated LAC")

    def unavailable(self):
        for b in ("peers/lac/lac-emu", "peers/isdn/isdn-emu"):
            if not (BUILD / b).exists():
                return f"{b} not built in {BUILD}"
        return None

    def start(self, ctx):
        r = ctx.run_dir
        (r / "isdn.yaml").write_text(yaml.safe_dump({
            "socket": str(r / "isdn.sock"), "control": str(r / "isdn.ctl"), "timers": {"no-answer": "3s"},
            "numbers": {"5551000": {"behaviour": "answer"}, "5551002": {"behaviour": "busy"}}}))
        self._spawn(ctx, "isdn-emu", [str(BUILD / "peers/isdn/isdn-emu"), "--config", str(r / "isdn.yaml")],
                    ready="isdn-emu ready")
        (r / "lac.yaml").write_text(yaml.safe_dump({
            "listen": ctx.address, "port": ctx.port, "host_name": "lac-emu-dut", "secret": "",
            "peers": [{"address": ctx.secret_peer, "secret": ctx.secret, "hide_avps": True}],
            "number": "1701", "channels": 4, "isdn": str(r / "isdn.sock"), "incoming": False,
            "timers": {"hello": f"{ctx.hello}s"}, "control": str(r / "lac.ctl")}))
        self._spawn(ctx, "lac-emu", [str(BUILD / "peers/lac/lac-emu"), "--config", str(r / "lac.yaml")],
                    ready="lac-emu ready")

    def initiate(self, ctx, peer):
        raise NotApplicable("lac-emu places an incoming call (SCCRQ, ICRQ) only for an ISDN call from a CPE "
                            "through isdn-emu that PPP-authenticates to a tunnelled domain; this profile starts "
                            "no CPE (incoming: false)")


XL2TPD = "/usr/sbin/xl2tpd"


def xl2tpd_conf(ctx: Context, pppoptfile, auth_file, userspace: bool) -> str:
    """xl2tpd.conf(5) of the xl2tpd profiles: listening on the DUT's address, `[lns default]` (no L2TP
    tunnel authentication required, addresses 10.99.0.x for pppd) and, for the initiator tests, a
    `[lac initiator]` section towards the open peer (dialled through the control pipe, `c initiator`).
    userspace: `force userspace = yes` (no kernel L2TP)."""
    return f"""[global]
listen-addr = {ctx.address}
port = {ctx.port}
{"force userspace = yes" + chr(10) if userspace else ""}access control = no
auth file = {auth_file}

[lns default]
ip range = 10.99.0.2-10.99.0.200
local ip = 10.99.0.1
hostname = xl2tpd-dut
require authentication = no
challenge = no
length bit = yes
pppoptfile = {pppoptfile}

[lac initiator]
lns = {ctx.open_peer}
hostname = xl2tpd-dut
require authentication = no
challenge = no
length bit = yes
autodial = no
redial = no
pppoptfile = {pppoptfile}
"""


class Xl2tpd(Dut):
    """Debian's xl2tpd in user-space mode (`force userspace = yes`), as LNS. Its pppd cannot run here
    (the host kernel has no PPP), so a call it accepts is torn down when pppd fails: the control plane
    is what is judged. As a LAC xl2tpd only initiates (a `[lac]` section dials out; an SCCRQ from an
    LNS is refused with StopCCN Result Code 4 "No Authorization"), so the LAC role is not offered; its
    `[lac initiator]` section towards the open peer is what initiate() dials (the initiator tests)."""

    def __init__(self):
        # Its HELLO interval is fixed (60 s, no configuration key): "hello" is not claimed.
        super().__init__("xl2tpd", ("lns",), frozenset({"tunnel-auth", "hidden-avps", "incoming-calls"}),
                         "xl2tpd (Debian package), user-space control plane")

    def unavailable(self):
        return None if _which(XL2TPD) else "xl2tpd is not installed (Debian package xl2tpd)"

    def start(self, ctx):
        r = ctx.run_dir
        secrets = r / "xl2tpd-secrets"
        # l2tp-secrets: "them me secret"; the scripted peer's Host Name is scripted-<role>.
        secrets.write_text(f"* * {ctx.secret}\n")
        secrets.chmod(0o600)
        (r / "xl2tpd-options").write_text("noauth\n")
        (r / "xl2tpd.conf").write_text(xl2tpd_conf(ctx, r / "xl2tpd-options", secrets, userspace=True))
        self._control = r / "xl2tpd-control"
        self._spawn(ctx, "xl2tpd", [_which(XL2TPD), "-D", "-c", str(r / "xl2tpd.conf"), "-p",
                                    str(r / "xl2tpd.pid"), "-C", str(r / "xl2tpd-control")])


    def initiate(self, ctx, peer):
        if peer != ctx.open_peer:
            raise NotApplicable(f"xl2tpd's [lac] section dials {ctx.open_peer} only")
        # xl2tpd's control pipe: "c NAME" connects the [lac NAME] section (SCCRQ, then ICRQ).
        fd = os.open(self._control, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b"c initiator\n")
        finally:
            os.close(fd)


class Xl2tpdPppd(Dut):
    """Full-stack xl2tpd as LNS: Debian's xl2tpd with kernel L2TP (PPPoL2TP) and pppd, inside a
    user-mode Linux guest (dlab.uml) that takes the DUT host's place on the suite's link (the host's
    address moves to the guest's vec0). Unlike the `xl2tpd` profile (user-space control plane on the
    host, no PPP), each incoming call is handed to a real pppd, so the PPP tests of the suite
    (test_ppp_rfc1661.py: the LCP automaton, Configure-Nak / -Reject, Echo, Terminate, Protocol-Reject,
    RFC 1661) judge pppd as well as lnsd. pppd runs `noauth` (no authentication phase) with its
    LCP defaults; IPCP gives addresses from xl2tpd's `ip range`. The guest boots once per session
    (`boot_seconds`, printed); its xl2tpd and pppd logs are in the run folder's guests/xl2tpd-pppd/out/."""

    def __init__(self):
        super().__init__("xl2tpd-pppd", ("lns",), frozenset({"tunnel-auth", "hidden-avps", "incoming-calls", "ppp"}),
                         "xl2tpd (kernel L2TP) + pppd (Debian packages) in a UML guest")
        self.guest = None

    def unavailable(self):
        from . import uml
        if not _which(XL2TPD):
            return "xl2tpd is not installed (Debian package xl2tpd)"
        return uml.unavailable_reason()

    def start(self, ctx):
        from . import uml
        links = [lk for lk in ctx.lab.topo.links if ctx.host in lk.ends]
        conf = xl2tpd_conf(ctx, "/etc/ppp/options.lns", "/etc/ppp/l2tp-secrets", userspace=False)
        files = {"xl2tpd.conf": conf, "l2tp-secrets": f"* * {ctx.secret}\n", "options": "",
                 # noauth: no authentication phase (RFC 1661 §3.5); LCP timers and options at pppd's defaults
                 "options.lns": "noauth\nnoccp\ndebug\nlogfile /mnt/out/pppd.log\n"}
        self.guest = uml.xl2tpd_guest(ctx.lab, "xl2tpd-pppd", ctx.host, {ctx.address: "xl2tpd.conf"}, files,
                                      link=links[0].name)
        self.boot_seconds = self.guest.boot_seconds
        print(f"\nUML guest (xl2tpd-pppd DUT) booted in {self.boot_seconds:.1f} s")
        wait_for(lambda: "Listening on IP address" in self.guest.read_out("xl2tpd.log"), 20.0, "xl2tpd listening")

    def stop(self):
        if self.guest is not None:
            self.guest.power_off()
        super().stop()

    def logs(self):
        if self.guest is None:
            return ""
        return f"xl2tpd:\n{self.guest.read_out('xl2tpd.log')[-3000:]}\npppd:\n{self.guest.read_out('pppd.log')[-3000:]}"

    def initiate(self, ctx, peer):
        if peer != ctx.open_peer:
            raise NotApplicable(f"xl2tpd's [lac] section dials {ctx.open_peer} only")
        self.guest.run("echo 'c initiator' > /var/run/xl2tpd/xl2tpd.control")


L2TPNS = "/usr/sbin/l2tpns"


class L2tpns(Dut):
    """l2tpns (Debian package l2tpns), an LNS with its data plane on a TUN device."""

    def __init__(self):
        # HELLO interval fixed at 60 s (no configuration key): "hello" is not claimed.
        super().__init__("l2tpns", ("lns",), frozenset({"incoming-calls", "tunnel-auth"}), "l2tpns (Debian package)")

    def unavailable(self):
        return None if _which(L2TPNS) else "l2tpns is not installed (Debian package l2tpns)"

    def initiate(self, ctx, peer):
        raise NotApplicable("l2tpns is an LNS that never opens a control connection or places a call itself")

    def start(self, ctx):
        r = ctx.run_dir
        # l2tpns binds its cluster heartbeat to an interface (default eth0): the one holding our address.
        addrs = ctx.lab.exec(ctx.host, ["ip", "-o", "-4", "addr", "show"], check=False).stdout
        ifname = next((l.split()[1] for l in addrs.splitlines() if f" {ctx.address}/" in l), "lo")
        (r / "l2tpns.cfg").write_text(f"""set debug 3
set cluster_interface "{ifname}"
set log_file "{r / 'l2tpns.log'}"
set pid_file "{r / 'l2tpns.pid'}"
set bind_address {ctx.address}
set l2tp_secret "{ctx.secret}"
set primary_dns 192.0.2.53
set primary_radius 127.0.0.1
set primary_radius_port 1812
set radius_secret "unused"
set accounting_dir "{r}"
set throttle_speed 0
""")
        (r / "ip_pool").write_text("10.98.0.0/24\n")
        self._spawn(ctx, "l2tpns", [_which(L2TPNS), "-c", str(r / "l2tpns.cfg"), "-h", "l2tpns-dut"])
        # It answers nothing until its cluster election (about 15 s) has made it the master.
        log = r / "l2tpns.log"
        wait_for(lambda: log.exists() and "declaring myself the master" in log.read_text(errors="replace"), 40.0,
                 "l2tpns elected master")


class YamlDut(Dut):
    """A profile written as YAML (see the module docstring)."""

    def __init__(self, path: Path):
        d = yaml.safe_load(path.read_text())
        unknown = set(d) - {"name", "roles", "features", "files", "start", "ready", "description", "requires",
                            "initiate"}
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
        bad = set(d.get("features", [])) - FEATURES
        if bad:
            raise ValueError(f"{path}: unknown features {sorted(bad)} (known: {sorted(FEATURES)})")
        roles = tuple(d.get("roles") or ())
        if not roles or set(roles) - {"lac", "lns"}:
            raise ValueError(f"{path}: roles must be a non-empty list of lac / lns")
        if not d.get("start"):
            raise ValueError(f"{path}: start (the command, a list) is required")
        super().__init__(d.get("name", path.stem), roles, frozenset(d.get("features", [])), d.get("description", ""))
        self.spec = d

    def unavailable(self):
        for exe in self.spec.get("requires", [self.spec["start"][0]]):
            if "{" not in exe and not _which(exe):
                return f"{exe} not found"
        return None

    def start(self, ctx):
        f = ctx.fields()
        for name, text in (self.spec.get("files") or {}).items():
            (ctx.run_dir / name).write_text(text.format(**f))
        argv = [a.format(**f) for a in self.spec["start"]]
        self._spawn(ctx, self.name, argv, ready=self.spec.get("ready"))

    def initiate(self, ctx, peer):
        """Runs the profile's `initiate` command ({placeholders} and {peer} filled) in the DUT's host."""
        cmd = self.spec.get("initiate")
        if not cmd:
            raise NotApplicable(f"{self.name}: the profile has no `initiate` command")
        ctx.lab.exec(ctx.host, [a.format(peer=peer, **ctx.fields()) for a in cmd], check=True, timeout=10)


_BUILTIN = {"lnsd": Lnsd, "lac-emu": LacEmu, "xl2tpd": Xl2tpd, "xl2tpd-pppd": Xl2tpdPppd, "l2tpns": L2tpns}


def register(name: str, cls) -> None:
    """Make a Python profile class (a Dut subclass taking no arguments) known by name."""
    _BUILTIN[name] = cls


def names() -> list[str]:
    yamls = {p.stem for p in PROFILE_DIR.glob("*.yaml")} if PROFILE_DIR.is_dir() else set()
    return sorted(set(_BUILTIN) | yamls)


def load(name: str) -> Dut:
    """A profile by name (built-in or duts/NAME.yaml) or by path to a YAML file; ValueError if none."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return YamlDut(p)
    if name in _BUILTIN:
        return _BUILTIN[name]()
    y = PROFILE_DIR / f"{name}.yaml"
    if y.exists():
        return YamlDut(y)
    raise ValueError(f"no DUT profile {name!r} (known: {', '.join(names())}; or give a path to a .yaml)")


def describe(d: Dut) -> str:
    return f"{d.name}: roles {'/'.join(d.roles)}; features {', '.join(sorted(d.features)) or 'none'}"


__all__ = ["Context", "Dut", "DutUnavailable", "NotApplicable", "YamlDut", "load", "names", "register", "describe"]
