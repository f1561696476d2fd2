"""dlab.scenario: the YAML scenario format is checked with errors naming the file, step and rule;
deep_merge / lookup do what the steps rely on. The examples of scenarios/examples all load."""
from __future__ import annotations

from pathlib import Path

import pytest

from dlab import scenario

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


@pytest.mark.req("LAB.scenarios")
def test_examples_load():
    found = scenario.load_all(REPO / "scenarios" / "examples")
    assert [s.name for s in found] == ["busy-site", "my-site"], f"examples found: {[s.name for s in found]}"
    assert all(s.steps[0][0] == "exec" for s in found), [s.steps[0] for s in found]


@pytest.mark.req("LAB.scenarios")
@pytest.mark.parametrize("text, message", [
    ("steps: []", "steps: must be a non-empty list"),
    ("name: x\nsteps: [{jump: {}}]", "steps[1]: unknown step kind 'jump'"),
    ("steps: [{wait: {}}]", "steps[1].wait: missing ['daemon']"),
    ("steps: [{ping: {from: a, to: b, count: 3}}]", "steps[1].ping: unknown key(s) ['count']"),
    ("steps: [{ping: {from: a, to: b}, exec: {host: a, argv: []}}]", "exactly one step kind"),
    ("lab: {topology: {}}\nsteps: [{ping: {from: a, to: b}}]", "lab: must be a mapping with only `configs`"),
    ("stepz: []", "unknown key(s) ['stepz']"),
], ids=["no-steps", "unknown-kind", "missing-key", "unknown-key", "two-kinds", "lab-key", "top-key"])
def test_bad_files_name_the_step_and_rule(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(scenario.ScenarioError) as ei:
        scenario.load(p)
    assert str(p) in str(ei.value) and message in str(ei.value), f"error was: {ei.value}"


@pytest.mark.req("LAB.scenarios")
def test_lab_configs_are_deep_merged(tmp_path):
    s = scenario.load(write(tmp_path, "lab: {configs: {isdn: {numbers: {'5551001': {behaviour: busy}}}, lac2: null}}\n"
                                      "steps: [{ping: {from: home, to: 10.10.1.1}}]"))
    configs = {"isdn": {"socket": "/x", "numbers": {"5551001": {"behaviour": "answer"}, "5}": {}}},
               "lac2": {"listen": "198.51.100.3"}}
    s.lab_spec().configure(configs)
    assert configs["isdn"]["socket"] == "/x", "keys not named must stay"
    assert configs["isdn"]["numbers"]["5551001"] == {"behaviour": "busy"}, configs
    assert configs["lac2"] is None, "null must replace (a role set to None is not started)"


@pytest.mark.req("LAB.scenarios")
def test_lookup_dotted_paths():
    r = {"sites": [{"call": {"peer_name": "lns-home"}}]}
    assert scenario.lookup(r, "sites.0.call.peer_name") == "lns-home"
    with pytest.raises(KeyError):
        scenario.lookup(r, "sites.0.call.nope")
