"""./lab test in parallel (docs/reliability.md "Test time", "The namespace tiers in parallel"): the
fuzz tier runs its harnesses FUZZ_JOBS at a time and still judges each one; the lab tier's workers
on other machines (--tx) become the pytest-xdist arguments of dlab.cli.testrun.xdist_hosts."""
from __future__ import annotations

import os
import sys
import time
import xml.etree.ElementTree as ET

from dlab.cli import testrun

# A stand-in harness: it finishes only if its partner has started too (a marker file each, waited
# for with a deadline: 10 s, 1 s where the harnesses are meant to run one at a time), so a run one harness after the other fails both; `bad` exits 1 at once.
HARNESS = """#!/bin/sh
touch "{dir}/{name}.started"
i=0
while [ ! -e "{dir}/{partner}.started" ]; do
  i=$((i + 1)); [ $i -gt {polls} ] && {{ echo "{partner} never ran beside me"; exit 3; }}
  sleep 0.05
done
echo "stat::number_of_executed_units: 7"
"""


def _harnesses(tmp_path, monkeypatch, jobs):
    san = tmp_path / "build-fuzz"
    san.mkdir()
    for name, partner in (("a_fuzz", "b_fuzz"), ("b_fuzz", "a_fuzz")):
        h = san / name
        h.write_text(HARNESS.format(dir=tmp_path, name=name, partner=partner, polls=200 if jobs > 1 else 20))
        h.chmod(0o755)
    bad = san / "c_fuzz"
    bad.write_text("#!/bin/sh\necho 'ERROR: libFuzzer: deadly signal'\nexit 1\n")
    bad.chmod(0o755)
    monkeypatch.setattr(testrun, "SAN_DIR", san)
    monkeypatch.setattr(testrun, "RESULTS", tmp_path)
    monkeypatch.setattr(testrun, "_san_built", True)
    monkeypatch.setattr(testrun, "FUZZ_JOBS", jobs)


def test_fuzz_harnesses_run_side_by_side_and_each_is_judged(tmp_path, monkeypatch, capsys):
    _harnesses(tmp_path, monkeypatch, 2)
    t = testrun.run_fuzz()
    assert (t.passed, t.failed) == (2, 1)
    out = capsys.readouterr().out
    # reported in name order whatever finished first
    assert out.index("fuzz a_fuzz: 7 executions") < out.index("fuzz b_fuzz: 7 executions") < out.index(
        "fuzz c_fuzz: FINDING (exit 1)")
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "fuzz.xml").getroot()}
    assert sorted(cases) == ["a_fuzz", "b_fuzz", "c_fuzz"]
    assert cases["c_fuzz"].find("failure") is not None and cases["a_fuzz"].find("failure") is None


def test_fuzz_harnesses_one_at_a_time_when_told(tmp_path, monkeypatch, capsys):
    """DLAB_FUZZ_JOBS=1: a_fuzz, waiting for b_fuzz, gives up: the runs did not overlap (b_fuzz, run
    after it, finds a_fuzz's marker)."""
    _harnesses(tmp_path, monkeypatch, 1)
    t = testrun.run_fuzz()
    assert (t.passed, t.failed) == (1, 2)
    out = capsys.readouterr().out
    assert "fuzz a_fuzz: FINDING (exit 3)\nb_fuzz never ran beside me" in out
    assert "fuzz b_fuzz: 7 executions" in out


def test_workers_on_other_machines_become_xdist_specs_with_the_suites_copied():
    remote = "2*ssh=root@lab2//python=/usr/bin/python3//chdir=/srv/dialout-lab"
    args = testrun.xdist_hosts("3", [remote])
    tx = [args[i + 1] for i, a in enumerate(args) if a == "--tx"]
    assert tx == [f"3*popen//python={sys.executable}", remote]
    rsync = [args[i + 1] for i, a in enumerate(args) if a == "--rsyncdir"]
    assert rsync == [str(testrun.REPO / "tests"), str(testrun.REPO / "scenarios")]
    assert args[args.index("--dist") + 1] == "loadscope"  # a module's lab stays on one worker
    # -n 0 with --tx: every worker elsewhere, none here
    tx0 = [a for a in testrun.xdist_hosts("0", [remote]) if "popen" in a]
    assert tx0 == []


def test_third_party_stacks_run_during_the_lab_tier_unless_serial(monkeypatch, tmp_path):
    """Default run: the third-party stacks start before the lab tier's pytest and are waited for in
    their own tier; `-n 0` runs them after it, as their own tier."""
    import types
    order = []
    monkeypatch.setattr(testrun, "RESULTS", tmp_path)
    monkeypatch.setattr(testrun, "start_san_build", lambda nice=True: None)
    for name in ("run_unit", "run_fuzz"):
        monkeypatch.setattr(testrun, name, lambda *a, **k: testrun.Tally("x", passed=1))
    monkeypatch.setattr(testrun, "run_sanitize", lambda *a, **k: [testrun.Tally("sanitize", passed=1)])
    monkeypatch.setattr(testrun, "run_lab", lambda *a, **k: order.append("lab") or testrun.Tally("lab", passed=1))
    monkeypatch.setattr(testrun, "start_third_party",
                        lambda w: order.append("start third-party") or (testrun.Tally("third-party"), []))
    monkeypatch.setattr(testrun, "finish_third_party",
                        lambda st: order.append("finish third-party") or testrun.Tally("third-party", passed=2))
    monkeypatch.setattr(testrun, "run_third_party",
                        lambda w: order.append("third-party serial") or testrun.Tally("third-party", passed=2))
    assert testrun.run(types.SimpleNamespace(tier=None, keyword=None, workers="auto")) == 0
    assert order == ["start third-party", "lab", "finish third-party"]
    order.clear()
    assert testrun.run(types.SimpleNamespace(tier=None, keyword=None, workers="0")) == 0
    assert order == ["lab", "third-party serial"]


# A stand-in ci/build: records its niceness and arguments, then finishes only once the lab tier has
# run (its marker, waited for with a 10 s deadline), so a build that runs before the lab tier and
# not beside it fails; then, once the fuzz tier waits for it, at normal priority again (10 s
# deadline). FAIL in the environment makes it fail at once.
BUILD = """#!/bin/sh
cat /proc/self/autogroup > "{out}/autogroup" 2>/dev/null
nice > "{out}/nice.tmp" && mv "{out}/nice.tmp" "{out}/nice"
echo "$DL_BUILD_DIR $DL_CMAKE_ARGS" > "{out}/args"
[ -n "$FAIL" ] && {{ echo "clang++: error: boom"; exit 1; }}
i=0
while [ ! -e "{out}/lab-ran" ]; do
  i=$((i + 1)); [ $i -gt 200 ] && {{ echo "built before the lab tier ran"; exit 3; }}
  sleep 0.05
done
while [ "$(nice)" != 0 ]; do
  i=$((i + 1)); [ $i -gt 400 ] && {{ echo "still at nice $(nice) when waited for"; exit 4; }}
  sleep 0.05
done
cat /proc/self/autogroup > "{out}/autogroup-after" 2>/dev/null
exit 0
"""


def _fake_build(tmp_path, monkeypatch, order):
    import types
    repo = tmp_path / "repo"
    (repo / "ci").mkdir(parents=True)
    (repo / "ci" / "build").write_text(BUILD.format(out=tmp_path))
    (repo / "ci" / "build").chmod(0o755)
    monkeypatch.setattr(testrun, "REPO", repo)
    monkeypatch.setattr(testrun, "SAN_DIR", tmp_path / "build-fuzz")
    monkeypatch.setattr(testrun, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(testrun, "_san_built", None)
    monkeypatch.setattr(testrun, "_san_build", None)

    def unit(*a, **k):
        # the first tier runs while the build has started (it records its niceness first)
        order.append("unit")
        deadline = time.monotonic() + 10
        while testrun._san_build and not (tmp_path / "nice").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return testrun.Tally("unit", passed=1)
    monkeypatch.setattr(testrun, "run_unit", unit)

    def lab(*a, **k):
        order.append("lab")
        (tmp_path / "lab-ran").touch()
        return testrun.Tally("lab", passed=1)
    monkeypatch.setattr(testrun, "run_lab", lab)
    monkeypatch.setattr(testrun, "run_third_party", lambda w: testrun.Tally("third-party", passed=1))
    monkeypatch.setattr(testrun, "start_third_party", lambda w: (testrun.Tally("third-party"), []))
    monkeypatch.setattr(testrun, "finish_third_party", lambda st: testrun.Tally("third-party", passed=1))
    monkeypatch.setattr(testrun, "run_sanitize", lambda *a, **k: order.append("sanitize") or [
        testrun.Tally("sanitize", passed=1 if testrun.build_san() else 0, failed=0 if testrun._san_built else 1)])
    return types.SimpleNamespace(tier=None, keyword=None, workers="auto")


def test_sanitizer_build_runs_at_nice_19_beside_the_unit_and_lab_tiers(tmp_path, monkeypatch, capsys):
    """DLAB_SAN_BUILD_BESIDE=1: the clang build (build-fuzz/) starts before the first tier, at the lowest CPU
    priority, and the fuzz tier after the lab tier waits for it."""
    monkeypatch.setenv("DLAB_SAN_BUILD_BESIDE", "1")
    order = []
    a = _fake_build(tmp_path, monkeypatch, order)
    assert testrun.run(a) == 0
    out = capsys.readouterr().out
    assert order == ["unit", "lab", "sanitize"]
    assert out.index("=== tier lab ===") < out.index("=== tier fuzz ===") < out.index("=== tier sanitize ===")
    assert "fuzz: 0 passed, 0 failed (no harness built)" in out
    assert "sanitize: 1 passed, 0 failed" in out
    assert (tmp_path / "nice").read_text().strip() == "19"
    if os.path.exists("/proc/self/autogroup"):
        # its own session's autogroup at nice 19 too (else it would share the CPU with the tests'
        # session half and half whatever its processes' niceness), 0 once waited for
        assert (tmp_path / "autogroup").read_text().split()[-2:] == ["nice", "19"]
        assert (tmp_path / "autogroup-after").read_text().split()[-2:] == ["nice", "0"]
    args = (tmp_path / "args").read_text()
    assert args.startswith(str(tmp_path / "build-fuzz") + " ") and "-DDL_FUZZ=ON" in args
    assert "sanitizer build (build-fuzz/)" in out


def test_sanitizer_build_serial_with_n_0_and_its_failure_fails_both_tiers(tmp_path, monkeypatch, capsys):
    """`-n 0`: built when the fuzz tier needs it, at normal priority; a failed build prints its
    output and fails the fuzz and the sanitize tier."""
    order = []
    a = _fake_build(tmp_path, monkeypatch, order)
    a.workers = "0"
    monkeypatch.setenv("FAIL", "1")
    assert testrun.run(a) == 1
    out = capsys.readouterr().out
    assert (tmp_path / "nice").read_text().strip() == "0"
    assert "clang++: error: boom" in out
    assert "fuzz: 0 passed, 1 failed (sanitizer build failed)" in out
    assert "sanitize: 0 passed, 1 failed" in out


def test_interrupted_run_ends_the_background_sanitizer_build(tmp_path, monkeypatch):
    """A tier that raises (Ctrl-C) ends the background build's whole process group."""
    monkeypatch.setenv("DLAB_SAN_BUILD_BESIDE", "1")
    import pytest
    order = []
    a = _fake_build(tmp_path, monkeypatch, order)

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(testrun, "run_lab", interrupted)
    with pytest.raises(KeyboardInterrupt):
        testrun.run(a)
    p = testrun._san_build[0]
    assert p.poll() is not None and p.returncode != 0
    with pytest.raises(ProcessLookupError):  # nothing of its process group is left
        os.killpg(p.pid, 0)
