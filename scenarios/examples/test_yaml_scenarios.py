"""Runs every scenario file of this folder (*.yaml, format in docs/scenarios.md and dlab.scenario),
or the files $DLAB_SCENARIOS names (`./lab scenario my.yaml`): each gets its own lab, built from the
file's `lab:` section."""
import os
from pathlib import Path

import pytest

from dlab import scenario

if os.environ.get("DLAB_SCENARIOS"):
    SCENARIOS = [scenario.load(p) for p in os.environ["DLAB_SCENARIOS"].split(os.pathsep)]
else:
    SCENARIOS = scenario.load_all(Path(__file__).parent)


@pytest.mark.scenario
@pytest.mark.parametrize("lab, case", [pytest.param(s.lab_spec(), s, id=s.name,
                                                    marks=[getattr(pytest.mark, m) for m in s.markers])
                                       for s in SCENARIOS], indirect=["lab"], scope="module")
def test_yaml_scenario(lab, case):
    scenario.run(case, lab)
