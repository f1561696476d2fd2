"""The set-up path that `./lab demo` and `./lab test` take first: ci/setup-deps, ci/build, ./lab.

Every shell script of the set-up path passes shellcheck, and ci/setup-deps exits 0 after a
successful install whether or not the machine already had a policy-rc.d (an EXIT trap whose last
command failed used to turn a good install into exit status 1 on machines that had one). apt-get,
dpkg-query and debconf-set-selections are stubs on PATH here: nothing is installed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shell_scripts() -> list[Path]:
    """Every file of ci/, .ci/ and ./lab whose first line names bash or sh."""
    out = [REPO / "lab"]
    for d in (REPO / "ci", REPO / ".ci"):
        for p in sorted(d.iterdir()):
            if p.is_file():
                first = p.read_bytes().split(b"\n", 1)[0]
                if first.startswith(b"#!") and (b"bash" in first or first.endswith(b"/sh")):
                    out.append(p)
    return out


def test_set_up_scripts_are_found():
    names = {p.relative_to(REPO).as_posix() for p in shell_scripts()}
    assert {"lab", "ci/setup-deps", "ci/build", ".ci/run"} <= names, names


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_shellcheck_clean(script: Path):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (ci/setup-deps installs it)")
    cp = subprocess.run(["shellcheck", "-x", str(script)], cwd=REPO, text=True,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert cp.returncode == 0, f"shellcheck {script.name}:\n{cp.stdout}"


def _stub(bindir: Path, name: str, body: str) -> None:
    p = bindir / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)


@pytest.fixture
def stubbed_path(tmp_path: Path):
    """A PATH whose apt-get / dpkg-query / debconf-set-selections only record their calls.

    dpkg-query reports every package as not installed, so setup-deps takes its install path."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    _stub(bindir, "dpkg-query", "exit 1\n")
    _stub(bindir, "apt-get", f'echo "apt-get $*" >> "{calls}"\nexit 0\n')
    _stub(bindir, "debconf-set-selections", "cat >/dev/null\nexit 0\n")
    return bindir, calls


@pytest.mark.parametrize("policy_present", [True, False], ids=["policy-rc.d-present", "policy-rc.d-absent"])
def test_setup_deps_exits_zero_after_install(tmp_path: Path, stubbed_path, policy_present: bool):
    if os.geteuid() != 0:
        pytest.skip("setup-deps installs only as root")
    bindir, calls = stubbed_path
    policy = tmp_path / "policy-rc.d"
    original = "#!/bin/sh\n# the image's own\nexit 101\n"
    if policy_present:
        policy.write_text(original)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", DL_POLICY_RC=str(policy))
    cp = subprocess.run([str(REPO / "ci" / "setup-deps")], env=env, text=True,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert cp.returncode == 0, f"setup-deps exited {cp.returncode} after a successful install:\n{cp.stdout}"
    assert "setup-deps: done" in cp.stdout, cp.stdout
    recorded = calls.read_text()
    assert "apt-get install" in recorded, f"the install path was not taken: {recorded!r}"
    if policy_present:
        assert policy.read_text() == original, "setup-deps changed a policy-rc.d it did not create"
    else:
        assert not policy.exists(), "setup-deps left behind the policy-rc.d it created"


def test_setup_deps_reports_a_failed_install(tmp_path: Path, stubbed_path):
    if os.geteuid() != 0:
        pytest.skip("setup-deps installs only as root")
    bindir, _ = stubbed_path
    _stub(bindir, "apt-get", 'case "$1" in install) exit 100;; esac\nexit 0\n')
    policy = tmp_path / "policy-rc.d"
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", DL_POLICY_RC=str(policy))
    cp = subprocess.run([str(REPO / "ci" / "setup-deps")], env=env, text=True,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert cp.returncode != 0, f"a failed apt-get install must fail setup-deps:\n{cp.stdout}"
    assert not policy.exists(), "setup-deps left behind the policy-rc.d it created"
