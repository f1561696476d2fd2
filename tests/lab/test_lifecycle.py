"""Lab safety (docs/architecture.md "Lab safety"): teardown on success, failure and signals, stale runs, nothing left."""
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


def _sigint_as_in_a_terminal() -> None:
    """Popen preexec_fn: SIGINT at its default, as for a terminal's foreground job. A job a shell
    starts in the background without job control (`cmd &` in a script, nohup) inherits SIGINT
    ignored, and a Python started so never raises KeyboardInterrupt: Ctrl-C could not be tested."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_owner():
    code = OWNER.format(py=str(REPO / "bindings" / "python"), mini=str(MINI))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=_sigint_as_in_a_terminal)
    line = p.stdout.readline().split()
    assert line and line[0] == "UP", f"owner did not come up: {line}"
    return p, line[1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_signal_tears_down(sig):
    p, runid = start_owner()
    assert leftovers(runid)["namespaces"], "lab did not come up"
    os.kill(p.pid, sig)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGTERM)  # the failed case must not leave its lab behind
        p.wait(timeout=30)
        raise AssertionError(f"the owner did not end within 30 s of {sig.name}") from None
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
        sh = run("shell", "--run", runid, "a", "ip", "-br", "addr")
        assert "192.0.2.1/30" in sh.stdout, f"./lab shell a did not run inside host a: {sh.stdout}{sh.stderr}"
    finally:
        down = run("down", "--run", runid)
    assert down.returncode == 0, down.stderr
    assert leftovers(runid) == {"namespaces": [], "registered": False}


TIMED_OUT = """
import threading
def test_stuck():
    threading.Event().wait()   # never set: a test that would stall the tier
"""


def test_per_test_timeout_fails_a_stuck_test(pytester):
    """pytest.ini sets a per-test time limit (pytest-timeout); a stuck test fails with it instead of
    stalling `./lab test`."""
    import configparser
    ini = configparser.ConfigParser()
    ini.read(REPO / "pytest.ini")
    assert int(ini["pytest"]["timeout"]) > 0, "pytest.ini sets no per-test timeout"
    assert ini["pytest"]["timeout_method"] == "signal", "the signal method lets the lab fixtures tear down"
    pytester.makepyfile(test_stuck=TIMED_OUT)
    result = pytester.runpytest_subprocess("-p", "timeout", "-o", "timeout=2", "-o", "timeout_method=signal")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Timeout*"])


# ---- an interrupted `./lab test` ---------------------------------------------------------------
# The driver runs pytest exactly as `./lab test --tier lab` does (testrun.run_pytest); the inner
# suite holds a mini lab in a module fixture, like the real suites. Only the runs this driver's
# pytest creates are looked at or touched.

DRIVER = """
import sys
sys.path.insert(0, {py!r})
from dlab import lab as L
from dlab.cli import testrun
L.install_signal_teardown()
try:
    sys.exit(testrun.run_pytest([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 "-p", "dlab.pytest_plugin", {inner!r}]))
except KeyboardInterrupt:
    sys.exit(130)
"""

INNER = """
import threading
import pytest
from dlab import lab as L, topology as T

@pytest.fixture(scope="module")
def held():
    with L.Lab(T.load({mini!r}), capture=False) as lab:
        yield lab

def test_holds_the_lab(held):
    threading.Event().wait()   # until interrupted
"""


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _runs_under(driver_pid: int) -> list[dict]:
    """Registered runs whose owner is the driver's pytest (a child of the driver), once the run
    has its tracked process up."""
    return [st for st in L.registered_runs()
            if _parent(int(st.get("owner_pid", 0))) == driver_pid and st.get("processes")]


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "pytest-killed"])
def test_interrupted_lab_test_leaves_no_namespace(tmp_path, how):
    """Ctrl-C (SIGINT to the whole foreground group), SIGTERM to `./lab test` alone, or pytest
    dying outright: no namespace, registry entry or tracked process of its labs survives."""
    inner = tmp_path / "test_inner.py"
    inner.write_text(INNER.format(mini=str(MINI)))
    code = DRIVER.format(py=str(REPO / "bindings" / "python"), inner=str(inner))
    env = dict(os.environ, PYTHONPATH=str(REPO / "bindings" / "python"))
    driver = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env, start_new_session=True,
                              preexec_fn=_sigint_as_in_a_terminal,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        runs = wait_for(lambda: _runs_under(driver.pid), 60, "the inner pytest's lab to come up")
    except BaseException:
        os.killpg(driver.pid, signal.SIGINT)
        driver.wait(timeout=60)
        raise
    runid = runs[0]["runid"]
    pgids = [p["pgid"] for p in runs[0]["processes"]]
    assert leftovers(runid)["namespaces"], "the lab did not come up"
    if how == "ctrl-c":
        os.killpg(driver.pid, signal.SIGINT)       # the terminal's Ctrl-C: every process of the group
    elif how == "sigterm":
        os.kill(driver.pid, signal.SIGTERM)         # e.g. CI cancelling the job: `./lab test` only
    else:
        os.kill(int(runs[0]["owner_pid"]), signal.SIGKILL)  # pytest dies without any teardown
    try:
        driver.wait(timeout=150)
    except subprocess.TimeoutExpired:
        # the failed case must not leave its lab behind: SIGTERM tears the inner pytest's labs down
        os.killpg(driver.pid, signal.SIGTERM)
        driver.wait(timeout=60)
        raise AssertionError(f"`./lab test` did not end within 150 s of {how}") from None
    assert leftovers(runid) == {"namespaces": [], "registered": False}, driver.stderr.read()
    assert not any(procs.pgid_alive(g) for g in pgids), "a tracked process of the lab survived"


def test_stale_run_whose_owner_pid_was_reused_is_removed_but_a_reused_process_pid_is_not_killed():
    """The registry names the owner and each process by pid and start time: a pid that now names
    another process counts as gone (the run is stale), and is never signalled."""
    p, runid = start_owner()
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    state_file = L.REGISTRY / f"{runid}.json"
    import json
    st = json.loads(state_file.read_text())
    # A stranger: alive, in its own process group, with a pid the run now claims for itself.
    stranger = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"], start_new_session=True)
    try:
        st["owner_pid"] = os.getpid()                      # the owner's pid, reused by this process
        st["processes"].append({"name": "reused", "host": "c", "pid": stranger.pid, "pgid": stranger.pid,
                                "log": "", "start_time": (procs.start_time(stranger.pid) or 0) + 1})
        state_file.write_text(json.dumps(st))
        removed = L.cleanup_stale()
        assert runid in removed, "a run whose owner pid names another process is stale"
        assert leftovers(runid) == {"namespaces": [], "registered": False}
        assert stranger.poll() is None, "the process now holding a recorded pid was killed"
    finally:
        stranger.kill()
        stranger.wait()


def test_cleanup_stale_spares_a_run_that_starts_meanwhile(monkeypatch):
    """A run registers itself, then creates its namespaces. A clean-up that read the registry just
    before such a run registered must not see the run's new namespace as an orphan."""
    runid = L.new_runid()
    name = netns.ns_name(runid, "x")
    state = L.REGISTRY / f"{runid}.json"
    real = L.registered_runs

    def registry_then_a_run_starts():
        runs = real()
        # right after this read, another run registers and creates its namespace
        import json
        L.REGISTRY.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps({"runid": runid, "owner_pid": os.getpid(),
                                     "owner_start": procs.start_time(os.getpid()),
                                     "namespaces": [name], "processes": []}))
        netns.create(name)
        return runs
    monkeypatch.setattr(L, "registered_runs", registry_then_a_run_starts)
    try:
        L.cleanup_stale()
        assert name in netns.list_lab_namespaces(), "the starting run's namespace was deleted"
    finally:
        netns.delete(name)
        state.unlink(missing_ok=True)
