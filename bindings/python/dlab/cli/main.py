"""`./lab` commands: up, status, down, shell, demo, test. See docs/lab.md."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from .. import replay_cli, verdicts
from . import bench, bench_campaign, bench_compare, bench_dialout, bench_loadgen, demo, testrun
from .. import lab as L
from .. import topology as T
from ..lab import REPO
from ..procs import Tracked

TOPO_DIR = REPO / "scenarios" / "topologies"


def _find_run(runid: str | None) -> dict:
    runs = L.registered_runs()
    if runid:
        for r in runs:
            if r["runid"] == runid:
                return r
        raise SystemExit(f"lab: no run {runid!r} (running: {', '.join(r['runid'] for r in runs) or 'none'})")
    persistent = [r for r in runs if r.get("persistent")]
    if len(persistent) == 1:
        return persistent[0]
    if not persistent:
        raise SystemExit("lab: no lab is up; start one with ./lab up")
    raise SystemExit("lab: several labs are up; name one with --run "
                     + " ".join(r["runid"] for r in persistent))


def cmd_up(a) -> int:
    topo = T.load(T.find(a.topology, TOPO_DIR))
    lab = L.Lab(topo, persistent=True)
    lab.up()
    print(f"lab {lab.runid} is up ({topo.name}); run folder {lab.run_dir}")
    print(f"  ./lab shell HOST   (hosts: {', '.join(topo.hosts)})")
    print(f"  ./lab down         tears it down")
    return 0


def _status_of(state: dict) -> dict:
    topo = T.load(state["source"]) if state.get("source") else None
    if topo is None:
        return state
    lab = L.Lab(topo, runid=state["runid"], run_dir=Path(state["run_dir"]))
    lab.namespaces = state.get("namespaces", [])
    lab.procs = [Tracked(**p) for p in state.get("processes", [])]
    st = lab.status()
    st["persistent"] = state.get("persistent", False)
    return st


def cmd_status(a) -> int:
    runs = [_status_of(r) for r in L.registered_runs()]
    if a.json:
        print(json.dumps(runs, indent=2))
        return 0
    if not runs:
        print("no lab is up")
        return 0
    for r in runs:
        print(f"lab {r['runid']} ({r.get('topology')}) run folder {r.get('run_dir')}")
        for ns, ifs in r.get("namespaces", {}).items():
            addrs = "  ".join(f"{i} {' '.join(x)}" for i, x in ifs.items())
            print(f"  {ns:24} {addrs}")
        for p in r.get("processes", []):
            print(f"  process {p['name']:16} host {p['host']:8} pid {p['pid']:<7} {'running' if p['alive'] else 'EXITED'}")
    return 0


def cmd_down(a) -> int:
    if a.all:
        removed = L.teardown_all()
        print(f"removed {len(removed)} runs/namespaces" if removed else "nothing to remove")
        return 0
    st = _find_run(a.run)
    L.teardown_state(st)
    print(f"lab {st['runid']} is down")
    return 0


def cmd_shell(a) -> int:
    st = _find_run(a.run)
    ns = f"dl-{st['runid']}-{a.host}"
    if ns not in st.get("namespaces", []):
        raise SystemExit(f"lab: no host {a.host!r} in lab {st['runid']}")
    env = dict(os.environ, PS1=f"[{a.host}@lab-{st['runid']}] \\w# ", DLAB_HOST=a.host)
    argv = ["ip", "netns", "exec", ns, *(a.command or ["bash", "--norc", "-i"])]
    os.execvpe("ip", argv, env)
    return 0  # not reached


def cmd_demo(a) -> int:
    return demo.run(a)


def cmd_bench(a) -> int:
    if a.kind == "dialout":
        return bench_dialout.run(a)
    if a.kind == "loadgen":
        return bench_loadgen.run(a)
    if a.kind == "campaign":
        if not a.campaign:
            print(f"lab: bench campaign needs one of {', '.join(bench_campaign.KINDS)}", file=sys.stderr)
            return 2
        return bench_campaign.run(a)
    if a.kind == "compare-lns":
        return bench_compare.run(a)
    return bench.run(a)


def cmd_scenario(a) -> int:
    """Run user scenarios (docs/scenarios.md) with pytest and the dial-out lab plugin: *.yaml files
    through scenarios/examples/test_yaml_scenarios.py, Python files as they are."""
    files = [Path(f).resolve() for f in a.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"lab: no such scenario file: {', '.join(missing)}", file=sys.stderr)
        return 2
    yamls = [str(f) for f in files if f.suffix in (".yaml", ".yml")]
    pys = [str(f) for f in files if f.suffix not in (".yaml", ".yml")]
    env = dict(os.environ)
    argv = [sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO),
            "-p", "dlab.pytest_plugin", "-p", "no:cacheprovider", "-q"]
    if a.keyword:
        argv += ["-k", a.keyword]
    if a.junitxml:
        argv.append(f"--junitxml={a.junitxml}")
    if yamls:
        env["DLAB_SCENARIOS"] = os.pathsep.join(yamls)
        pys.insert(0, str(REPO / "scenarios" / "examples" / "test_yaml_scenarios.py"))
    return subprocess.run([*argv, *pys], cwd=REPO, env=env).returncode


def cmd_conformance(a) -> int:
    return verdicts.run(a)


def cmd_test(a) -> int:
    return testrun.run(a)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="./lab", description="The L2TP dial-out lab.")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    s = sub.add_parser("demo", help="the main job: bring the lab up, dial out, show it, tear down")
    s.add_argument("--keep", action="store_true", help="leave the lab up for ./lab shell")
    s.add_argument("--scenario", default="default", help="scenario or topology name")
    s.add_argument("--json", action="store_true", help="print the timeline as JSON")
    s.add_argument("--cpe", choices=("emu", "pppd"), default=None,
                   help="who answers at the remote office: cpe-emu, or real pppd on a UML guest")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("scenario", help="run your own scenario files (Python or YAML, docs/scenarios.md)")
    s.add_argument("files", nargs="+", help="test_*.py files using the lab fixtures, or *.yaml step files")
    s.add_argument("--junitxml", help="write a JUnit XML report here")
    s.add_argument("-k", dest="keyword", help="pytest -k expression")
    s.set_defaults(func=cmd_scenario)

    s = sub.add_parser("conformance", help="the RFC 2661 suite against one implementation (docs/conformance.md)")
    s.add_argument("--dut", required=True, help="profile: lnsd, lac-emu, xl2tpd, xl2tpd-pppd, l2tpns, or a .yaml file")
    s.add_argument("--role", choices=["lac", "lns"], help="role the DUT plays (default: its profile's first)")
    s.add_argument("-k", dest="keyword", help="pytest -k expression")
    s.add_argument("--junitxml", help="write a JUnit XML report here")
    s.add_argument("--report", help="folder for the verdict matrix <dut>.md / <dut>.json (default conformance-<dut>)")
    s.add_argument("--baseline", help="expected verdicts (a <dut>.json): exit 1 on any difference, else 0")
    s.set_defaults(func=cmd_conformance)

    s = sub.add_parser("test", help="every test tier that can run here")
    s.add_argument("--tier", action="append", choices=["unit", "fuzz", "sanitize", "lab", "third-party"],
                   help="run only these tiers (repeatable)")
    s.add_argument("-k", dest="keyword", help="pytest -k expression for the lab tier")
    s.add_argument("-n", dest="workers", default="auto",
                   help="namespace tiers in parallel: pytest-xdist workers of the lab tier and the sanitize "
                        "tier's suites, a number, 'auto' (one per CPU, the default: about twice as fast as "
                        "serial on 2 cores) or 0 (serial; the third-party stacks one after the other too, and the clang build of "
                        "fuzz and sanitize when those tiers come rather than in the background from the start)")
    s.add_argument("--tx", action="append", metavar="SPEC",
                   help="lab tier workers on another machine too (repeatable; pytest-xdist/execnet spec, e.g. "
                        "'2*ssh=root@lab2//python=/usr/bin/python3//chdir=/srv/dialout-lab//env:PYTHONPATH="
                        "/srv/dialout-lab/bindings/python:/srv/dialout-lab/build/bindings'; docs/reliability.md)")
    s.set_defaults(func=cmd_test)

    s = sub.add_parser("bench", help="benchmarks that print figures (micro: every Google Benchmark program; "
                                     "dialout: N sites dialled out at once, docs/performance.md; loadgen: lnsd "
                                     "under dl_loadgen (LAC, exchange and CPEs in one process); campaign "
                                     "faults|flood|kill|malformed: fault and attack campaigns, docs/reliability.md; "
                                     "compare-lns: the same incoming-call load against xl2tpd and lnsd)")
    s.add_argument("kind", choices=["micro", "dialout", "loadgen", "campaign", "compare-lns"], nargs="?",
                   default="micro")
    s.add_argument("campaign", choices=bench_campaign.KINDS, nargs="?", default=None,
                   help="campaign: which one (faults, flood, kill, malformed)")
    s.add_argument("--filter", help="micro: only programs whose name contains this")
    s.add_argument("--min-time", default="0.2", help="micro: Google Benchmark --benchmark_min_time (seconds)")
    s.add_argument("--sites", type=int, default=100, help="dialout, loadgen: number of remote sites N (1..100000; loadgen incoming: calls)")
    s.add_argument("--rate", type=float, default=0.0,
                   help="dialout, loadgen: triggers (calls) per second (default 0: all at once)")
    s.add_argument("--lacs", type=int, default=1,
                   help="dialout: lac-emu processes; loadgen dialout: LAC engines in dl_loadgen, ≤ 32767 sites "
                        "each (default 1)")
    s.add_argument("--hold-in-service", type=float, default=0.0,
                   help="loadgen dialout: hold every site in service this many seconds and measure lnsd "
                        "meanwhile (memory, show answer times); default 0: tear down at once")
    s.add_argument("--tunnels", type=int, default=1,
                   help="dialout, campaign faults: L2TP tunnels per LAC (Tunnel-Assignment-Id values, default 1)")
    s.add_argument("--window", type=int, default=None,
                   help="dialout: L2TP receive window of lnsd and the LACs (default: theirs, 16)")
    s.add_argument("--zlb-ack", default=None,
                   help="dialout: RFC 2661 §5.8 ZLB timer of lnsd and the LACs, e.g. 5ms; loadgen: lnsd's only "
                        "(default: theirs, 0s = a ZLB at the end of the loop pass)")
    s.add_argument("--loop-moderation", default=None,
                   help="loadgen: lnsd's loop-moderation, e.g. 300us (docs/lnsd.md; default: lnsd's, 0s = off)")
    s.add_argument("--cpe-restart", default=None,
                   help="dialout: cpe-emu's PPP restart timer, e.g. 100ms (default 3s; docs/performance.md)")
    s.add_argument("--events-flush", choices=("loop", "line"), default="loop",
                   help="dialout: daemons write their event logs once per loop pass (loop, default) or per "
                        "event (line, the daemons' own default)")
    s.add_argument("--profile", choices=("syscalls", "perf", "callgrind"), default=None,
                   help="dialout: profile lnsd during the triggers (perf trace -s / perf record / callgrind; "
                        "dlab/lnsd_profile.py, docs/performance.md)")
    s.add_argument("--deadline", type=float, default=None,
                   help="dialout: seconds to wait for every session to settle (default 60 + N/50)")
    s.add_argument("--json", action="store_true", help="dialout, loadgen, campaign, compare-lns: print the result as JSON")
    s.add_argument("--mode", choices=("dialout", "incoming"), default="dialout",
                   help="loadgen: dial-outs from lnsd (default) or incoming calls to it")
    s.add_argument("--ppp", choices=("none", "chap"), default="none",
                   help="loadgen --mode incoming: PPP on each call after ICCN (chap: LCP, CHAP with lnsd and its "
                        "LNS RADIUS, IPCP; a call counts at IPCP Opened), default none")
    s.add_argument("--sweep", default=None,
                   help="loadgen: comma-separated offered rates (per second), one run each, and the curve")
    s.add_argument("--plot", default=str(L.REPO / "docs/img/loadgen-dialout-curve.png"),
                   help="loadgen --sweep: where the latency-vs-offered-rate curve goes")
    s.add_argument("--radius-profile", choices=tuple(L.freeradius.PROFILES), default="bench",
                   help="loadgen: how FreeRADIUS is deployed (dlab/freeradius.py PROFILES): bench (default: no detail "
                        "files, no per-request log line, single-threaded -t), quiet / nodetail (steps between), lab "
                        "(what the tests run)")
    s.add_argument("--pin", action="store_true",
                   help="loadgen: lnsd alone on one core, dl_loadgen and FreeRADIUS on the others (sched_setaffinity)")
    s.add_argument("--loadgen-window", type=int, default=0,
                   help="loadgen: set-ups in flight at most in dl_loadgen (default 0: paced by --rate only)")
    s.add_argument("--dialouts", type=int, default=100,
                   help="campaign faults / kill: number of dial-outs (generated sites, default 100)")
    s.add_argument("--loss", type=float, default=0.3, help="campaign faults: drop probability per datagram (0.3)")
    s.add_argument("--duplicate", type=float, default=0.1,
                   help="campaign faults: duplication probability of a datagram not dropped (0.1)")
    s.add_argument("--reorder", type=float, default=0.1,
                   help="campaign faults: probability that a datagram is held behind the next one (0.1)")
    s.add_argument("--seed", type=int, default=1, help="campaign faults: seed of the relays' random choices")
    s.add_argument("--duration", type=float, default=60.0, help="campaign flood: seconds per flood (60)")
    s.add_argument("--floods", default=None,
                   help="campaign flood: comma-separated subset of sccrq,icrq,out-of-order,trigger (default all)")
    s.add_argument("--rss-bound", type=float, default=128.0,
                   help="campaign flood: lnsd's VmHWM must stay under this many MiB (128)")
    s.add_argument("--peer-hello", default="10s", help="campaign kill: lac-emu's Hello interval (10s)")
    s.add_argument("--peer-retransmit", default=None,
                   help="campaign kill: lac-emu's first retransmission timeout (default its own, 1s)")
    s.add_argument("--peer-tunnel-hold", default=None,
                   help="campaign kill: lac-emu's RFC 2661 §5.7 tunnel hold (default its own, 31s)")
    s.add_argument("--trigger-timer", default="30s",
                   help="campaign faults: lnsd's dial-out trigger timer (default 30s, lnsd's own)")
    s.add_argument("--rates", default="200,0",
                   help="compare-lns: offered set-up rates per second (tunnels, then sessions), comma-separated; "
                        "0 = as fast as the set-ups in flight allow (200,0)")
    s.add_argument("--tunnels-per-step", dest="cmp_tunnels", type=int, default=1000,
                   help="compare-lns: tunnels offered in each tunnels step (1000)")
    s.add_argument("--sessions-per-step", type=int, default=200,
                   help="compare-lns: incoming calls offered in each sessions step (200)")
    s.add_argument("--sessions-per-tunnel", type=int, default=10,
                   help="compare-lns: incoming calls per tunnel in the sessions steps; 0 = no sessions step (10)")
    s.add_argument("--hold", type=float, default=3.0,
                   help="compare-lns: seconds the generator holds what it set up before it tears it down (3)")
    s.add_argument("--binds", type=int, default=4, help="compare-lns: the generator's source addresses (4)")
    s.add_argument("--set-ups-in-flight", dest="in_flight", type=int, default=256,
                   help="compare-lns: set-ups the generator keeps in flight at most (256)")
    s.add_argument("--ramp-start", type=int, default=2000, help="compare-lns: tunnels of the first ramp step (2000)")
    s.add_argument("--ramp-max", type=int, default=64000,
                   help="compare-lns: the ramp stops at this many tunnels (64000; Tunnel IDs are 16 bits)")
    s.add_argument("--step-deadline", type=float, default=120.0,
                   help="compare-lns: seconds each generator run may take at most (120)")
    s.add_argument("--no-ramp", action="store_true", help="compare-lns: rate steps only")
    s.add_argument("--lns", default="xl2tpd,lnsd", help="compare-lns: the LNSs, in order (xl2tpd,lnsd)")
    s.set_defaults(func=cmd_bench)

    s = sub.add_parser("replay", help="replay a capture against lnsd (or lac-emu) and report every difference (docs/replay.md)")
    replay_cli.add_arguments(s)

    s = sub.add_parser("up", help="bring a lab up and leave it up")
    s.add_argument("topology", nargs="?", default="default")
    s.set_defaults(func=cmd_up)

    s = sub.add_parser("status", help="show the labs that are up")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("down", help="tear a lab down")
    s.add_argument("--all", action="store_true", help="every dl-* namespace and lab process")
    s.add_argument("--run", help="run id (default: the one lab that is up)")
    s.set_defaults(func=cmd_down)

    s = sub.add_parser("shell", help="a shell (or a command) inside a lab host")
    s.add_argument("host")
    s.add_argument("command", nargs=argparse.REMAINDER)
    s.add_argument("--run", help="run id (default: the one lab that is up)")
    s.set_defaults(func=cmd_shell)

    a = p.parse_args(argv)
    if not a.cmd:
        p.print_help()
        return 0
    L.install_signal_teardown()
    try:
        return a.func(a)
    except (T.TopologyError, L.LabError) as e:
        print(f"lab: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lab: interrupted; torn down", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
