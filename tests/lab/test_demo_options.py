"""`./lab demo` options: `--json` (the timeline as JSON, nothing else on stdout),
`--keep` (the lab stays up and registered for `./lab shell` / `./lab down`), `--scenario NAME`
(any scenario of the library: a topology, or a YAML scenario of scenarios/examples by its name).

Runs `python3 -m dlab.cli demo …` the way ./lab does after its build step (./lab = setup-deps +
ci/build + this module): DL_BUILD_DIR names the build, nothing is built here. Each demo brings up its
own lab (dl-<runid>-*); the kept one is torn down by `dlab.cli down --run <runid>` (and in a finally).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dlab import lab as L
from dlab.dialout_lab import build_dir_or_skip
from dlab.lab import REPO

# The hops of the default dial-out, in the order they must appear in the timeline.
HOPS = ["dialout.session default/10.10.0.0/16/10.10.1.1: · → authenticating on trigger",
        "RADIUS Access-Request", "RADIUS Access-Accept",
        "→ connecting on aaa-grant",
        "SCCRQ", "SCCRP", "SCCCN", "OCRQ", "OCRP", "OCCN",
        "→ inService on route-verified"]


def _env(bdir) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "bindings/python"), str(bdir / "bindings"),
                                         env.get("PYTHONPATH", "")])
    env["DL_BUILD_DIR"] = str(bdir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture(scope="module")
def bdir():
    return build_dir_or_skip()


def demo(bdir, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dlab.cli", "demo", *args], cwd=REPO, env=_env(bdir),
                          capture_output=True, text=True, timeout=timeout)


def parse(cp: subprocess.CompletedProcess) -> dict:
    try:
        return json.loads(cp.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"--json: stdout is one JSON document ({e}); exit {cp.returncode}\n"
                             f"stdout: {cp.stdout[-2000:]}\nstderr: {cp.stderr[-2000:]}") from None


def index_of(timeline: list[dict], needle: str, after: int = -1) -> int:
    for i, x in enumerate(timeline):
        if i > after and needle in x["what"]:
            return i
    raise AssertionError(f"timeline: no {needle!r} after entry {after}:\n" +
                         "\n".join(f"{x['ms']:9.1f} {x['source']:10} {x['what']}" for x in timeline))


def lab_namespaces(runid: str) -> list[str]:
    return [n for n in L.netns.list_lab_namespaces() if n.startswith(f"dl-{runid}-")]


@pytest.mark.req("DEMO.options", "LAB.teardown", "LAB.capture")
def test_demo_json_timeline_has_the_hops_in_order(bdir):
    cp = demo(bdir, "--json")
    r = parse(cp)
    assert cp.returncode == 0 and r["ok"] is True and r["session_state"] == "inService", \
        f"the default demo reaches inService: exit {cp.returncode}, {r.get('session_state')}\n{cp.stderr[-2000:]}"
    tl = r["timeline"]
    assert all(set(x) >= {"t", "ms", "source", "what"} for x in tl), f"timeline entries: {tl[:3]}"
    assert [x["ms"] for x in tl] == sorted(x["ms"] for x in tl), "the timeline is in time order"
    at = -1
    for hop in HOPS:
        at = index_of(tl, hop, at)
    assert {x["source"] for x in tl} >= {"lnsd", "wire:aaa", "wire:core"}, \
        f"lnsd's transitions and both captures merged: {sorted({x['source'] for x in tl})}"
    assert r["ping_replies"] > 0, f"the pings are answered over the dial-out: {r['ping_replies']}"
    assert os.path.exists(os.path.join(r["run_folder"], "timeline.json")), "timeline.json in the run folder"
    assert r["kept"] is False and not lab_namespaces(r["runid"]), \
        f"without --keep the lab is torn down: {lab_namespaces(r['runid'])}"


@pytest.mark.req("DEMO.options", "EXCH.busy")
def test_demo_keep_with_a_library_scenario(bdir):
    runid = None
    try:
        cp = demo(bdir, "--json", "--keep", "--scenario", "busy-site")
        r = parse(cp)
        runid = r.get("runid")
        assert cp.returncode == 0 and r["scenario"] == "busy-site", \
            f"a library scenario runs: exit {cp.returncode}\n{cp.stderr[-2000:]}"
        assert r["session_state"] == "inhibited", \
            f"busy-site (scenarios/examples/busy_site.yaml): the busy line inhibits the session: {r['session_state']}"
        tl = r["timeline"]
        at = index_of(tl, "OCRQ")
        at = index_of(tl, "CDN", at)
        index_of(tl, "connecting → inhibited on call-failed", -1)
        # --keep: the lab is still up and registered; ./lab shell works; ./lab down removes it.
        assert r["kept"] is True and lab_namespaces(runid), f"--keep leaves lab {runid}'s namespaces up"
        st = subprocess.run([sys.executable, "-m", "dlab.cli", "status", "--json"], cwd=REPO, env=_env(bdir),
                            capture_output=True, text=True, timeout=60)
        assert runid in st.stdout, f"./lab status lists the kept lab {runid}: {st.stdout[-1000:]}"
        sh = subprocess.run([sys.executable, "-m", "dlab.cli", "shell", "--run", runid, "lns", "ip", "-br", "addr"],
                            cwd=REPO, env=_env(bdir), capture_output=True, text=True, timeout=60)
        assert "198.51.100.1" in sh.stdout, f"./lab shell lns in the kept lab: {sh.stdout} {sh.stderr}"
        down = subprocess.run([sys.executable, "-m", "dlab.cli", "down", "--run", runid], cwd=REPO,
                              env=_env(bdir), capture_output=True, text=True, timeout=120)
        assert down.returncode == 0 and not lab_namespaces(runid), \
            f"./lab down --run {runid}: {down.stdout} {down.stderr}; left {lab_namespaces(runid)}"
    finally:
        if runid and lab_namespaces(runid):
            st = next((x for x in L.registered_runs() if x["runid"] == runid), None)
            if st:
                L.teardown_state(st)


@pytest.mark.req("DEMO.options")
def test_demo_unknown_scenario_names_the_library(bdir):
    cp = demo(bdir, "--json", "--scenario", "no-such-thing", timeout=60)
    assert cp.returncode == 2, f"an unknown scenario is an error: exit {cp.returncode} {cp.stdout} {cp.stderr}"
    assert "no-such-thing" in cp.stderr and "busy_site" in cp.stderr and "default" in cp.stderr, \
        f"the error names what exists: {cp.stderr}"
