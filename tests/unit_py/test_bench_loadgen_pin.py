"""`./lab bench loadgen --pin` (dlab.cli.bench_loadgen.pin_cores): lnsd alone on one CPU, the other
lab processes and the bench itself (so the generator it starts next) on the rest, and the bench's
own mask restored afterwards. Checked on real child processes' masks (sched_getaffinity)."""
from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from dlab.cli import bench_loadgen as B

CPUS = sorted(os.sched_getaffinity(0))
pytestmark = pytest.mark.skipif(len(CPUS) < 2, reason="pinning needs at least 2 CPUs")

# a child with a second thread: pinning must reach every thread of a process, not only its first
CHILD = ("import threading, sys\n"
         "t = threading.Thread(target=sys.stdin.read, daemon=True); t.start()\n"
         "print('up', flush=True); t.join()\n")


def child() -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "up", "child did not start"
    return p


def masks(pid: int) -> list[set[int]]:
    return [os.sched_getaffinity(tid) for tid in B._tasks(pid)]


def test_pin_gives_lnsd_one_cpu_and_the_rest_to_everything_else():
    own_before = os.sched_getaffinity(0)
    lnsd, radius = child(), child()
    lab = SimpleNamespace(procs=[SimpleNamespace(pid=radius.pid), SimpleNamespace(pid=lnsd.pid)])
    pinned = None
    try:
        pinned = B.pin_cores(lab, lnsd.pid)
        assert pinned == {"lnsd": [CPUS[-1]], "lab": CPUS[:-1], "all": CPUS}, pinned
        assert len(masks(lnsd.pid)) == 2 and all(m == {CPUS[-1]} for m in masks(lnsd.pid)), masks(lnsd.pid)
        assert len(masks(radius.pid)) == 2 and all(m == set(CPUS[:-1]) for m in masks(radius.pid)), masks(radius.pid)
        assert os.sched_getaffinity(0) == set(CPUS[:-1]), "the bench (and the generator it starts) off lnsd's CPU"
        # a process started now inherits the lab's CPUs
        gen = child()
        try:
            assert all(m == set(CPUS[:-1]) for m in masks(gen.pid)), masks(gen.pid)
        finally:
            gen.stdin.close()
            gen.wait(10)
    finally:
        B.unpin_self(pinned)
        for p in (lnsd, radius):
            p.stdin.close()
            p.wait(10)
    assert os.sched_getaffinity(0) == own_before == set(CPUS), "unpin_self restores the bench's mask"


def test_pin_skips_a_process_that_has_exited():
    lnsd, gone = child(), child()
    gone.stdin.close()
    gone.wait(10)
    lab = SimpleNamespace(procs=[SimpleNamespace(pid=gone.pid), SimpleNamespace(pid=lnsd.pid)])
    pinned = None
    try:
        pinned = B.pin_cores(lab, lnsd.pid)
        assert pinned is not None and all(m == {CPUS[-1]} for m in masks(lnsd.pid))
    finally:
        B.unpin_self(pinned)
        lnsd.stdin.close()
        lnsd.wait(10)
    assert B._tasks(gone.pid) == [], "an exited process has no threads to pin"
