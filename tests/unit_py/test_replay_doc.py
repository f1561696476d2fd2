"""docs/replay.md's worked example: the Python block runs and prints the text block after it."""
from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

# Not `from conftest import REPO`: when several test folders are collected together, `conftest`
# may name another folder's module.
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.req("REPLAY.analysis")
def test_worked_example_of_docs_replay_md(captures):
    doc = (REPO / "docs" / "replay.md").read_text()
    section = doc[doc.index("### Worked example"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    expected = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(REPO)                    # the example's path is relative to the repository
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "docs/replay.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert out.getvalue() == expected
