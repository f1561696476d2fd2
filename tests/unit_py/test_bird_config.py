"""The lab's BIRD configuration (dlab.bird), without starting BIRD: both roles' generated files
parse (`bird -p`, BIRD's own parse-only mode), a box learns and announces only the target space and
writes nothing to its kernel, the home router installs with ECMP, and BFD is on where asked."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from dlab import bird

BOX = bird.BirdConfig(router_id="203.0.113.1", asn=65001, announce=["10.10.0.0/16"],
                      neighbours=[bird.Neighbour("203.0.113.10", 65000)])
HOME = bird.BirdConfig(router_id="203.0.113.10", asn=65000, install=True,
                       neighbours=[bird.Neighbour("203.0.113.1", 65001), bird.Neighbour("203.0.113.2", 65001)])


@pytest.mark.parametrize("cfg", [BOX, HOME, bird.BirdConfig(router_id="192.0.2.1", asn=65001, bfd_ms=0,
                                                            neighbours=[bird.Neighbour("192.0.2.2", 65002)])],
                         ids=["box", "home", "no-bfd"])
def test_generated_config_parses(tmp_path, cfg):
    if shutil.which("bird") is None:
        pytest.skip("bird2 not installed (ci/debian-packages.txt)")
    confdir = bird.write_config("h", cfg, tmp_path)
    cp = subprocess.run(["bird", "-p", "-c", str(confdir / "bird.conf")], capture_output=True, text=True)
    assert cp.returncode == 0, f"bird -p rejected:\n{cp.stderr}\n{cfg.render()}"


def test_box_learns_the_target_space_and_writes_nothing_to_its_kernel():
    text = BOX.render()
    assert "learn;" in text and "import where net ~ [ 10.10.0.0/16+ ]; export none;" in text
    assert "merge paths" not in text
    assert 'export where proto = "learned";' in text
    assert "bfd on;" in text and "min rx interval 100 ms" in text


def test_home_installs_every_path_and_announces_nothing():
    text = HOME.render()
    assert "merge paths on;" in text and "import none; export all;" in text
    assert text.count("protocol bgp") == 2 and text.count("import all; export none;") == 2
    assert "learn;" not in text


def test_argv_keeps_socket_and_pid_file_in_the_config_folder(tmp_path):
    argv = bird.argv(tmp_path)
    assert argv[:2] == ["bird", "-f"]
    assert str(tmp_path / "bird.ctl") in argv and str(tmp_path / "bird.pid") in argv
