"""`./lab test`: every tier that can run here, one summary line each, then `N passed, N failed`.

Tiers (the default runs them all, in this order): unit (GoogleTest through ctest, build/), lab
(pytest namespace suites: tests/unit_py (the Python bindings), tests/lab, tests/conformance,
tests/interop, and the user-scenario examples under scenarios/examples (docs/scenarios.md)),
third-party (the RFC 2661 suite against xl2tpd and l2tpns through ci/conformance, both at the same
time and, in a run with the lab tier, during it; each held to its baseline in docs/conformance/),
fuzz (each libFuzzer harness for a short bounded run, one per CPU at a time), sanitize (the unit
tests again, then a bounded namespace subset with every daemon sanitized; any sanitizer report in
a daemon's log is a failure). The namespace tiers run in parallel unless `-n 0`
(docs/reliability.md "The namespace tiers in parallel", also for workers on other machines:
`--tx`).

fuzz and sanitize share ONE clang build under build-fuzz/ (SAN_CMAKE): every library, daemon and
unit test is compiled with -fsanitize=address,undefined -fno-sanitize-recover=all (UBSan fatal),
the libraries and harnesses also with -fsanitize=fuzzer-no-link; only the harnesses link
libFuzzer, the daemons and unit tests link ASan + UBSan alone. Unless `-n 0`, that build starts
at nice 19 in the background before the first tier (start_san_build) and takes the CPU the unit,
lab and third-party tiers leave idle; the fuzz tier waits for what is left of it
(docs/reliability.md "Test time"). JUnit XML for each tier goes to build/test-results/.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import lab as L
from ..lab import REPO

RESULTS = REPO / "build" / "test-results"
# The one sanitizer build: libFuzzer harnesses, and the daemons and unit tests with ASan + UBSan.
SAN_DIR = REPO / "build-fuzz"
SAN_CMAKE = {"CMAKE_CXX_COMPILER": "clang++", "DL_FUZZ": "ON", "DL_TESTS": "ON", "DL_BENCH": "OFF",
             "DL_PYTHON": "OFF", "CMAKE_BUILD_TYPE": "RelWithDebInfo"}
# The namespace suites the sanitize tier runs with the sanitized daemons (a bounded subset: the
# whole lab tier twice would not fit the 45-minute budget, docs/reliability.md): lnsd under the
# RFC 2661 suite's malformed, duplicated and out-of-order input, and the dial-out suites, whose
# calls cross every daemon (lnsd, lac-emu, isdn-emu, cpe-emu).
SAN_LAB_DIRS = ("tests/conformance/rfc2661", "tests/conformance/dialout")
# A finding stops the process (UBSan is also fatal at compile time: -fno-sanitize-recover=all).
# alloc_dealloc_mismatch=0: clang's ASan with Debian 12's libstdc++ 12 reports std::stable_sort's
# temporary buffer (operator new(nothrow), released through free) as a mismatch, inside the
# standard library (34 unit tests stopped on it, none in the project's code).
SAN_ENV = {"ASAN_OPTIONS": "abort_on_error=1:detect_leaks=1:print_summary=1:alloc_dealloc_mismatch=0",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
SAN_REPORT = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")
FUZZ_SECONDS = int(os.environ.get("DLAB_FUZZ_SECONDS", "8"))
# Harnesses fuzzed at the same time (libFuzzer runs single-threaded): one per CPU unless told.
FUZZ_JOBS = max(1, int(os.environ.get("DLAB_FUZZ_JOBS", "0")) or os.cpu_count() or 1)
# libFuzzer's inputs stay within the largest seed or 4096 octets unless told: lnsd_fuzz's records
# carry datagrams as long as UDP allows (65 535 octets plus the 3-octet record header).
FUZZ_MAX_LEN = {"lnsd_fuzz": 65538}


@dataclass
class Tally:
    tier: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    note: str = ""

    def line(self) -> str:
        s = f"{self.tier}: {self.passed} passed, {self.failed} failed"
        if self.skipped:
            s += f", {self.skipped} skipped"
        return s + (f" ({self.note})" if self.note else "")


def junit_counts(path: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) from a JUnit XML file (ctest or pytest flavour)."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failed = skipped = 0
    for s in suites:
        tests += int(s.get("tests", 0))
        failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
        skipped += int(s.get("skipped", s.get("disabled", 0)) or 0)
    return tests - failed - skipped, failed, skipped


def run_unit(build: Path = REPO / "build", name: str = "unit", env: dict | None = None) -> Tally:
    t = Tally(name)
    xml = RESULTS / f"{name}.xml"
    xml.unlink(missing_ok=True)
    cp = subprocess.run(["ctest", "--test-dir", str(build), "-j2", "--output-on-failure",
                         "--no-tests=error", "--output-junit", str(xml)], text=True,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    if xml.exists():
        t.passed, t.failed, t.skipped = junit_counts(xml)
    if cp.returncode != 0:
        print(cp.stdout[-20000:])
        if t.failed == 0:
            t.failed, t.note = 1, f"ctest exited {cp.returncode}"
    return t


def _cache_matches(build: Path, want: dict[str, str]) -> bool:
    """Whether build/CMakeCache.txt holds every `want` value (a compiler by its file name)."""
    try:
        cache = (build / "CMakeCache.txt").read_text(errors="replace").splitlines()
    except OSError:
        return False
    have = {ln.split(":", 1)[0]: ln.split("=", 1)[1] for ln in cache if "=" in ln and ":" in ln.split("=", 1)[0]}
    return all((Path(have.get(k, "")).name if k == "CMAKE_CXX_COMPILER" else have.get(k, "")).lower() == v.lower()
               for k, v in want.items())


_san_built: bool | None = None
# The sanitizer build running in the background (start_san_build): process, log, start time.
_san_build: tuple[subprocess.Popen, object, float] | None = None


def start_san_build(nice: bool = True) -> None:
    """Start the sanitizer build (build-fuzz/, SAN_CMAKE) in the background, once per `./lab test`;
    build_san() waits for it. `nice`: at the lowest CPU priority (nice 19), so that it takes only
    the CPU the tiers running beside it leave idle: the lab tier's namespace tests mostly wait on
    protocol timers (docs/reliability.md "Test time"), and keep their speed. A build-fuzz/
    configured otherwise (e.g. without the unit tests) is configured afresh. Output goes to
    build/test-results/build-fuzz.log, printed by build_san() if the build fails."""
    global _san_build
    if _san_built is not None or _san_build is not None:
        return
    if SAN_DIR.exists() and not _cache_matches(SAN_DIR, SAN_CMAKE):
        import shutil
        shutil.rmtree(SAN_DIR)
    args = " ".join(f"-D{k}={v}" for k, v in SAN_CMAKE.items())
    env = dict(os.environ, DL_BUILD_DIR=str(SAN_DIR), DL_CMAKE_ARGS=args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = open(RESULTS / "build-fuzz.log", "w+")
    # Its own session and process group, so that stop_san_build() ends cmake, ninja and the
    # compilers together and build_san() can raise their priority; the niceness is set in the
    # child before ci/build starts (no thread of this process runs yet), so it is in place when
    # Popen returns.
    p = subprocess.Popen([str(REPO / "ci" / "build")], env=env, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True, preexec_fn=_lowest_priority if nice else None)
    _san_build = (p, log, time.monotonic())


def _set_autogroup_nice(pid: int | str, value: int) -> None:
    """With the kernel's session autogroups (sched_autogroup_enabled, on in Debian's kernels) the
    scheduler shares the CPU between sessions first and by niceness only inside one: a session of
    its own competes at its autogroup's niceness (/proc/<pid>/autogroup, sched(7))."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(value))
    except OSError:
        pass  # no autogroups, or not allowed to raise the priority


def _lowest_priority() -> None:
    """In the background build's child, after setsid: nice 19, for the process and its session."""
    os.nice(19)
    _set_autogroup_nice("self", 19)


def stop_san_build() -> None:
    """End a background sanitizer build that is still running (an interrupted `./lab test`): SIGTERM
    to its process group, SIGKILL to what is left of it after 10 s."""
    if _san_build is None or _san_build[0].poll() is not None:
        return
    p = _san_build[0]
    deadline = time.monotonic() + 10
    sig = signal.SIGTERM
    while True:
        try:
            os.killpg(p.pid, sig if sig else 0)  # 0: is any process of the group left?
        except ProcessLookupError:
            break
        p.poll()  # reap ci/build itself, the group's leader
        if time.monotonic() > deadline:
            sig = signal.SIGKILL
        elif sig == signal.SIGTERM:
            sig = None
        time.sleep(0.05)
    p.wait()


def build_san() -> bool:
    """The sanitizer build, once per `./lab test`: waits for the one start_san_build() started, at
    normal priority from then on (or starts it now, at normal priority); its output only on
    failure."""
    global _san_built
    if _san_built is None:
        if _san_build is None:
            start_san_build(nice=False)
        p, log, started = _san_build
        waited = time.monotonic()
        if p.poll() is None:
            # Nothing of this run is left to share the CPU with: the rest at normal priority, as
            # when built on demand (the compilers already running keep nice 19 until they end).
            try:
                os.setpriority(os.PRIO_PGRP, p.pid, 0)
            except OSError:
                pass
            _set_autogroup_nice(p.pid, 0)
        rc = p.wait()
        if rc != 0:
            log.seek(0)
            print(log.read()[-20000:])
        log.close()
        _san_built = rc == 0
        now = time.monotonic()
        print(f"  sanitizer build ({SAN_DIR.name}/): {(now - started) / 60:.1f} min"
              + (f", {(now - waited) / 60:.1f} min of it waited for here" if waited - started > 1 else ""),
              flush=True)
    return _san_built


def run_fuzz() -> Tally:
    t = Tally("fuzz")
    if not build_san():
        t.failed, t.note = 1, "sanitizer build failed"
        return t
    harnesses = sorted(p for p in SAN_DIR.rglob("*_fuzz") if p.is_file() and os.access(p, os.X_OK))
    if not harnesses:
        t.note = "no harness built"
        return t
    cases = ET.Element("testsuite", name="fuzz")

    def fuzz(h: Path) -> subprocess.CompletedProcess:
        corpus = SAN_DIR / "corpus" / h.name
        corpus.mkdir(parents=True, exist_ok=True)
        seeds = [str(p) for p in sorted((REPO).glob(f"**/fuzz/corpus/{h.name}")) if p.is_dir()]
        max_len = [f"-max_len={FUZZ_MAX_LEN[h.name]}"] if h.name in FUZZ_MAX_LEN else []
        return subprocess.run([str(h), f"-max_total_time={FUZZ_SECONDS}", "-print_final_stats=1",
                               "-timeout=5", "-rss_limit_mb=2048", *max_len, str(corpus), *seeds],
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=SAN_DIR)

    # A libFuzzer run is one thread: FUZZ_JOBS harnesses at a time (one per CPU), each still its own
    # process, corpus folder and FUZZ_SECONDS, reported in name order.
    with ThreadPoolExecutor(max_workers=FUZZ_JOBS) as pool:
        runs = list(pool.map(fuzz, harnesses))
    for h, cp in zip(harnesses, runs):
        execs = next((ln.rsplit(":", 1)[1].strip() for ln in cp.stdout.splitlines()
                      if ln.startswith("stat::number_of_executed_units")), "?")
        case = ET.SubElement(cases, "testcase", name=h.name, classname="fuzz")
        if cp.returncode == 0:
            t.passed += 1
            print(f"  fuzz {h.name}: {execs} executions in {FUZZ_SECONDS}s, no finding")
        else:
            t.failed += 1
            ET.SubElement(case, "failure", message=f"exit {cp.returncode}").text = cp.stdout[-8000:]
            print(f"  fuzz {h.name}: FINDING (exit {cp.returncode})\n{cp.stdout[-4000:]}")
    cases.set("tests", str(len(harnesses)))
    cases.set("failures", str(t.failed))
    ET.ElementTree(cases).write(RESULTS / "fuzz.xml")
    return t


LAB_DIRS = ("tests/unit_py", "tests/lab", "tests/conformance", "tests/interop", "scenarios/examples")
TEARDOWN_WAIT = 120.0  # seconds pytest gets to tear its labs down after an interrupt


def run_pytest(argv: list[str], extra_env: dict | None = None) -> int:
    """Run pytest (argv) so that no lab of it survives, however it ends.

    pytest runs with DLAB_SESSION set to a fresh token, which every Lab it creates records in the
    registry. Ctrl-C reaches pytest itself (same process group); SIGTERM / SIGHUP to this process
    (KeyboardInterrupt here, dlab.lab.install_signal_teardown) are passed on as SIGINT. Either way
    pytest gets up to TEARDOWN_WAIT s to tear down (it is not killed at once, which is what left
    the labs behind), is killed after that, and then every run of the session whose owner is gone
    is removed (lab.teardown_session): only this session's runs, never another's. Returns pytest's
    exit status; re-raises KeyboardInterrupt after the clean-up when interrupted."""
    session = secrets.token_hex(6)
    env = dict(os.environ, **(extra_env or {}), DLAB_SESSION=session)
    p = subprocess.Popen(argv, cwd=REPO, env=env)
    interrupted: KeyboardInterrupt | None = None
    try:
        while True:
            try:
                if interrupted is None:
                    return p.wait()
                try:
                    p.wait(timeout=TEARDOWN_WAIT)
                except subprocess.TimeoutExpired:
                    print(f"lab: pytest did not finish its teardown within {TEARDOWN_WAIT:.0f} s; killed",
                          file=sys.stderr, flush=True)
                    p.kill()
                    p.wait()
                break
            except KeyboardInterrupt as e:
                if p.poll() is None and str(e).startswith("signal"):
                    p.send_signal(signal.SIGINT)  # a SIGTERM/SIGHUP to us did not reach pytest
                if interrupted is None:
                    print("lab: interrupted; pytest is tearing its labs down", file=sys.stderr, flush=True)
                    interrupted = e
        raise interrupted
    finally:
        removed = L.teardown_session(session)
        if removed:
            print(f"lab: removed runs left by pytest: {', '.join(removed)}", file=sys.stderr, flush=True)


def _have_xdist() -> bool:
    import importlib.util
    return importlib.util.find_spec("xdist") is not None


def xdist_hosts(workers: str | None, tx: list[str]) -> list[str]:
    """pytest-xdist arguments that spread the suites over other machines (`tx`: execnet specs such
    as "2*ssh=root@lab2//python=/usr/bin/python3//chdir=/srv/dialout-lab//env:PYTHONPATH=...",
    docs/reliability.md "The namespace tiers in parallel") and `workers` local ones ("auto": one
    per CPU, "0": none here). The suites' folders tests/ and scenarios/ are copied to each remote
    chdir (xdist --rsyncdir), whose checkout must be built at the same commit."""
    n = (os.cpu_count() or 1) if workers in (None, "auto") else int(workers)
    local = [f"{n}*popen//python={sys.executable}"] if n > 0 else []
    return ["--dist", "loadscope", *(a for spec in (*local, *tx) for a in ("--tx", spec)),
            "--rsyncdir", str(REPO / "tests"), "--rsyncdir", str(REPO / "scenarios")]


def run_lab(keyword: str | None, workers: str | None = None, name: str = "lab", env: dict | None = None,
            dirs: tuple[str, ...] = LAB_DIRS, ignore: tuple[str, ...] = (), tx: list[str] | None = None) -> Tally:
    """The namespace suites under pytest; `workers` ("auto" or a number) runs them in parallel
    with pytest-xdist (each lab has its own run id, so labs of different workers never meet).
    `env`: extra environment (the sanitize tier points DL_BUILD_DIR at its build); `dirs`: the
    suites (default LAB_DIRS); `ignore`: suites left out (pytest --ignore); `tx`: workers on other
    machines as well (xdist_hosts)."""
    t = Tally(name)
    xml = RESULTS / f"{name}.xml"
    xml.unlink(missing_ok=True)
    dirs = [str(REPO / d) for d in dirs if any((REPO / d).rglob("test_*.py"))]
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
            "-o", "junit_family=xunit2", *dirs, *(f"--ignore={REPO / d}" for d in ignore)]
    if tx:
        argv += xdist_hosts(workers, tx)
    elif workers and workers != "0" and _have_xdist():
        # --dist loadscope: a module's tests stay on one worker (module-scoped lab fixtures).
        argv += ["-n", workers, "--dist", "loadscope"]
    if keyword:
        argv += ["-k", keyword]
    rc = run_pytest(argv, env)
    if xml.exists():
        t.passed, t.failed, t.skipped = junit_counts(xml)
    if rc not in (0, 5) and t.failed == 0:
        t.failed, t.note = 1, f"pytest exited {rc}"
    return t


THIRD_PARTY = [("xl2tpd", "lns"), ("l2tpns", "lns")]


def start_third_party(workers: str | None = "auto") -> tuple[Tally, list]:
    """Start the RFC 2661 suite against each third-party stack through ci/conformance (the script a
    user's CI runs), each against its checked-in baseline docs/conformance/<dut>-<role>.json; the
    stacks run at the same time unless `workers` is "0" (`./lab test -n 0`: everything serial, and
    this returns when they are done). Returns what finish_third_party() waits for."""
    t = Tally("third-party")
    out = RESULTS / "conformance"
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    # Each stack in its own lab (own run id, namespaces and run folder): most of a run is waiting on
    # the stack's timers (l2tpns' cluster election, retransmissions). Each one's output goes to
    # <dut>-<role>.log and is printed by finish_third_party(), in THIRD_PARTY order.
    for dut, role in THIRD_PARTY:
        base = REPO / "docs" / "conformance" / f"{dut}-{role}.json"
        if not base.exists():
            t.skipped += 1
            continue
        env = dict(os.environ, DL_BASELINE=str(base), DL_CONFORMANCE_OUT=str(out))
        log = open(out / f"{dut}-{role}.log", "w+")
        if workers == "0" and runs:
            runs[-1][3].wait()
        runs.append((dut, role, log, subprocess.Popen([str(REPO / "ci" / "conformance"), dut, role], cwd=REPO,
                                                      env=env, stdout=log, stderr=subprocess.STDOUT)))
    return t, runs


def finish_third_party(started: tuple[Tally, list]) -> Tally:
    """Wait for the stacks start_third_party() started and print their output: one pass per stack
    whose verdicts equal the baseline, one failure per stack with any changed verdict."""
    t, runs = started
    for dut, role, log, p in runs:
        rc = p.wait()
        log.seek(0)
        sys.stdout.write(log.read())
        log.close()
        if rc == 0:
            t.passed += 1
        else:
            t.failed += 1
            t.note = (t.note + "; " if t.note else "") + f"{dut} as {role.upper()} differs from its baseline"
    sys.stdout.flush()
    return t


def run_third_party(workers: str | None = "auto") -> Tally:
    """The third-party tier on its own: start_third_party(), then finish_third_party()."""
    return finish_third_party(start_third_party(workers))


def run_sanitize(keyword: str | None, workers: str | None) -> list[Tally]:
    """The unit tests of the sanitizer build (build-fuzz/), then the SAN_LAB_DIRS suites with the
    daemons the lab starts (lnsd, lac-emu, isdn-emu, cpe-emu) from that build (the Python bindings
    stay those of build/); a sanitizer report in any daemon log of those runs is a failure."""
    if not build_san():
        return [Tally("sanitize", failed=1, note="sanitizer build failed")]
    unit = run_unit(SAN_DIR, "sanitize-unit", dict(os.environ, **SAN_ENV))
    since = time.time()
    lab = run_lab(keyword, workers, "sanitize-lab",
                  {**SAN_ENV, "DL_BUILD_DIR": str(SAN_DIR), "LNSD_BIN_DIR": str(SAN_DIR / "lns" / "lnsd")},
                  dirs=SAN_LAB_DIRS)
    reports = sanitizer_reports(since)
    if reports:
        lab.failed += len(reports)
        lab.note = f"sanitizer reports in {len(reports)} daemon log(s)"
        for path, line in reports:
            print(f"  {path}: {line}")
    return [unit, lab]


def sanitizer_reports(since: float) -> list[tuple[Path, str]]:
    """(log, first report line) of every daemon log under the run folders written since `since`."""
    out = []
    if not L.RUNS.is_dir():
        return out
    for log in L.RUNS.glob("*/logs/*.log"):
        try:
            if log.stat().st_mtime < since:
                continue
            text = log.read_text(errors="replace")
        except OSError:
            continue
        hit = next((ln for ln in text.splitlines() if any(m in ln for m in SAN_REPORT)), None)
        if hit:
            out.append((log, hit.strip()))
    return out


def run(a) -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    # The clang build of fuzz and sanitize (about a third of the run's CPU) starts in the background
    # at nice 19 before the first tier and takes the CPU the unit and lab tiers leave idle
    # (docs/reliability.md "Test time": 37.6 instead of 44.5 min). DLAB_SAN_BUILD_BESIDE=0 (and
    # `-n 0`) builds it when the fuzz or sanitize tier needs it instead. The two replay races that
    # the build's load exposed in the lab tier are fixed (docs/reliability.md).
    tiers = a.tier or ["unit", "lab", "third-party", "fuzz", "sanitize"]
    workers = getattr(a, "workers", "auto")
    beside = os.environ.get("DLAB_SAN_BUILD_BESIDE", "1") == "1"
    if beside and workers != "0" and tiers[0] not in ("fuzz", "sanitize") and {"fuzz", "sanitize"} & set(tiers):
        start_san_build()
    try:
        tallies = run_tiers(a, tiers, workers)
    finally:
        stop_san_build()
    print("=== summary ===")
    for t in tallies:
        print(t.line())
    passed = sum(t.passed for t in tallies)
    failed = sum(t.failed for t in tallies)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or passed == 0 else 0


def run_tiers(a, tiers: list[str], workers: str | None) -> list[Tally]:
    """Each tier of `tiers` in order, its summary line as it ends; returns their tallies."""
    tallies = []
    third_party = None
    for tier in tiers:
        print(f"=== tier {tier} ===", flush=True)
        started = time.monotonic()
        if tier == "unit":
            tallies.append(run_unit())
        elif tier == "fuzz":
            tallies.append(run_fuzz())
        elif tier == "lab":
            # The suites the sanitize tier ran with the sanitized daemons are not run twice: the
            # 45-minute budget (docs/reliability.md "Sanitizers and fuzzing").
            # The third-party stacks, next in line, mostly wait on their timers (about 16 s of CPU in
            # 3 min): they run during the lab tier, in labs of their own (docs/reliability.md "Test
            # time"); the third-party tier then waits for them and prints their output.
            if workers != "0" and "third-party" in tiers[tiers.index("lab") + 1:]:
                third_party = start_third_party(workers)
            tallies.append(run_lab(a.keyword, workers,
                                   ignore=SAN_LAB_DIRS if "sanitize" in tiers else (), tx=getattr(a, "tx", None)))
        elif tier == "third-party":
            tallies.append(finish_third_party(third_party) if third_party else run_third_party(workers))
        elif tier == "sanitize":
            tallies.extend(run_sanitize(a.keyword, workers))
        print(f"{tallies[-1].line()} [{(time.monotonic() - started) / 60:.1f} min]", flush=True)
    return tallies
