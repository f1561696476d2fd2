"""pytest plugin of the dial-out lab (registered by tests/conftest.py and scenarios/examples/conftest.py
with `pytest_plugins = ["dlab.pytest_plugin"]`). docs/scenarios.md shows how to use it.

Fixtures
  lab             the default topology (scenarios/topologies/default.yaml) with FreeRADIUS and the
                  dial-out daemons up (dlab.dialout_lab.start_daemons); one per test module. The
                  module declares its lab as data: `pytestmark = pytest.mark.lab_config(**fields of
                  dlab.dialout_lab.LabSpec)` — topology (an edit of default.yaml, a topology file
                  beside the module, or a dict), configure (the daemons' configs), daemons=False,
                  hosts, relays (made before the daemons start), start (after them: a UML guest),
                  scripted_radius, capture, judge_from — or indirect parametrisation
                  (`@pytest.mark.parametrize("lab", [LabSpec(...)], indirect=True)`). It is a
                  dlab.dialout_lab.DialoutLab (dlab.lab.Lab plus `.configs`, `.daemons` (role ->
                  control_api.Daemon, event streams open), `.lnsd`, `.bdir`, `.relays`, and
                  `.restart(role, config=..., name=...)`: one daemon again with another config).
                  A fixture of another scope, or a module's second lab, builds its LabSpec with
                  `with dlab.dialout_lab.open_lab(spec) as lab:` (the same builder).
  lns, lac, cpe, isdn, lac2, cpe2, isdn2
                  control_api.Daemon clients of the daemons; their wait_for() looks at events from
                  the start of the test on.
  radius          the topology's FreeRADIUS servers: `radius["home"].address`, `.users(name)`,
                  `.request(server, {attrs})` (radclient from the lns host).
  scripted_lac    dlab.proto.ScriptedL2tp on a UDP socket in the `lac` namespace, peer = lnsd.
  scripted_radius dlab.proto.ScriptedRadius serving in place of a FreeRADIUS server the module names
                  with lab_config(scripted_radius=["home"]); set `.handler` per test.
Per test, every link's capture is cut into <run>/tests/<test>/<link>.pcap (named in the JUnit XML
as properties `pcap:<link>`). Markers per feature: see MARKERS.

tshark judges every per-test pcap (dlab.tshark_judge.judge_links; empty pcaps and skipped tests left
out): no malformed frame and no expert error, or an error at teardown printing the test, the frame
and tshark's expert message. A test with `tshark.expect()` is judged at its own end (one tshark pass
over its pcaps); the others of a module are judged together at the module's end (one pass: tshark's
start-up, ~0.4 s of CPU, would otherwise dominate) and a problem fails the module's last test,
naming the test whose pcap shows it. DLAB_TSHARK_JUDGE=test judges each test at its end. The lab
is the test's `lab` fixture (or its first item), its `dut` fixture's `.lab` (the RFC 2661 suite)
or its `lnsd_lab` fixture's first item (LAB_FIXTURES). Narrowed by
  - `lab.tshark_judge_from = {addresses}`: malformed / expert errors count only from those IPv4
    sources (a conformance suite's DUT: its scripted peer sends malformed packets on purpose);
  - `@pytest.mark.tshark_tolerates(reason)`: this test's malformed frames / expert errors are
    expected (the expectations below still hold);
  - DLAB_TSHARK_JUDGE=0: off unless the test expects something (tshark missing: off, noted in
    the test's properties).
The terminal summary prints how many pcaps were judged, in how many tshark runs, and the time it took.

  tshark          adds expectations to that judge: `tshark.expect(link, l2tp={...}, ppp={...},
                  radius={...}, only=False)` — what that link must have carried (L2TP message
                  types, PPP protocols, RADIUS codes). Skips the test when tshark is missing.
"""
from __future__ import annotations

import ipaddress
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from . import dialout_lab as D
from . import netns
from .control_api import Daemon
from .dialout_lab import LabSpec
from .freeradius import radius_request
from .lab import Lab
from .tshark_judge import judge_links
from .wait import WaitTimeout, wait_for

# dlab.proto (ScriptedL2tp, ScriptedRadius) is imported by the fixtures that use it, not here: it
# needs the built pybind11 module (dlab._native), and the plugin loads for every test run, the pure
# Python unit tests and the lab tiers before a build included.

MARKERS = {
    "lab_config(topology=None, configure=None, daemons=True, hosts={}, relays=None, start=None, "
    "scripted_radius=(), capture=True, judge_from=None)":
        "how the module's `lab` fixture is built (dlab.dialout_lab.LabSpec, also dlab.pytest_plugin.LabSpec)",
    "dialout": "dial-out sessions: trigger, AAA, OCRQ/OCRP/OCCN, inService (JunosE L2TP Dial-Out Tables 70-75, Broadband Access Configuration Guide Table 77)",
    "l2tp": "L2TP control connection and session behaviour (RFC 2661)",
    "ppp": "PPP LCP / authentication / IPCP (RFC 1661, 1334, 1994, 1332)",
    "aaa": "RADIUS authorisation and authentication through lnsd (RFC 2865, 2868, JunosE L2TP Dial-Out Table 75)",
    "isdn": "the emulated ISDN exchange (isdn-emu) and call set-up",
    "scenario": "a user scenario (scenarios/examples, docs/scenarios.md)",
    "radius": "real FreeRADIUS exchanges (home and LNS RADIUS servers, JunosE L2TP Dial-Out Table 75)",
    "interop": "third-party peers (pppd, xl2tpd on user-mode Linux guests) against lnsd (docs/interop.md)",
    "tshark_tolerates(reason)": "the test puts malformed packets / expert errors on the wire on purpose: the tshark "
                                "judge of its pcaps checks only what tshark.expect() names",
}

# role -> config key of its control socket (dlab.dialout_lab.daemon_configs); lnsd's is lnsd.sock.
ROLES = ("isdn", "lac", "cpe", "isdn2", "lac2", "cpe2")


def pytest_configure(config):
    for name, help_text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}")
    _sigterm_interrupts()


def _sigterm_interrupts() -> None:
    """SIGTERM / SIGHUP stop the run like Ctrl-C (KeyboardInterrupt): pytest then tears its fixtures
    down (every lab's `with Lab(...)` exits) instead of dying with the labs up. Left alone when
    something else already handles them."""

    def interrupt(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, interrupt)
        except ValueError:  # not the main thread
            pass


def _spec(request) -> LabSpec:
    param = getattr(request, "param", None)
    if isinstance(param, LabSpec):
        return param
    if isinstance(param, dict):
        return LabSpec(**param)
    m = request.node.get_closest_marker("lab_config")
    if m is not None:
        if m.args:
            raise pytest.UsageError(f"{request.node.nodeid}: lab_config takes keyword arguments only")
        try:
            return LabSpec(**m.kwargs)
        except TypeError as e:
            raise pytest.UsageError(f"{request.node.nodeid}: lab_config: {e}") from None
    return LabSpec()


@pytest.fixture(scope="module")
def lab(request):
    """The dial-out lab of this test module (see the module docstring), built by
    dlab.dialout_lab.open_lab from the module's LabSpec."""
    with D.open_lab(_spec(request), folder=request.path.parent) as lb:
        yield lb


def _daemon(lab, role: str) -> Daemon:
    daemons = getattr(lab, "daemons", None)
    if daemons is None:
        raise pytest.UsageError("this test module's `lab` fixture is not the dial-out lab of dlab.pytest_plugin")
    if role not in daemons:
        raise pytest.UsageError(f"{role} is not running in this lab (lab_config(configure=...) set configs[{role!r}] "
                                "to None)")
    d = daemons[role]
    d.reset_cursor()
    return d


@pytest.fixture
def lns(lab) -> Daemon:
    """lnsd's control API; wait_for() sees events from the start of the test on."""
    return _daemon(lab, "lnsd")


@pytest.fixture
def lac(lab) -> Daemon:
    """lac-emu (host `lac`, the default VR's LAC)."""
    return _daemon(lab, "lac")


@pytest.fixture
def cpe(lab) -> Daemon:
    """cpe-emu (host `cpe`, site 5551001)."""
    return _daemon(lab, "cpe")


@pytest.fixture
def isdn(lab) -> Daemon:
    """isdn-emu (host `lac`, the exchange of lac-emu and cpe-emu)."""
    return _daemon(lab, "isdn")


@pytest.fixture
def lac2(lab) -> Daemon:
    """lac-emu of virtual router vr-b (host `lac2`)."""
    return _daemon(lab, "lac2")


@pytest.fixture
def cpe2(lab) -> Daemon:
    """cpe-emu of vr-b's site 5552002 (host `cpe`)."""
    return _daemon(lab, "cpe2")


@pytest.fixture
def isdn2(lab) -> Daemon:
    """isdn-emu of vr-b (host `lac2`)."""
    return _daemon(lab, "isdn2")


# ----- RADIUS -----
class RadiusServers:
    """The lab's FreeRADIUS servers (topology `radius:`): `servers[name]` is a dlab.topology.RadiusServer
    (host, address, secret, clients, users, auth_port)."""

    def __init__(self, lab):
        self.lab = lab
        self.servers = dict(lab.topo.radius)

    def __getitem__(self, name: str):
        try:
            return self.servers[name]
        except KeyError:
            raise KeyError(f"no RADIUS server {name!r} in this lab (has: {', '.join(self.servers)})") from None

    def __iter__(self):
        return iter(self.servers)

    def users(self, name: str) -> list[str]:
        """User names of server `name`'s users file."""
        return [u.name for u in self[name].users]

    def request(self, server: str, attrs: dict[str, str], host: str = "lns") -> dict:
        """One Access-Request with Debian's radclient from `host`; returns dlab.freeradius.parse_radclient's
        dict (`received`: {`code`, `attributes`: [(name, value)]}, `exit`)."""
        self[server]
        return radius_request(self.lab, server, attrs, host)


@pytest.fixture
def radius(lab) -> RadiusServers:
    """The lab's FreeRADIUS servers: addresses, users, and request() through radclient."""
    return RadiusServers(lab)


# ----- scripted peers -----
@pytest.fixture
def scripted_lac(lab):
    """The dlab.proto.ScriptedL2tp of a dlab.scripted_lac.ScriptedLac bound in the `lac` namespace on
    the LAC's address, port 1701 if free (lac-emu not started) else an ephemeral port; its peer is
    lnsd (local-address, port)."""
    from .scripted_lac import ScriptedLac  # needs dlab.proto: see the note at the imports
    lac_cfg = lab.configs.get("lac")
    address = lac_cfg["listen"] if lac_cfg else lab.topo.address_of("lac", "core")
    lnsd = lab.configs["lnsd"]
    peer = (lnsd["local-address"], int(lnsd.get("port", 1701)))
    try:
        lac = ScriptedLac(lab, address, peer[0], lns_port=peer[1], port=1701, reuse_address=False)
    except OSError:
        lac = ScriptedLac(lab, address, peer[0], lns_port=peer[1], reuse_address=False)
    yield lac.l2tp
    lac.close()


class ScriptedRadiusServer:
    """A dlab.proto.ScriptedRadius serving on a background thread (serve() in 50 ms slices).

    Attributes of the engine (handler, requests, history, sent, dropped, pending, ...) are reachable
    directly; `.address`, `.port`, `.secret`, `.name` say where it serves; `.servers` maps every
    scripted server name to its ScriptedRadiusServer."""

    def __init__(self, lab, name: str, server):
        from .proto import ScriptedRadius  # see the note at the imports
        self.name, self.address, self.port, self.secret = name, server.address, server.auth_port, server.secret
        self._sock = netns.socket_in(lab.ns(server.host))
        self._sock.bind((server.address, server.auth_port))
        self.engine = ScriptedRadius(self._sock, server.secret)
        self.servers: dict[str, ScriptedRadiusServer] = {name: self}
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"scripted-radius:{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.engine.serve(0.05)
        except BaseException as e:  # noqa: BLE001 - reported by the fixture
            self.error = e

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["engine"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("handler", "drop_unverified"):
            setattr(self.engine, name, value)
        else:
            super().__setattr__(name, value)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture
def scripted_radius(lab):
    """A scripted RADIUS server in place of each FreeRADIUS server named by the module's
    lab_config(scripted_radius=[...]); returns the first (`.servers[name]` for the others). With
    no handler it drops every request; set `scripted_radius.handler = fn(request) -> Radius |
    RadiusReply | None`."""
    names = list(getattr(lab, "scripted_radius_servers", {}) or {})
    if not names:
        raise pytest.UsageError("scripted_radius needs the module marked "
                                "pytest.mark.lab_config(scripted_radius=['home']) (the servers it replaces)")
    servers = {n: ScriptedRadiusServer(lab, n, lab.scripted_radius_servers[n]) for n in names}
    for s in servers.values():
        s.servers = servers
    try:
        yield servers[names[0]]
    finally:
        for s in servers.values():
            s.stop()
        errors = [f"{n}: {s.error!r}" for n, s in servers.items() if s.error is not None]
        if errors:
            pytest.fail(f"scripted RADIUS server failed: {'; '.join(errors)}")


# ----- per-test pcaps -----
class PcapCutter:
    """Cuts one growing pcap file (tcpdump -U) at record boundaries.

    `mark()` moves past every complete record and returns that offset; `find(token)` looks for the
    first complete record after the current offset whose packet contains `token`, moves past it and
    returns (record start, record end), or None if it is not there (yet) — the offset then stays.
    `write(start, end, out)` writes the global header plus the records between the two offsets."""

    def __init__(self, path: Path):
        self.path = path
        self._pos = 24       # offset the next scan starts at (after the global header)
        self._order = None   # struct byte order from the magic number

    def _records(self):
        """(start, end, data) of each complete record from the current offset on."""
        try:
            with open(self.path, "rb") as f:
                if self._order is None:
                    magic = f.read(4)
                    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
                        self._order = "<"
                    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
                        self._order = ">"
                    else:
                        return
                base = self._pos   # fixed here: callers move self._pos while iterating
                f.seek(base)
                data = f.read()
        except FileNotFoundError:
            return
        off = 0
        while off + 16 <= len(data):
            incl = struct.unpack_from(self._order + "I", data, off + 8)[0]
            if off + 16 + incl > len(data):
                return
            yield base + off, base + off + 16 + incl, data[off + 16:off + 16 + incl]
            off += 16 + incl

    def mark(self) -> int:
        for _start, end, _data in self._records():
            self._pos = end
        return self._pos

    def find(self, token: bytes) -> tuple[int, int] | None:
        for start, end, data in self._records():
            if token in data:
                self._pos = end
                return start, end
        return None

    def write(self, start: int, end: int, out: Path) -> None:
        with open(self.path, "rb") as f:
            header = f.read(24)
            f.seek(start)
            body = f.read(max(0, end - start))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(header + body)


CUT_PORT = 9   # discard (RFC 863): the cut markers are UDP broadcasts nobody answers


def send_cut_marker(lab, link: str, token: bytes) -> None:
    """One UDP datagram carrying `token`, broadcast on `link` from its first end (SO_BINDTODEVICE):
    it is captured after every packet sent on the link before it, so it marks a cut point, and
    nobody answers a broadcast to the discard port."""

    lk = next(x for x in lab.topo.links if x.name == link)
    host, addrs = next(iter(lk.ends.items()))
    bcast = str(ipaddress.ip_interface(addrs[0]).network.broadcast_address)
    s = netns.socket_in(lab.ns(host))
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, link.encode())
        s.sendto(token, (bcast, CUT_PORT))
    finally:
        s.close()


def cut_points(lab, cutters: dict, label: str, within: float = 5.0) -> dict[str, tuple[int, int] | None]:
    """Send a cut marker on every link and wait (bounded) until each capture holds it: link ->
    (marker record start, end), or None where it did not show up in time (link without
    addresses, capture gone)."""

    token = f"dlab-pcap-cut {label} {secrets.token_hex(4)}".encode()
    found: dict[str, tuple[int, int] | None] = {}
    for link in cutters:
        try:
            send_cut_marker(lab, link, token)
        except (OSError, StopIteration, ValueError, IndexError):
            found[link] = None

    def all_found():
        for link, c in cutters.items():
            if link not in found:
                hit = c.find(token)
                if hit is not None:
                    found[link] = hit
        return len(found) == len(cutters)
    try:
        wait_for(all_found, within, f"pcap cut markers on {', '.join(cutters)}")
    except WaitTimeout:
        for link in cutters:
            found.setdefault(link, None)
    return found


def _safe(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", nodeid).strip("_")[:180]


# Fixtures that hold a test's lab, and how to get the dlab.lab.Lab from each: the plugin's (or a
# module's own) `lab` — itself or a tuple starting with it (the lnsd suite's (lab, lnsd)) — the
# RFC 2661 suite's `dut` (its .lab), the lnsd suite's `lnsd_lab`.
def _first(v: Any) -> Any:
    return v[0] if isinstance(v, tuple) and v else v


LAB_FIXTURES: dict[str, Callable[[Any], Any]] = {
    "lab": _first,
    "dut": lambda v: getattr(v, "lab", None),
    "lnsd_lab": _first,
}


@pytest.fixture(autouse=True)
def _dlab_pcap_per_test(request):
    """A pcap per test per link under <run>/tests/<test>/ when the test uses a captured lab: the
    packets between a cut marker sent at set-up and one sent at teardown (markers excluded)."""
    lb = None
    for name, pick in LAB_FIXTURES.items():
        if name in request.fixturenames:
            lb = pick(request.getfixturevalue(name))
            break
    if not isinstance(lb, Lab) or not lb.pcaps:
        yield
        return
    cutters = lb.__dict__.setdefault("_pcap_cutters", {})
    for link, path in lb.pcaps.items():
        cutters.setdefault(link, PcapCutter(path))
    begin = cut_points(lb, cutters, "start")
    starts = {link: (hit[1] if hit else cutters[link].mark()) for link, hit in begin.items()}
    yield
    end = cut_points(lb, cutters, "end")
    folder = lb.run_dir / "tests" / _safe(request.node.nodeid)
    written: dict[str, Path] = {}
    for link, c in cutters.items():
        stop = end[link][0] if end.get(link) else c.mark()
        out = folder / f"{link}.pcap"
        try:
            c.write(starts[link], stop, out)
        except OSError as e:
            request.node.user_properties.append((f"pcap:{link}", f"not written: {e}"))
            continue
        note = "" if begin.get(link) and end.get(link) else " (cut without marker: may miss the last packets)"
        request.node.user_properties.append((f"pcap:{link}", f"{out}{note}"))
        written[link] = out
    _judge_pcaps(request, lb, written)


class TsharkExpectations:
    """What the judge of the test's pcaps must also see (see the module docstring)."""

    def __init__(self):
        self.links: dict[str, dict] = {}

    def expect(self, link: str, l2tp: set[str] | None = None, ppp: set[str] | None = None,
               radius: set[int] | None = None, only: bool = False) -> None:
        self.links[link] = {"l2tp": l2tp, "ppp": ppp, "radius": radius, "only": only}


JUDGE_STATS = {"tests": 0, "pcaps": 0, "runs": 0, "seconds": 0.0}
# Per module: (test id, {link: pcap}, only_from) of the tests judged at the module's end.
_DEFERRED: dict[str, list[tuple[str, dict[str, Path], frozenset[str] | None]]] = {}


def _judge_mode() -> str:
    """DLAB_TSHARK_JUDGE: "module" (default: one tshark pass per module for the tests that
    expect nothing, per test for the others), "test" (one pass per test), "0" (off)."""
    return os.environ.get("DLAB_TSHARK_JUDGE", "module")


def _run_judge(pcaps: dict[str, Path], expect: dict[str, dict], only_from) -> str | None:
    """One judge_links pass, counted in JUDGE_STATS; the problems' text or None."""
    t0 = time.monotonic()
    try:
        judge_links(pcaps, expect, only_from=None if only_from is None else set(only_from))
        return None
    except AssertionError as e:
        return str(e)
    finally:
        JUDGE_STATS["runs"] += 1
        JUDGE_STATS["pcaps"] += len(pcaps)
        JUDGE_STATS["seconds"] += time.monotonic() - t0


def _judge_pcaps(request, lb, pcaps: dict[str, Path]) -> None:
    """The tshark judge of one test's pcaps (module docstring): now when the test expects something
    (or DLAB_TSHARK_JUDGE=test), else at its module's end; pytest.fail on a problem."""
    expect = getattr(request.node, "_dlab_tshark", None)
    mode = _judge_mode()
    if mode == "0" and expect is None:
        return
    call = getattr(request.node, "_dlab_call_report", None)
    if call is not None and call.skipped:   # a skipped test asserts nothing: its pcaps are kept, not judged
        return
    if shutil.which("tshark") is None:
        request.node.user_properties.append(("tshark-judge", "not run: tshark not installed"))
        return
    only_from = getattr(lb, "tshark_judge_from", None)
    if request.node.get_closest_marker("tshark_tolerates") is not None:
        only_from = set()
    only_from = None if only_from is None else frozenset(only_from)
    JUDGE_STATS["tests"] += 1
    if expect is None and mode != "test":
        _DEFERRED.setdefault(request.module.__name__, []).append((request.node.nodeid, pcaps, only_from))
        return
    problem = _run_judge(pcaps, expect.links if expect else {}, only_from)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="module", autouse=True)
def _dlab_tshark_module(request):
    """Judges the pcaps of the module's tests deferred by _judge_pcaps: one tshark pass per
    only_from group; a problem fails the module's last test at teardown, naming each test."""
    yield
    deferred = _DEFERRED.pop(request.module.__name__, [])
    groups: dict = {}
    for nodeid, pcaps, only_from in deferred:
        for link, path in pcaps.items():
            groups.setdefault(only_from, {})[f"{nodeid} {link}"] = path
    problems = [p for only_from, pcaps in groups.items() if (p := _run_judge(pcaps, {}, only_from))]
    if problems:
        pytest.fail("tshark judge of this module's per-test pcaps:\n" + "\n".join(problems), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps the call phase's report on the item (the tshark judge skips skipped tests)."""
    outcome = yield
    if call.when == "call":
        item._dlab_call_report = outcome.get_result()


def pytest_terminal_summary(terminalreporter):
    if JUDGE_STATS["tests"]:
        terminalreporter.write_line(f"tshark judge: {JUDGE_STATS['pcaps']} pcaps of {JUDGE_STATS['tests']} tests "
                                    f"in {JUDGE_STATS['runs']} tshark runs, {JUDGE_STATS['seconds']:.1f} s")


@pytest.fixture
def tshark(request):
    """tshark judges this test's per-link pcaps at its end (needs a captured `lab`)."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark not on PATH (Debian package tshark)")
    request.node._dlab_tshark = TsharkExpectations()
    return request.node._dlab_tshark
