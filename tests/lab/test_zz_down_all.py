"""`./lab down --all` removes every dl-* namespace and every lab process. It runs last in this
folder (name order) because it removes every lab on the machine, by design."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlab import lab as L
from dlab import netns, procs

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.lifecycle
@pytest.mark.req("LAB.teardown")
@pytest.mark.skipif(bool(os.environ.get("PYTEST_XDIST_WORKER")),
                    reason="removes every lab on the machine: only in a serial run (other workers' labs are up)")
def test_down_all_leaves_no_namespace_and_no_process():
    env = dict(os.environ, PYTHONPATH=str(REPO / "bindings" / "python"))
    mini = str(Path(__file__).parent / "topologies" / "mini.yaml")
    up = subprocess.run([sys.executable, "-m", "dlab.cli", "up", mini], capture_output=True, text=True, env=env)
    assert up.returncode == 0, up.stderr
    # an orphan namespace with a process in it and no registry entry (e.g. a crashed older version)
    subprocess.run(["ip", "netns", "add", "dl-orphan0-x"], check=True)
    orphan = subprocess.Popen(["ip", "netns", "exec", "dl-orphan0-x", "/usr/bin/python3", "-c",
                               "import signal; signal.pause()"], start_new_session=True)
    tracked = [p["pgid"] for r in L.registered_runs() for p in r["processes"]]
    assert tracked, "the persistent lab should track its idler process"
    down = subprocess.run([sys.executable, "-m", "dlab.cli", "down", "--all"], capture_output=True, text=True, env=env)
    assert down.returncode == 0, down.stderr
    orphan.wait(timeout=10)
    assert netns.list_lab_namespaces() == [], "namespaces left after down --all"
    assert L.registered_runs() == [], "registry entries left after down --all"
    assert not any(procs.pgid_alive(g) for g in tracked), "tracked processes left after down --all"
