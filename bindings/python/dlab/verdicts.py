"""Verdict matrix of the RFC 2661 conformance suite: for one implementation under test (DUT) and each
normative statement of RFC 2661 (the RFC2661.* rows of docs/requirements.yaml) and of RFC 1661 judged on
an LNS's incoming call (the RFC1661.* rows, test_ppp_rfc1661.py), one verdict:

* pass — every test naming the statement passed against the DUT;
* fail — a test failed; `why` holds the step and the packet the DUT sent (the assertion message);
* n/a — not applicable: the statement binds the other role, or the DUT does not claim the feature
  (the test's skip reason says which);
* untestable — not testable from the wire (the row's `wire` says why);
* untested — the suite has no test for it yet.

`Collector` is a pytest plugin (registered by tests/conformance/rfc2661/conftest.py) that records the
outcome of each test per DUT and, when $DLAB_CONFORMANCE_REPORT names a folder, writes there
`<dut>-<role>.json` and `<dut>-<role>.md` at the end of the session.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from . import conformance
from . import dut as D

ORDER = ("pass", "fail", "n/a", "untestable", "untested")


def rfc_rows() -> dict[str, dict]:
    return {k: v for k, v in conformance.requirements().items() if "class" in v}


def judge(role: str, rows: dict[str, dict], results: list[dict]) -> dict[str, dict]:
    """requirement id -> {"verdict", "why", "tests"} for a DUT playing `role` ("lac" / "lns"), from
    `results`: [{"test", "reqs", "outcome" ("passed" / "failed" / "skipped"), "why"}]."""
    by_req: dict[str, list[dict]] = {}
    for r in results:
        for q in r["reqs"]:
            by_req.setdefault(q, []).append(r)
    out = {}
    for rid, row in rows.items():
        tests = by_req.get(rid, [])
        names = [t["test"] for t in tests]
        if row.get("wire"):
            v = {"verdict": "untestable", "why": row["wire"]}
        elif row["role"] != "both" and row["role"].lower() != role:
            v = {"verdict": "n/a", "why": f"binds the {row['role']}; the DUT plays the {role.upper()}"}
        elif any(t["outcome"] == "failed" for t in tests):
            bad = next(t for t in tests if t["outcome"] == "failed")
            v = {"verdict": "fail", "why": f"{bad['test']}: {bad['why']}"}
        elif any(t["outcome"] == "passed" for t in tests):
            v = {"verdict": "pass", "why": ""}
        elif tests:
            v = {"verdict": "n/a", "why": tests[0]["why"]}
        else:
            v = {"verdict": "untested", "why": "no test in the suite yet"}
        v["tests"] = names
        out[rid] = v
    return out


def summary(rows: dict[str, dict], verdicts: dict[str, dict]) -> dict[str, dict[str, int]]:
    """Counts of each verdict, per top-level section ("3", "4", … of RFC 2661; "RFC 1661 §5" …) and "all"."""
    out: dict[str, Counter] = {}
    for rid, v in verdicts.items():
        for key in (conformance.section(rid), "all"):
            out.setdefault(key, Counter())[v["verdict"]] += 1
    return {k: {o: c.get(o, 0) for o in ORDER} for k, c in sorted(out.items(), key=lambda x: conformance.section_order(x[0]))}


def markdown(dut: str, role: str, rows: dict[str, dict], verdicts: dict[str, dict]) -> str:
    s = summary(rows, verdicts)
    lines = [f"# RFC 2661 (and RFC 1661 on its calls) verdicts: {dut} as {role.upper()}", "",
             "Written by `./lab conformance --dut " + dut + " --report DIR` (dlab.verdicts).", "",
             "| § | " + " | ".join(ORDER) + " |", "|---|" + "---|" * len(ORDER)]
    for sec, c in s.items():
        lines.append(f"| {sec} | " + " | ".join(str(c[o]) for o in ORDER) + " |")
    lines += ["", "| statement | class | role | what | verdict | why |", "|---|---|---|---|---|---|"]
    for rid, v in verdicts.items():
        why = v["why"].replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {rid} | {rows[rid]['class']} | {rows[rid]['role']} | {rows[rid]['text']} | "
                     f"{v['verdict']} | {why} |")
    return "\n".join(lines) + "\n"


def write(folder: Path, dut: str, role: str, results: list[dict]) -> dict[str, dict]:
    """Judge and write `<dut>-<role>.json` and `<dut>-<role>.md` into folder; returns the verdicts."""
    rows = rfc_rows()
    verdicts = judge(role, rows, results)
    folder.mkdir(parents=True, exist_ok=True)
    data = {"dut": dut, "role": role, "summary": summary(rows, verdicts),
            "verdicts": {k: {"verdict": v["verdict"], "why": v["why"], "tests": v["tests"]} for k, v in verdicts.items()}}
    (folder / f"{dut}-{role}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    (folder / f"{dut}-{role}.md").write_text(markdown(dut, role, rows, verdicts))
    return verdicts


class Collector:
    """pytest plugin: outcome of each suite test per DUT (items parametrised with `dut`)."""

    def __init__(self):
        self.results: dict[tuple[str, str], list[dict]] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        cs = getattr(item, "callspec", None)
        if cs is None or "dut" not in cs.params:
            return
        name, role = cs.params["dut"]
        name = D.load(name).name
        if rep.when == "call" or rep.outcome != "passed":
            if rep.when == "teardown" and rep.outcome == "skipped":
                return
            why = ""
            if rep.skipped:
                lr = rep.longrepr
                why = (lr[2] if isinstance(lr, tuple) else str(lr)).removeprefix("Skipped: ")
            elif rep.failed:
                why = str(call.excinfo.value) if call.excinfo else rep.longreprtext[-600:]
                why = " ".join(why.split())[:900]
            res = self.results.setdefault((name, role), [])
            res[:] = [r for r in res if r["test"] != item.name]  # a teardown failure overrides the call's pass
            res.append({"test": item.name, "reqs": [i for m in item.iter_markers("req") for i in m.args],
                        "outcome": rep.outcome, "why": why})

    def pytest_sessionfinish(self, session):
        folder = os.environ.get("DLAB_CONFORMANCE_REPORT")
        if not folder:
            return
        for (dut, role), results in self.results.items():
            write(Path(folder), dut, role, results)


def compare(baseline: dict, got: dict) -> list[str]:
    """Lines naming each statement whose verdict differs from the baseline (a new failure, a fixed one,
    anything): [] when they agree."""
    out = []
    b, g = baseline.get("verdicts", {}), got.get("verdicts", {})
    for rid in sorted(set(b) | set(g)):
        vb, vg = b.get(rid, {}).get("verdict", "absent"), g.get(rid, {}).get("verdict", "absent")
        if vb != vg:
            out.append(f"{rid}: baseline {vb}, now {vg} {g.get(rid, {}).get('why', '')}".rstrip())
    return out


def run(a) -> int:
    """`./lab conformance`: the suite (tests/conformance/rfc2661) against one DUT; the verdict matrix in
    --report (default conformance-<dut>/, files <dut>-<role>.md / .json); with --baseline, exit 0 only if the verdicts equal the
    baseline's (a third-party stack's known failures), else pytest's status."""
    try:
        d = D.load(a.dut)
    except ValueError as e:
        print(f"lab: {e}", file=sys.stderr)
        return 2
    role = a.role or d.roles[0]
    if role not in d.roles:
        print(f"lab: {d.name} plays {'/'.join(d.roles)}, not {role}", file=sys.stderr)
        return 2
    report = Path(a.report or f"conformance-{d.name}").resolve()
    build = Path(os.environ.get("DLAB_BUILD_DIR", conformance.REPO / "build"))
    env = dict(os.environ, DLAB_DUT=a.dut, DLAB_DUT_ROLE=role, DLAB_CONFORMANCE_REPORT=str(report),
               PYTHONPATH=os.pathsep.join([str(conformance.REPO / "bindings" / "python"), str(build / "bindings")]))
    argv = [sys.executable, "-m", "pytest", "-c", str(conformance.REPO / "pytest.ini"), "--rootdir",
            str(conformance.REPO), "-p", "no:cacheprovider", "-q", str(conformance.REPO / "tests/conformance/rfc2661")]
    if a.keyword:
        argv += ["-k", a.keyword]
    if a.junitxml:
        argv.append(f"--junitxml={Path(a.junitxml).resolve()}")
    rc = subprocess.run(argv, cwd=conformance.REPO, env=env).returncode
    result = report / f"{d.name}-{role}.json"
    if not result.exists():
        print(f"lab: no verdicts written ({result})", file=sys.stderr)
        return rc or 1
    got = json.loads(result.read_text())
    print(f"{d.name} as {role.upper()}: " + ", ".join(f"{n} {k}" for k, n in got["summary"]["all"].items())
          + f"; matrix {result.with_suffix('.md')}")
    if a.baseline:
        diff = compare(json.loads(Path(a.baseline).read_text()), got)
        for line in diff:
            print(f"  changed: {line}")
        if diff:
            print(f"lab: {len(diff)} verdicts differ from the baseline {a.baseline}: update it if the change is "
                  "intended (cp the new JSON over it)", file=sys.stderr)
        return 1 if diff else 0
    return rc
