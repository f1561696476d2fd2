"""Profiles of lnsd during a load benchmark (`./lab bench dialout --profile KIND`, docs/performance.md
"lnsd CPU per call: profile and cuts").

KIND, each attached to lnsd for the trigger phase only (from just before the first trigger until
every session is final), each leaving its raw file in the run folder:
- `syscalls`: `perf trace -s -p <lnsd>` (kernel tracepoints, work where hardware counters do not):
  system calls per call by name;
- `perf`: `perf record -e cpu-clock -g -p <lnsd>` (sampling): the hottest functions, self time,
  and the samples split by their call chains (perf_cpu_split): user space, lnsd's own kernel work,
  and the network receive work (softirq) its sends run in its context for the receivers;
- `callgrind`: lnsd runs under `valgrind --tool=callgrind` (through $DLAB_LNSD_WRAPPER) with
  instrumentation off until the triggers start (`callgrind_control -i on`), then dumped
  (`callgrind_control -d`): instructions per call, repeatable on a loaded machine, and the
  inclusive cost per function (`callgrind_annotate --inclusive=yes`). lnsd runs ~50× slower: offer
  a low rate (e.g. 20/s).
The first two tools slow lnsd's system calls (perf trace) or its loop (sampling) a little; the
callgrind one a lot: a run's `cpu_ms_per_call` is not a figure of lnsd when profiled.
"""
from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

from .wait import wait_for

KINDS = ("syscalls", "perf", "callgrind")


class LnsdProfile:
    """One profile of one lnsd process; `wrapper()` before lnsd starts, `start(pid)` before the
    triggers, `stop(calls)` after (returns the figures as a dict, also with the raw files' paths)."""

    def __init__(self, kind: str, run_dir: Path):
        if kind not in KINDS:
            raise ValueError(f"--profile {kind}: must be one of {', '.join(KINDS)}")
        self.kind, self.run_dir = kind, run_dir
        self.pid = 0
        self.proc: subprocess.Popen | None = None
        self.raw = run_dir / {"syscalls": "lnsd-syscalls.txt", "perf": "lnsd-perf.data",
                              "callgrind": "lnsd-callgrind.out"}[kind]

    def wrapper(self) -> str:
        """The $DLAB_LNSD_WRAPPER lnsd must start under ("" for none)."""
        if self.kind != "callgrind":
            return ""
        return f"valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file={self.raw}"

    def start(self, pid: int) -> None:
        self.pid = pid
        if self.kind == "syscalls":
            self.proc = subprocess.Popen(["perf", "trace", "-s", "-p", str(pid), "-o", str(self.raw)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elif self.kind == "perf":
            self.proc = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-g", "-p", str(pid),
                                          "-o", str(self.raw)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            subprocess.run(["callgrind_control", "-i", "on", str(pid)], check=True, capture_output=True, timeout=60)
        if self.proc is not None:  # perf creates its output file once attached: wait for that
            wait_for(lambda: self.raw.exists() or self.proc.poll() is not None, 10.0, f"perf to attach to lnsd {pid}")
            if self.proc.poll() is not None:
                raise RuntimeError(f"perf exited ({self.proc.returncode}) before the triggers: --profile {self.kind}")

    def stop(self, calls: int) -> dict:
        calls = max(1, calls)
        out: dict = {"kind": self.kind, "raw": str(self.raw)}
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.kind == "syscalls":
            counts = parse_perf_trace_summary(self.raw.read_text(errors="replace"))
            out["per_call"] = {k: round(v / calls, 2) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}
            out["total_per_call"] = round(sum(counts.values()) / calls, 2)
        elif self.kind == "perf":
            rep = subprocess.run(["perf", "report", "-i", str(self.raw), "--no-children", "--stdio", "-g", "none",
                                  "--percent-limit", "0.3", "--sort", "dso,symbol"],
                                 capture_output=True, text=True, timeout=600)
            (self.run_dir / "lnsd-perf-report.txt").write_text(rep.stdout)
            out["report"] = str(self.run_dir / "lnsd-perf-report.txt")
            out["top"] = [ln.strip() for ln in rep.stdout.splitlines() if ln.strip() and not ln.startswith("#")][:25]
            script = subprocess.run(["perf", "script", "-i", str(self.raw), "-F", "ip,sym"],
                                    capture_output=True, text=True, timeout=600)
            out["split"] = perf_cpu_split(script.stdout)
        else:
            subprocess.run(["callgrind_control", "-d", str(self.pid)], check=True, capture_output=True, timeout=120)
            subprocess.run(["callgrind_control", "-i", "off", str(self.pid)], capture_output=True, timeout=60)
            dumps = sorted(self.raw.parent.glob(self.raw.name + ".*"), key=lambda p: p.stat().st_mtime)
            if not dumps:
                raise RuntimeError(f"callgrind wrote no dump next to {self.raw}")
            dump = dumps[-1]
            ir = callgrind_total(dump.read_text(errors="replace"))
            ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=99.5", str(dump)],
                                 capture_output=True, text=True, timeout=600)
            (self.run_dir / "lnsd-callgrind-inclusive.txt").write_text(ann.stdout)
            out.update(dump=str(dump), instructions=ir, instructions_per_call=round(ir / calls),
                       inclusive=str(self.run_dir / "lnsd-callgrind-inclusive.txt"))
        return out


# Kernel functions of the network receive path (softirq): on veth the sender's system call runs the
# receiver's input (veth_xmit → netif_rx → do_softirq → net_rx_action → … → udp_rcv → the
# receiving socket), so that work is sampled in the sender's context.
RX_SOFTIRQ = frozenset({"net_rx_action", "process_backlog", "__netif_receive_skb", "__netif_receive_skb_one_core"})


def perf_cpu_split(script: str) -> dict:
    """Shares (%) of `perf script -F ip,sym` samples (one call chain per blank-line-separated
    block, leaf first; kernel addresses start with ffffffff): `user` (no kernel frame),
    `rx_softirq` (a frame of RX_SOFTIRQ: receive work — on veth mostly the peers' UDP input of
    what lnsd sent), `own_kernel` (the rest: lnsd's system calls, page faults, interrupts), and
    `syscalls` the own_kernel share per outermost __x64_sys_* frame."""
    counts = {"user": 0, "own_kernel": 0, "rx_softirq": 0}
    syscalls: dict[str, int] = {}
    for block in script.split("\n\n"):
        frames = [ln.split(None, 1) for ln in block.strip().splitlines()]
        frames = [f for f in frames if f]
        if not frames:
            continue
        kernel = [f[1] if len(f) > 1 else "?" for f in frames if f[0].startswith("ffffffff")]
        if not kernel:
            counts["user"] += 1
        elif RX_SOFTIRQ.intersection(kernel):
            counts["rx_softirq"] += 1
        else:
            counts["own_kernel"] += 1
            calls = [k for k in kernel if k.startswith("__x64_sys_")]
            name = calls[-1][len("__x64_sys_"):] if calls else "other"
            syscalls[name] = syscalls.get(name, 0) + 1
    total = max(1, sum(counts.values()))
    out = {k: round(100 * v / total, 1) for k, v in counts.items()}
    out["samples"] = sum(counts.values())
    out["syscalls"] = {k: round(100 * v / total, 1) for k, v in sorted(syscalls.items(), key=lambda kv: -kv[1])[:12]}
    return out


def parse_perf_trace_summary(text: str) -> dict[str, int]:
    """System call counts by name from `perf trace -s` output, summed over lnsd's threads."""
    counts: dict[str, int] = {}
    for ln in text.splitlines():
        m = re.match(r"^\s+([a-z_0-9]+)\s+(\d+)\s+\d+\s+[\d.]+", ln)
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + int(m.group(2))
    return counts


def callgrind_total(text: str) -> int:
    """Instructions (Ir) of a callgrind dump: its `summary:` (or `totals:`) line."""
    for key in ("summary:", "totals:"):
        for ln in text.splitlines():
            if ln.startswith(key):
                return int(ln.split()[1])
    raise ValueError("no summary line in the callgrind dump")
