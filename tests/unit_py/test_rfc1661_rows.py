"""The RFC 1661 rows of docs/requirements.yaml (the PPP statements the RFC 2661 suite judges on an LNS's
incoming call, tests/conformance/rfc2661/test_ppp_rfc1661.py): each cites the section whose text holds
its keyword (docs/refs/rfc1661.txt, the RFC as published), names a role, and is checked by a test; each
id a PPP test names has a row. No row is missing for a test and no row lacks one."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
REQS = REPO / "docs" / "requirements.yaml"
RFC = REPO / "docs" / "refs" / "rfc1661.txt"
TESTS = REPO / "tests" / "conformance" / "rfc2661" / "test_ppp_rfc1661.py"


def rows() -> dict[str, dict]:
    return {k: v for k, v in yaml.safe_load(REQS.read_text()).items() if k.startswith("RFC1661.")}


def section_text(number: str) -> str:
    """The text of RFC 1661 section `number` ("5.8") up to the next numbered heading."""
    text = RFC.read_text()
    m = re.search(rf"^{re.escape(number)}\.\s+\S.*$", text, re.M)
    assert m, f"RFC 1661 has no section {number}"
    nxt = re.compile(r"^\d+(\.\d+)*\.\s+\S", re.M).search(text, m.end())
    return text[m.end():nxt.start() if nxt else len(text)]


def test_every_row_cites_a_section_holding_its_keyword():
    assert rows(), "no RFC1661 rows"
    for rid, row in rows().items():
        m = re.match(r"RFC 1661 §(\d+(?:\.\d+)*)", row["source"])
        assert m, f"{rid}: source must start with 'RFC 1661 §N'"
        assert rid.startswith(f"RFC1661.{m.group(1)}-"), f"{rid}: id and cited section differ ({m.group(1)})"
        assert row.get("class") in ("MUST", "SHOULD"), rid
        assert row.get("role") in ("LAC", "LNS", "both"), rid
        assert re.search(rf"\b{row['class']}\b", " ".join(section_text(m.group(1)).split())), \
            f"{rid}: §{m.group(1)} has no {row['class']}"


def test_rows_and_the_ppp_tests_name_each_other():
    named = set(re.findall(r'"(RFC1661\.[0-9.]+-\d+)"', TESTS.read_text()))
    have = set(rows())
    assert named - have == set(), f"tests name ids without a row: {sorted(named - have)}"
    assert have - named == set(), f"rows no test checks: {sorted(have - named)}"
