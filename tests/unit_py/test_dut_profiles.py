"""DUT profiles (dlab.dut) and the verdict matrix (dlab.verdicts) of the RFC 2661 suite, without a lab:
a YAML profile is checked key by key, built-in profiles load by name, a verdict follows the rules of
dlab.verdicts (role, wire, fail over pass, skip -> n/a, no test -> untested), and a baseline
comparison names every changed verdict."""
from __future__ import annotations

import pytest

from dlab import dut as D
from dlab import verdicts as V


def write(tmp_path, text):
    p = tmp_path / "mystack.yaml"
    p.write_text(text)
    return p


def test_yaml_profile_loads_and_fills_placeholders(tmp_path):
    p = write(tmp_path, """name: mystack
roles: [lns]
features: [tunnel-auth]
files:
  my.conf: "listen {address}:{port} secret {secret} peer {secret_peer}"
start: [/bin/true, -c, "{run_dir}/my.conf"]
""")
    d = D.load(str(p))
    assert (d.name, d.roles, d.features) == ("mystack", ("lns",), frozenset({"tunnel-auth"}))
    ctx = D.Context(lab=None, host="dut", address="198.51.100.1", secret_peer="198.51.100.2",
                    open_peer="198.51.100.3", role="lns", run_dir=tmp_path)
    assert d.spec["files"]["my.conf"].format(**ctx.fields()) == "listen 198.51.100.1:1701 secret s3cret peer 198.51.100.2"
    assert d.unavailable() is None


def test_yaml_profile_initiate_runs_its_command_in_the_dut_host_or_is_not_applicable(tmp_path):
    class Lab:
        def __init__(self):
            self.ran = []

        def exec(self, host, argv, check, timeout):
            self.ran.append((host, argv))

    ctx = D.Context(lab=Lab(), host="dut", address="198.51.100.1", secret_peer="198.51.100.2",
                    open_peer="198.51.100.3", role="lac", run_dir=tmp_path)
    d = D.load(str(write(tmp_path, "roles: [lac]\nstart: [x]\ninitiate: [myctl, -c, '{run_dir}/c', dial, '{peer}']\n")))
    d.initiate(ctx, "198.51.100.3")
    assert ctx.lab.ran == [("dut", ["myctl", "-c", f"{tmp_path}/c", "dial", "198.51.100.3"])]
    without = D.load(str(write(tmp_path, "roles: [lac]\nstart: [x]\n")))
    with pytest.raises(D.NotApplicable, match="no `initiate` command"):
        without.initiate(ctx, "198.51.100.3")
    for name in ("lac-emu", "l2tpns"):  # built-ins that cannot initiate here say why
        with pytest.raises(D.NotApplicable):
            D.load(name).initiate(ctx, "198.51.100.3")
    with pytest.raises(D.NotApplicable, match="198.51.100.3 only"):  # lnsd: its scripted RADIUS names one peer
        D.load("lnsd").initiate(ctx, "198.51.100.2")


@pytest.mark.parametrize("text, words", [
    ("roles: [lns]\nstart: [x]\ncolour: red\n", "unknown keys ['colour']"),
    ("roles: [lns]\nstart: [x]\nfeatures: [teleport]\n", "unknown features ['teleport']"),
    ("roles: [bras]\nstart: [x]\n", "roles must be"),
    ("roles: [lac]\n", "start"),
])
def test_yaml_profile_errors_name_the_key(tmp_path, text, words):
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        D.load(str(write(tmp_path, text)))


def test_builtin_profiles_and_unknown_name():
    assert {"lnsd", "lac-emu", "xl2tpd", "l2tpns"} <= set(D.names())
    assert D.load("lac-emu").roles == ("lac",)
    assert D.load("xl2tpd").roles == ("lns",)
    with pytest.raises(ValueError, match="no DUT profile 'nope'"):
        D.load("nope")


ROWS = {"A": {"class": "MUST", "role": "both", "text": "a"},
        "B": {"class": "MUST", "role": "LAC", "text": "b"},
        "C": {"class": "MUST", "role": "both", "text": "c", "wire": "configuration only"},
        "D": {"class": "SHOULD", "role": "LNS", "text": "d"},
        "E": {"class": "MUST", "role": "both", "text": "e"},
        "F": {"class": "MUST", "role": "both", "text": "f"}}


def test_verdict_rules():
    results = [{"test": "t1", "reqs": ["A", "D"], "outcome": "passed", "why": ""},
               {"test": "t2", "reqs": ["A"], "outcome": "failed", "why": "step 'x': bad; DUT sent: SCCRP"},
               {"test": "t3", "reqs": ["B", "E"], "outcome": "skipped", "why": "n/a: no outgoing calls"}]
    v = V.judge("lns", ROWS, results)
    assert v["A"]["verdict"] == "fail" and "t2: step 'x'" in v["A"]["why"]   # a failure outweighs a pass
    assert v["B"]["verdict"] == "n/a" and "binds the LAC" in v["B"]["why"]   # role first
    assert v["C"] == {"verdict": "untestable", "why": "configuration only", "tests": []}
    assert v["D"]["verdict"] == "pass"
    assert v["E"] == {"verdict": "n/a", "why": "n/a: no outgoing calls", "tests": ["t3"]}
    assert v["F"]["verdict"] == "untested"
    assert V.judge("lac", ROWS, results)["B"]["verdict"] == "n/a"  # skipped test, LAC-bound row, LAC DUT
    assert V.judge("lac", ROWS, results)["D"]["verdict"] == "n/a"  # LNS-bound row on a LAC


def test_baseline_comparison_names_new_failures_and_new_passes(tmp_path):
    base = {"verdicts": {"A": {"verdict": "fail"}, "D": {"verdict": "pass"}}}
    same = {"verdicts": {"A": {"verdict": "fail", "why": "x"}, "D": {"verdict": "pass"}}}
    assert V.compare(base, same) == []
    fixed = {"verdicts": {"A": {"verdict": "pass", "why": ""}, "D": {"verdict": "fail", "why": "step"}}}
    assert V.compare(base, fixed) == ["A: baseline fail, now pass", "D: baseline pass, now fail step"]


def test_written_matrix_counts_every_rfc_statement(tmp_path):
    v = V.write(tmp_path, "demo", "lns", [])
    import json
    data = json.loads((tmp_path / "demo-lns.json").read_text())
    assert set(data["verdicts"]) == set(V.rfc_rows()) == set(v)
    assert sum(data["summary"]["all"].values()) == len(v)
    assert "| 5 |" in (tmp_path / "demo-lns.md").read_text()
