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
