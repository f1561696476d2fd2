"""./lab test --tier sanitize: a sanitizer report in any daemon log of the tier's runs is a failure,
logs of earlier runs are not looked at (dlab.cli.testrun.sanitizer_reports)."""
from __future__ import annotations

import os
import time

from dlab import lab as L
from dlab.cli import testrun


def test_sanitizer_reports_in_daemon_logs_since_the_tier_started(tmp_path, monkeypatch):
    monkeypatch.setattr(L, "RUNS", tmp_path)
    old = tmp_path / "20260101-000000-aaaaaa" / "logs" / "lnsd.log"
    old.parent.mkdir(parents=True)
    old.write_text("==1==ERROR: AddressSanitizer: heap-use-after-free\n")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    since = time.time() - 60
    logs = tmp_path / "20260101-000001-bbbbbb" / "logs"
    logs.mkdir(parents=True)
    (logs / "lnsd.log").write_text("lnsd ready\nsrc/x.cpp:3:5: runtime error: signed integer overflow\n")
    (logs / "lac-emu.log").write_text("lac-emu ready\n")
    (logs / "cpe-emu.log").write_text("==7==ERROR: LeakSanitizer: detected memory leaks\n")
    found = {p.name: line for p, line in testrun.sanitizer_reports(since)}
    assert found == {"lnsd.log": "src/x.cpp:3:5: runtime error: signed integer overflow",
                     "cpe-emu.log": "==7==ERROR: LeakSanitizer: detected memory leaks"}


def test_sanitizer_build_is_configured_afresh_when_its_cache_differs(tmp_path):
    """build-fuzz/ serves the fuzz harnesses AND the sanitized daemons and unit tests: a build-fuzz/
    configured the old way (DL_TESTS=OFF) or with gcc would lack the unit tests, so it is redone."""
    cache = tmp_path / "CMakeCache.txt"
    good = ["CMAKE_CXX_COMPILER:FILEPATH=/usr/bin/clang++", "DL_FUZZ:BOOL=ON", "DL_TESTS:BOOL=ON",
            "DL_BENCH:BOOL=OFF", "DL_PYTHON:BOOL=OFF", "CMAKE_BUILD_TYPE:STRING=RelWithDebInfo"]
    cache.write_text("\n".join(good) + "\n")
    assert testrun._cache_matches(tmp_path, testrun.SAN_CMAKE)
    cache.write_text("\n".join(good).replace("DL_TESTS:BOOL=ON", "DL_TESTS:BOOL=OFF") + "\n")
    assert not testrun._cache_matches(tmp_path, testrun.SAN_CMAKE)
    cache.write_text("\n".join(good).replace("/usr/bin/clang++", "/usr/bin/c++") + "\n")
    assert not testrun._cache_matches(tmp_path, testrun.SAN_CMAKE)
    assert not testrun._cache_matches(tmp_path / "absent", testrun.SAN_CMAKE)


def test_default_tiers_include_fuzz_and_sanitize_and_ubsan_is_fatal_in_the_one_clang_build():
    import inspect
    assert '"unit", "lab", "third-party", "fuzz", "sanitize"' in inspect.getsource(testrun.run)
    assert testrun.SAN_CMAKE["DL_FUZZ"] == "ON" and testrun.SAN_CMAKE["DL_TESTS"] == "ON"
    top = (testrun.REPO / "CMakeLists.txt").read_text()
    fuzz_flags = top[top.index("if(DL_FUZZ)"):]
    assert "-fsanitize=address,undefined -fno-sanitize-recover=all" in fuzz_flags
    # libFuzzer's coverage instrumentation on every dl_module() library (what the harnesses run)
    assert "set(DL_FUZZ_COVERAGE -fsanitize=fuzzer-no-link)" in fuzz_flags
    module = (testrun.REPO / "cmake" / "DlModule.cmake").read_text()
    assert "target_compile_options(${lib} PRIVATE ${DL_FUZZ_COVERAGE})" in module


def test_default_run_does_not_run_the_sanitized_suites_twice(monkeypatch, tmp_path):
    """With the sanitize tier in the run, the lab tier leaves out the suites it ran (SAN_LAB_DIRS)
    with the sanitized daemons; `--tier lab` alone runs them with the gcc daemons."""
    import types
    seen = []
    monkeypatch.setattr(testrun, "run_pytest", lambda argv, env=None: seen.append(argv) or 5)
    monkeypatch.setattr(testrun, "RESULTS", tmp_path)
    for name in ("run_unit", "run_fuzz", "run_third_party"):
        monkeypatch.setattr(testrun, name, lambda *a, **k: testrun.Tally("x", passed=1))
    monkeypatch.setattr(testrun, "run_sanitize", lambda *a, **k: [testrun.Tally("sanitize", passed=1)])
    testrun.run(types.SimpleNamespace(tier=None, keyword=None, workers="0"))
    ignored = [x for x in seen[-1] if x.startswith("--ignore=")]
    assert ignored == [f"--ignore={testrun.REPO / d}" for d in testrun.SAN_LAB_DIRS]
    testrun.run(types.SimpleNamespace(tier=["lab"], keyword=None, workers="0"))
    assert not [x for x in seen[-1] if x.startswith("--ignore=")]
