"""Lab safety (DESIGN.md §7): teardown on success, failure and signals, stale runs, nothing left."""
import copy
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dlab import lab as L
from dlab import netns, procs
from dlab import topology as T
from dlab.wait import wait_for

pytestmark = [pytest.mark.lifecycle, pytest.mark.req("LAB.teardown")]
HERE = Path(__file__).parent
MINI = HERE / "topologies" / "mini.yaml"
REPO = HERE.parents[1]


def leftovers(runid: str) -> dict:
    ns = [n for n in netns.list_lab_namespaces() if n.startswith(f"dl-{runid}-")]
    reg = (L.REGISTRY / f"{runid}.json").exists()
    return {"namespaces": ns, "registered": reg}


def test_mini_lab_up_bridge_and_process_then_nothing_left():
    topo = T.load(MINI)
    with L.Lab(topo) as lab:
        runid = lab.runid
        # shared segment through the bridge in the switch namespace, and the p2p veth
        assert lab.ping("a", "198.51.100.3"), "a cannot reach c across the bridge"
        assert lab.ping("b", "198.51.100.1"), "b cannot reach a across the bridge"
        assert lab.ping("a", "192.0.2.2"), "p2p link down"
        idler = next(p for p in lab.procs if p.name == "idler")
        assert idler.alive()
        assert idler.pid in netns.pids(lab.ns("c")), "idler not in host c's namespace"
        pgid = idler.pgid
    assert leftovers(runid) == {"namespaces": [], "registered": False}
    assert not procs.pgid_alive(pgid), "tracked process group survived teardown"


def test_failure_mid_way_leaves_nothing():
    doc = T.yaml.safe_load(MINI.read_text())
    doc["processes"].append({"name": "broken", "host": "a", "argv": ["sh", "-c", "echo cannot start; exit 3"],
                             "ready": "never printed"})
    topo = T.parse(doc, MINI)
    lab = L.Lab(topo)
    with pytest.raises(L.LabError) as ei:
        lab.up()
    assert "broken exited (status 3)" in str(ei.value), str(ei.value)
    assert "cannot start" in str(ei.value), "the error should show the process's output"
    assert leftovers(lab.runid) == {"namespaces": [], "registered": False}


def test_exception_inside_with_block_tears_down():
    topo = T.load(MINI)
    runid = None
    with pytest.raises(RuntimeError):
        with L.Lab(topo) as lab:
            runid = lab.runid
            raise RuntimeError("test failed mid-way")
    assert leftovers(runid) == {"namespaces": [], "registered": False}


OWNER = """
import sys, signal
sys.path.insert(0, {py!r})
from dlab import lab as L, topology as T
L.install_signal_teardown()
with L.Lab(T.load({mini!r})) as lab:
    print("UP", lab.runid, flush=True)
    signal.pause()
"""


def start_owner():
    code = OWNER.format(py=str(REPO / "bindings" / "python"), mini=str(MINI))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                         start_new_session=True)
    line = p.stdout.readline().split()
    assert line and line[0] == "UP", f"owner did not come up: {line}"
    return p, line[1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_signal_tears_down(sig):
    p, runid = start_owner()
    assert leftovers(runid)["namespaces"], "lab did not come up"
    os.kill(p.pid, sig)
    p.wait(timeout=30)
    assert leftovers(runid) == {"namespaces": [], "registered": False}


def test_stale_run_of_dead_owner_is_removed_by_next_run():
    p, runid = start_owner()
    os.killpg(p.pid, signal.SIGKILL)   # the owner dies without tearing down
    p.wait(timeout=10)
    stale = leftovers(runid)
    assert stale["namespaces"] and stale["registered"], "SIGKILL should have left the run behind"
    removed = L.cleanup_stale()
    assert runid in removed
    assert leftovers(runid) == {"namespaces": [], "registered": False}


def test_cli_up_status_shell_down():
    env = dict(os.environ, PYTHONPATH=str(REPO / "bindings" / "python"))
    run = lambda *a: subprocess.run([sys.executable, "-m", "dlab.cli", *a], capture_output=True, text=True,
                                    env=env, timeout=120)
    up = run("up", str(MINI))
    assert up.returncode == 0, up.stderr
    runid = up.stdout.split()[1]
    try:
        st = run("status", "--json")
        assert st.returncode == 0, st.stderr
        import json
        runs = {r["runid"]: r for r in json.loads(st.stdout)}
        assert runid in runs and runs[runid]["persistent"]
        assert any(p["name"] == "idler" and p["alive"] for p in runs[runid]["processes"])
        sh = run("shell", "a", "ip", "-br", "addr")
        assert "192.0.2.1/30" in sh.stdout, f"./lab shell a did not run inside host a: {sh.stdout}{sh.stderr}"
    finally:
        down = run("down", "--run", runid)
    assert down.returncode == 0, down.stderr
    assert leftovers(runid) == {"namespaces": [], "registered": False}
