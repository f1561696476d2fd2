"""The RFC 2661 requirement catalogue: every normative statement the RFC text holds has one row in
docs/requirements.yaml (and no row names a statement the RFC does not hold), and the extractor
(dlab.rfcstatements) loses no keyword: the upper-case RFC 2119 keywords it files under statements
are all those of the RFC text outside §1.1."""
from __future__ import annotations

import re

import yaml

from dlab import rfcstatements as R

REQS = R.REPO / "docs" / "requirements.yaml"


def rfc_rows() -> dict[str, dict]:
    return {k: v for k, v in yaml.safe_load(REQS.read_text()).items() if k.startswith("RFC2661.")}


def test_every_statement_has_a_row_of_its_class():
    rows = rfc_rows()
    missing = [s.id for s in R.statements() if s.id not in rows]
    assert not missing, f"statements without a row (ci/rfc-statements --yaml prints skeletons): {missing}"
    wrong = [(s.id, s.klass, rows[s.id].get("class")) for s in R.statements() if rows[s.id].get("class") != s.klass]
    assert not wrong, wrong


def test_no_row_without_a_statement_and_rows_are_complete():
    ids = {s.id for s in R.statements()}
    stale = sorted(set(rfc_rows()) - ids)
    assert not stale, f"rows naming no statement of RFC 2661: {stale}"
    for rid, row in rfc_rows().items():
        assert row.get("role") in ("LAC", "LNS", "both"), rid
        assert row.get("text") and not row["text"].startswith("TODO"), rid
        assert row["source"].startswith("RFC 2661 §"), rid


def test_no_keyword_is_lost_between_the_text_and_the_statements():
    text = R.RFC_TEXT.read_text()
    body = text.split("1.2 Terminology", 2)[-1]  # after the table of contents and §1.1
    raw: dict[str, int] = {}
    for w in R.KEYWORD.findall(re.sub(r"\s+", " ", body)):  # "SHOULD\n   NOT" is one keyword
        raw[w] = raw.get(w, 0) + 1
    assert R.keyword_count(text) == raw


def test_per_avp_rules_and_counts():
    sts = R.statements()
    m = [s for s in sts if s.kind == "M-bit"]
    h = [s for s in sts if s.kind == "H-bit"]
    assert len(m) == 39  # AVPs 0-39 but 20 (unassigned) each state their M bit (§4.4.1-§4.4.6)
    assert {s.avp for s in h} >= {"Message Type", "Result Code", "Tie Breaker", "Host Name", "Sequencing Required"}
    assert sum(1 for s in sts if s.klass == "MUST") == 143
    # Role of an AVP rule is who sends the AVP: the ICRQ-only Calling Number binds the LAC.
    calling = next(s for s in sts if s.id == "RFC2661.4.4.4-calling-number-M")
    assert calling.avp_role() == "LAC"


def test_page_breaks_do_not_cut_sentences():
    s = {x.id: x.sentence for x in R.statements()}
    assert s["RFC2661.4.4.3-assigned-tunnel-id-1"].endswith("transmits over the associated tunnel.")
    assert re.search(r"must also be present in the message and MUST precede", s["RFC2661.4.3-2"])
