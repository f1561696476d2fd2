"""The lab's FreeRADIUS configuration (dlab.freeradius), without starting it: no directory outside
the server's folder is changed, the daemon reaches its files through a bind mount in its private
mount namespace, and every Access-Accept / -Reject is signed with a Message-Authenticator."""
from __future__ import annotations

import os
import stat

from dlab import freeradius
from dlab.topology import RadiusServer


def server() -> RadiusServer:
    return RadiusServer(name="home", host="radius", address="192.0.2.10", secret="s", clients=["192.0.2.1"],
                        users=[])


def test_no_directory_above_the_servers_folder_is_changed(tmp_path):
    closed = tmp_path / "closed"        # like a checkout under a 0700 home: freerad cannot search it
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    before = {p: p.stat().st_mode for p in (tmp_path, closed)}
    confdir = freeradius.write_config(server(), closed / "radius")
    after = {p: p.stat().st_mode for p in (tmp_path, closed)}
    assert after == before, "a directory above the run folder was changed"
    assert stat.S_IMODE(closed.stat().st_mode) == 0o700
    conf = (confdir / "radiusd.conf").read_text()
    assert f"confdir = {freeradius.MOUNT}/raddb" in conf and str(closed) not in conf, \
        "FreeRADIUS must see its files at the bind mount, not through the closed directory"
    argv = freeradius.argv(confdir)
    assert argv[:2] == ["sh", "-c"] and f"mount --bind \"$1\" {freeradius.MOUNT}" in argv[2], argv
    assert argv[-1] == str(confdir.parent), argv
    assert "exec freeradius" in argv[2], "the daemon must keep the pid the lab tracks"


def test_access_accept_and_reject_carry_message_authenticator(tmp_path):
    conf = (freeradius.write_config(server(), tmp_path / "radius") / "radiusd.conf").read_text()
    post_auth = conf[conf.index("post-auth {"):]
    assert post_auth.count("Message-Authenticator := 0x00") == 2, post_auth


def test_generated_files_are_not_world_readable(tmp_path):
    confdir = freeradius.write_config(server(), tmp_path / "radius")
    for d, _, files in os.walk(confdir):
        for f in files:
            assert not os.stat(os.path.join(d, f)).st_mode & 0o007, f"{f} is readable by others"
