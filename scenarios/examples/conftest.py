"""User scenarios (docs/scenarios.md) run with the dial-out lab plugin: fixtures lab, lns, lac, cpe,
radius, scripted_lac, scripted_radius. Needs PYTHONPATH=bindings/python:build/bindings (./lab sets it)."""
import sys
from pathlib import Path

_PY = str(Path(__file__).resolve().parents[2] / "bindings" / "python")
if _PY not in sys.path:
    sys.path.insert(0, _PY)

pytest_plugins = ["dlab.pytest_plugin"]
