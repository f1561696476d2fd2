"""Scenarios as data: a YAML file of steps run against the dial-out lab of dlab.pytest_plugin.
docs/scenarios.md describes the format; scenarios/examples/test_yaml_scenarios.py runs every
scenarios/examples/*.yaml.

    name: my-site
    lab:                               # optional: how the lab is built
      configs: {isdn: {numbers: {"5551001": {behaviour: busy}}}}   # deep-merged into daemon_configs
    steps:
      - exec: {host: home, argv: [ping, -c, "1", 10.10.1.1], check: false}
      - wait: {daemon: lns, entity: dialout.session, id: "default/10.10.0.0/16/10.10.1.1", to: inService, within: 30}
      - ping: {from: home, to: 10.10.1.1, within: 20}
      - show: {daemon: cpe, what: state, expect: {sites.0.call.peer_name: lns-home}}
      - request: {daemon: lns, cmd: l2tp dial-out session reset, args: {id: "..."}}
      - call: {function: "package.module:function", args: {...}}   # Python for a step that needs code

Each step is a mapping with exactly one key (the step kind). Errors name the file, the step number
and the rule broken. No protocol logic lives here: steps are requests, waits and commands.
"""
from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .dialout_lab import LabSpec
from .wait import wait_for

STEP_KINDS = {
    "exec": ({"host", "argv"}, {"check", "timeout"}),
    "ping": ({"from", "to"}, {"within"}),
    "wait": ({"daemon"}, None),           # None: any further keys are event fields
    "request": ({"daemon", "cmd"}, {"args", "expect", "within"}),
    "show": ({"daemon", "what"}, {"args", "expect", "within"}),
    "call": ({"function"}, {"args"}),
}


ALIASES = {"lns": "lnsd"}   # the fixture's name for lnsd


class ScenarioError(ValueError):
    """A scenario file breaks the format; the message names the file, step and rule."""


@dataclass
class Scenario:
    """One parsed scenario file."""
    name: str
    source: Path
    steps: list[tuple[str, dict]]
    configs: dict = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)
    description: str = ""

    def lab_spec(self) -> LabSpec:
        """The LabSpec whose configure hook deep-merges `lab.configs` into the daemons' configs."""
        overrides = self.configs

        def configure(configs: dict) -> None:
            deep_merge(configs, overrides)
        return LabSpec(configure=configure if overrides else None)


def deep_merge(into: dict, over: dict) -> dict:
    """Merge `over` into `into` in place: mappings recursively, anything else (lists, None) replaces."""
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            deep_merge(into[k], v)
        else:
            into[k] = copy.deepcopy(v)
    return into


def load(path: str | Path) -> Scenario:
    """Parse and check a scenario file. Raises ScenarioError naming the key and the rule."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ScenarioError(f"{path}: not YAML: {e}") from None
    if not isinstance(doc, dict):
        raise ScenarioError(f"{path}: must be a mapping with name, steps")
    unknown = set(doc) - {"name", "description", "markers", "lab", "steps"}
    if unknown:
        raise ScenarioError(f"{path}: unknown key(s) {sorted(unknown)} (allowed: name, description, markers, lab, steps)")
    lab = doc.get("lab") or {}
    if not isinstance(lab, dict) or set(lab) - {"configs"}:
        raise ScenarioError(f"{path}: lab: must be a mapping with only `configs`")
    configs = lab.get("configs") or {}
    if not isinstance(configs, dict):
        raise ScenarioError(f"{path}: lab.configs: must be a mapping role -> config overrides")
    steps = []
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScenarioError(f"{path}: steps: must be a non-empty list")
    for i, st in enumerate(raw_steps, 1):
        where = f"{path}: steps[{i}]"
        if not isinstance(st, dict) or len(st) != 1:
            raise ScenarioError(f"{where}: must be a mapping with exactly one step kind ({', '.join(STEP_KINDS)})")
        (kind, args), = st.items()
        if kind not in STEP_KINDS:
            raise ScenarioError(f"{where}: unknown step kind {kind!r} (one of {', '.join(STEP_KINDS)})")
        if not isinstance(args, dict):
            raise ScenarioError(f"{where}.{kind}: must be a mapping")
        required, optional = STEP_KINDS[kind]
        missing = required - set(args)
        if missing:
            raise ScenarioError(f"{where}.{kind}: missing {sorted(missing)}")
        if optional is not None and set(args) - required - optional:
            raise ScenarioError(f"{where}.{kind}: unknown key(s) {sorted(set(args) - required - optional)} "
                                f"(allowed: {sorted(required | optional)})")
        steps.append((kind, args))
    markers = doc.get("markers") or []
    if not isinstance(markers, list) or not all(isinstance(m, str) for m in markers):
        raise ScenarioError(f"{path}: markers: must be a list of marker names")
    return Scenario(str(doc.get("name") or path.stem), path, steps, configs, markers, str(doc.get("description", "")))


def load_all(folder: str | Path) -> list[Scenario]:
    """Every *.yaml scenario of `folder`, sorted by file name."""
    return [load(p) for p in sorted(Path(folder).glob("*.yaml"))]


def lookup(value: Any, path: str) -> Any:
    """`value` at a dotted path; integer parts index lists ("sites.0.call.peer_name")."""
    for part in path.split("."):
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            raise KeyError(f"{part!r}: {type(value).__name__} has no fields")
    return value


def _check(result: Any, expect: dict) -> list[str]:
    bad = []
    for path, want in expect.items():
        try:
            got = lookup(result, str(path))
        except (KeyError, IndexError, ValueError) as e:
            bad.append(f"{path}: missing ({e})")
            continue
        if got != want:
            bad.append(f"{path}: expected {want!r}, got {got!r}")
    return bad


def run(scenario: Scenario, lab) -> None:
    """Run the steps against `lab` (the dlab.pytest_plugin lab: .daemons, .exec, .ping). Each
    daemon's wait_for cursor starts at the scenario's start. Fails (AssertionError) at the first
    step that does not hold, naming it."""
    for d in lab.daemons.values():
        d.reset_cursor()
    for i, (kind, a) in enumerate(scenario.steps, 1):
        where = f"{scenario.source.name} step {i} ({kind})"

        def daemon(name: str):
            name = ALIASES.get(name, name)
            if name not in lab.daemons:
                raise AssertionError(f"{where}: no daemon {name!r} in this lab ({', '.join(lab.daemons)})")
            return lab.daemons[name]

        if kind == "exec":
            lab.exec(a["host"], [str(x) for x in a["argv"]], check=a.get("check", True),
                     timeout=float(a.get("timeout", 30)))
        elif kind == "ping":
            wait_for(lambda: lab.ping(a["from"], a["to"]), float(a.get("within", 10)),
                     f"{where}: {a['to']} answering {a['from']}")
        elif kind == "wait":
            fields = {k: v for k, v in a.items() if k not in ("daemon", "within", "from")}
            if "from" in a:
                fields["from_"] = a["from"]
            daemon(a["daemon"]).wait_for(within=float(a.get("within", 10)), **fields)
        elif kind in ("request", "show"):
            d = daemon(a["daemon"])
            cmd = a["cmd"] if kind == "request" else f"show {a['what']}"
            args = a.get("args") or {}
            expect = a.get("expect") or {}
            if "within" in a:
                last: dict = {}

                def holds():
                    last["result"] = d.request(cmd, **args)
                    last["bad"] = _check(last["result"], expect)
                    return not last["bad"]
                try:
                    wait_for(holds, float(a["within"]), f"{where}: {cmd} to show {expect}")
                except AssertionError as e:
                    raise AssertionError(f"{e}\n{'; '.join(last.get('bad', []))}") from None
            else:
                result = d.request(cmd, **args)
                bad = _check(result, expect)
                assert not bad, f"{where}: {cmd}: {'; '.join(bad)}\nresult: {result}"
        elif kind == "call":
            mod, _, fn = str(a["function"]).partition(":")
            if not fn:
                raise ScenarioError(f"{where}: function must be 'module:function'")
            getattr(importlib.import_module(mod), fn)(lab, **(a.get("args") or {}))
