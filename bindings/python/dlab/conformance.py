"""The conformance matrix: requirement (docs/requirements.yaml) -> the tests that check it.

Tests name requirement ids: pytest with `@pytest.mark.req("T74.inhibited", ...)`, GoogleTest with a
comment `// req: T74.inhibited, T74.postInhibited` on the line before TEST(...). `collect()` reads
both (pytest through `--collect-only`, C++ by scanning test sources) and `render()` writes
docs/conformance.md, so the matrix follows the tests and cannot drift (a lab test compares).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
REQS = REPO / "docs" / "requirements.yaml"
MATRIX = REPO / "docs" / "conformance.md"
CPP_REQ = re.compile(r"^\s*//\s*req:\s*(.+?)\s*$")
CPP_TEST = re.compile(r"^\s*(TEST|TEST_F|TEST_P)\(\s*(\w+)\s*,\s*(\w+)\s*\)")


def requirements() -> dict[str, dict]:
    return yaml.safe_load(REQS.read_text())


def cpp_tests() -> dict[str, list[str]]:
    """test id ("path::Suite.Name") -> requirement ids, from `// req:` comments."""
    out: dict[str, list[str]] = {}
    roots = [REPO / "proto", REPO / "lns", REPO / "peers", REPO / "scenarios", REPO / "bindings"]
    for root in roots:
        for f in sorted(root.rglob("*.cpp")):
            if "/test" not in str(f.relative_to(REPO)):
                continue
            pending: list[str] = []
            for line in f.read_text(errors="replace").splitlines():
                m = CPP_REQ.match(line)
                if m:
                    pending += [x.strip() for x in m.group(1).split(",") if x.strip()]
                    continue
                t = CPP_TEST.match(line)
                if t and pending:
                    out[f"{f.relative_to(REPO)}::{t.group(2)}.{t.group(3)}"] = pending
                if line.strip() and not line.strip().startswith("//"):
                    pending = []
    return out


def py_tests() -> dict[str, list[str]]:
    """pytest node id -> requirement ids, from a collection-only run of the namespace suites."""
    with tempfile.TemporaryDirectory() as d:
        dump = Path(d) / "reqs.json"
        env = dict(os.environ, DLAB_REQ_DUMP=str(dump), PYTHONPATH=str(REPO / "bindings" / "python"))
        cp = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                             str(REPO / "tests")], cwd=REPO, env=env, capture_output=True, text=True)
        if not dump.exists():
            raise RuntimeError(f"pytest collection failed:\n{cp.stdout[-3000:]}{cp.stderr[-3000:]}")
        return json.loads(dump.read_text())


VERDICTS = REPO / "docs" / "conformance"  # <dut>-<role>.json: the verdict matrix of `./lab conformance --dut <dut>`
SHORT = {"pass": "pass", "fail": "**FAIL**", "n/a": "n/a", "untestable": "not on wire", "untested": "—"}


def dut_verdicts() -> dict[str, dict[str, dict]]:
    """"DUT (ROLE)" -> requirement id -> {"verdict": ..., "why": ...}, from the checked-in matrices."""
    out = {}
    for f in sorted(VERDICTS.glob("*.json")) if VERDICTS.is_dir() else []:
        data = json.loads(f.read_text())
        out[f"{data['dut']} ({data['role'].upper()})"] = data["verdicts"]
    return out


GUIDE = REPO / "docs" / "conformance-guide.md"


def section(rid: str) -> str:
    """The top-level section a statement row counts under: "5" for RFC2661.5.8-1, "RFC 1661 §5" for
    RFC1661.5.8-1 (the PPP statements judged on an LNS's incoming call)."""
    rfc, rest = rid.split(".", 1)
    top = rest.split("-")[0].split(".")[0]
    return top if rfc == "RFC2661" else f"RFC {rfc.removeprefix('RFC')} §{top}"


def section_order(sec: str) -> tuple:
    """RFC 2661's sections by number, then the other RFCs' sections, then "all"."""
    if sec == "all":
        return (2, "", 0)
    if sec.isdigit():
        return (0, "", int(sec))
    rfc, top = sec.rsplit(" §", 1)
    return (1, rfc, int(top))


def comparison(verdicts: dict[str, dict]) -> list[str]:
    """Markdown: verdict counts per top-level RFC section for each DUT, then every failure of each DUT
    with the step and the packet that shows it."""
    if not verdicts:
        return []
    duts = sorted(verdicts)
    secs = sorted({section(r) for v in verdicts.values() for r in v}, key=section_order)
    out = ["", "### Implementations compared", "",
           "Counts per RFC section: pass / fail / n/a / not on wire / untested (`ci/conformance-matrices`).", "",
           "| § | " + " | ".join(duts) + " |", "|---|" + "---|" * len(duts)]
    for sec in secs + ["all"]:
        cells = []
        for d in duts:
            c = {k: 0 for k in ("pass", "fail", "n/a", "untestable", "untested")}
            for rid, v in verdicts[d].items():
                if sec == "all" or section(rid) == sec:
                    c[v["verdict"]] += 1
            cells.append(" / ".join(str(c[k]) for k in c))
        out.append(f"| {sec} | " + " | ".join(cells) + " |")
    for d in duts:
        fails = [(rid, v) for rid, v in verdicts[d].items() if v["verdict"] == "fail"]
        out += ["", f"#### Failures of {d}: {len(fails)}", ""]
        out += [f"- **{rid}**: {v['why']}" for rid, v in fails] or ["none"]
    return out


def render(reqs: dict[str, dict], tests: dict[str, list[str]], verdicts: dict[str, dict] | None = None) -> str:
    """The matrix: project requirements (id, source, what, tests), then RFC 2661's normative statements
    (rows with a `class`) with their role and each DUT's verdict (docs/conformance/<dut>.json)."""
    verdicts = dut_verdicts() if verdicts is None else verdicts
    by_req: dict[str, list[str]] = {r: [] for r in reqs}
    unknown = sorted({(t, r) for t, rs in tests.items() for r in rs if r not in reqs})
    if unknown:
        raise ValueError("tests name unknown requirement ids: " + ", ".join(f"{t} -> {r}" for t, r in unknown))
    for t, rs in sorted(tests.items()):
        for r in rs:
            by_req[r].append(t)
    project = {r: m for r, m in reqs.items() if "class" not in m}
    rfc = {r: m for r, m in reqs.items() if "class" in m}
    covered = sum(1 for r in project if by_req[r])
    lines = ["# Conformance matrix", "",
             "Generated by `ci/gen-conformance` from `docs/requirements.yaml` and the tests' requirement",
             "markers (pytest `@pytest.mark.req(...)`, GoogleTest `// req: ...`). Do not edit by hand: a lab",
             "test fails when this file is stale.", "",
             f"{covered} of {len(project)} requirements have at least one test.", "",
             "| requirement | source | what | tests |", "|---|---|---|---|"]
    for r, meta in project.items():
        ts = "<br>".join(f"`{t}`" for t in by_req[r]) or "**not yet tested**"
        lines.append(f"| {r} | {meta['source']} | {meta['text']} | {ts} |")
    if rfc:
        duts = sorted(verdicts)
        if GUIDE.exists():
            lines += ["", GUIDE.read_text().rstrip()]
        lines += comparison(verdicts)
        wire = sum(1 for r in rfc if by_req[r])
        n2661 = sum(1 for r in rfc if r.startswith("RFC2661."))
        lines += ["", "## RFC 2661 (and RFC 1661 on the LNS's calls), statement by statement", "",
                  f"{n2661} normative statements of RFC 2661 (`ci/rfc-statements` lists them from the RFC text) and "
                  f"{len(rfc) - n2661} of RFC 1661 judged on the PPP of an LNS's incoming call "
                  "(tests/conformance/rfc2661/test_ppp_rfc1661.py): "
                  f"{sum(1 for m in rfc.values() if m['class'] == 'MUST')} MUST, "
                  f"{sum(1 for m in rfc.values() if m['class'] == 'SHOULD')} SHOULD, and "
                  f"{sum(1 for m in rfc.values() if m['class'] not in ('MUST', 'SHOULD'))} behaviours the RFC implies "
                  f"without a keyword (class implied / should, ids RFC2661-implied.*); {wire} have a test. A verdict "
                  "column per implementation under test comes from `docs/conformance/<dut>-<role>.json`, written by "
                  "`ci/conformance-matrices` (`./lab conformance --dut <dut> --report docs/conformance`).", "",
                  "| " + " | ".join(["statement", "class", "role", "what", "tests", *duts]) + " |",
                  "|---|---|---|---|---|" + "---|" * len(duts)]
        for r, meta in rfc.items():
            names = dict.fromkeys(t.split("::")[-1].split("[")[0] for t in by_req[r])  # one per test, any DUT
            ts = "<br>".join(f"`{n}`" for n in names) or (
                f"not testable from the wire: {meta['wire']}" if meta.get("wire") else "**not yet tested**")
            cells = [SHORT.get(verdicts[d].get(r, {}).get("verdict", "untested"), "?") for d in duts]
            lines.append("| " + " | ".join([r, meta["class"], meta["role"], meta["text"], ts, *cells]) + " |")
    return "\n".join(lines) + "\n"


def generate() -> str:
    tests = cpp_tests()
    tests.update(py_tests())
    return render(requirements(), tests)


def main() -> int:
    text = generate()
    if "--check" in sys.argv:
        if not MATRIX.exists() or MATRIX.read_text() != text:
            print("docs/conformance.md is stale: run ci/gen-conformance", file=sys.stderr)
            return 1
        return 0
    MATRIX.write_text(text)
    print(f"wrote {MATRIX}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
