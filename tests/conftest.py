"""Shared pytest set-up for the namespace suites: import path for dlab, the dial-out lab plugin
(dlab.pytest_plugin: fixtures lab, lns, lac, cpe, radius, scripted_lac, scripted_radius; feature
markers; a pcap per test per link) and the default_topology / default_lab fixtures."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bindings" / "python"))

from dlab import topology as T  # noqa: E402
from dlab.dialout_lab import LabSpec, open_lab  # noqa: E402

pytest_plugins = ["dlab.pytest_plugin", "pytester"]


def pytest_collection_modifyitems(session, config, items):
    """Requirement markers: unknown ids are an error; DLAB_REQ_DUMP=<file> writes nodeid -> ids
    (used by ci/gen-conformance to build docs/conformance.md)."""
    import json

    from dlab import conformance
    known = conformance.requirements()
    dump = {}
    for item in items:
        ids = [i for m in item.iter_markers("req") for i in m.args]
        bad = [i for i in ids if i not in known]
        if bad:
            raise pytest.UsageError(f"{item.nodeid}: unknown requirement id(s) {bad} (docs/requirements.yaml)")
        if ids:
            dump[item.nodeid] = ids
    if os.environ.get("DLAB_REQ_DUMP"):
        Path(os.environ["DLAB_REQ_DUMP"]).write_text(json.dumps(dump, indent=1, sort_keys=True))


def pytest_configure(config):
    if os.environ.get("DLAB_REQ_DUMP"):
        return  # collection only, for the conformance matrix
    if os.geteuid() != 0:
        pytest.exit("the namespace suites need root (network namespaces): run ./lab test", returncode=4)


@pytest.fixture(scope="module")
def default_topology() -> T.Topology:
    return T.load(REPO / "scenarios" / "topologies" / "default.yaml")


@pytest.fixture(scope="module")
def default_lab():
    """The default lab (docs/architecture.md "The default lab") with its FreeRADIUS servers and no
    daemon, up for one test module (dlab.dialout_lab.open_lab)."""
    with open_lab(LabSpec(daemons=False)) as lab:
        yield lab
