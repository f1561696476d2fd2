"""lac-emu's per-LNS tunnel secrets (`peers: [{address, secret, hide_avps}]`, peers/README.md): a
third lac-emu (198.51.100.3 port 1703) whose default secret is not the scripted LNS's, but whose
`peers:` entry for 198.51.100.1 is. RFC 2661 §5.1.1 (Challenge / Response), §4.3 (hidden AVPs)."""
from __future__ import annotations

import json

import pytest
import yaml

from .test_lac_outgoing import peers_lab, pytestmark  # noqa: F401  (module fixture and its lab_config mark reused)

LNS_SECRET = "lns-own-secret"


@pytest.fixture(scope="module")
def lac3(peers_lab):  # noqa: F811
    run = peers_lab.run_dir
    cfg = {"listen": "198.51.100.3", "port": 1703, "host_name": "lac3", "number": "1703", "channels": 2,
           "secret": "lac3-default", "hide_avps": False,
           "peers": [{"address": "198.51.100.1", "secret": LNS_SECRET, "hide_avps": True}],
           "isdn": str(run / "isdn.sock"), "control": str(run / "lac3.ctl"), "events": str(run / "lac3-events.jsonl")}
    (run / "lac3.yaml").write_text(yaml.safe_dump(cfg))
    peers_lab.start("lac3-emu", "lac", [str(peers_lab.bdir / "peers/lac/lac-emu"), "--config", str(run / "lac3.yaml")],
                    ready="lac-emu ready")
    return run


def dial3(lab, secret: str, *extra: str) -> dict:
    cp = lab.exec("lns", [str(lab.bdir / "peers/lac/dl-lns-script"), "--lac", "198.51.100.3:1703", "--called", "5551000",
                          "--secret", secret, "--timeout", "10", *extra], timeout=30, check=False)
    lines = [ln for ln in cp.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no outcome from dl-lns-script (exit {cp.returncode}): {cp.stdout}{cp.stderr}"
    return json.loads(lines[0])


@pytest.mark.req("L2TP.tunnel-auth", "L2TP.hidden")
def test_lac_emu_authenticates_the_lns_with_its_listed_secret(peers_lab, lac3):  # noqa: F811
    got = dial3(peers_lab, LNS_SECRET, "--hide")
    assert got["result"] == "OCCN", got


@pytest.mark.req("L2TP.tunnel-auth")
def test_lac_emu_default_secret_does_not_apply_to_a_listed_lns(peers_lab, lac3):  # noqa: F811
    got = dial3(peers_lab, "lac3-default")
    assert got["result"] != "OCCN", got
    assert "Challenge Response" in json.dumps(got), got


def test_lac_emu_peers_config_error_names_the_key(peers_lab):  # noqa: F811
    run = peers_lab.run_dir
    (run / "lac-bad.yaml").write_text(yaml.safe_dump(
        {"listen": "198.51.100.3", "port": 1709, "peers": [{"address": "198.51.100.1", "hide_avps": True}]}))
    cp = peers_lab.exec("lac", [str(peers_lab.bdir / "peers/lac/lac-emu"), "--config", str(run / "lac-bad.yaml")],
                        timeout=10, check=False)
    assert cp.returncode != 0, cp.stdout
    assert "peers[0].hide_avps" in cp.stderr and "needs a secret" in cp.stderr, cp.stderr
