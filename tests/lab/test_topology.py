"""Topology files are validated at load, and every error names the key, the value and the rule."""
import copy

import pytest

from dlab import topology as T

pytestmark = pytest.mark.topology

GOOD = {
    "name": "t",
    "hosts": {"a": {}, "b": {"routes": [{"to": "default", "via": "192.0.2.1"}]}},
    "links": [{"name": "l1", "ends": {"a": "192.0.2.1/24", "b": "192.0.2.2/24"}}],
    "radius": {"r": {"host": "a", "address": "192.0.2.1", "secret": "s", "clients": ["192.0.2.2"],
                     "users": [{"name": "u", "check": ["Cleartext-Password := \"p\""], "reply": []}]}},
}


def test_good_topology_loads():
    t = T.parse(copy.deepcopy(GOOD))
    assert list(t.hosts) == ["a", "b"]
    assert t.address_of("b") == "192.0.2.2"
    assert t.radius["r"].users[0].check == ['Cleartext-Password := "p"']


def test_default_topology_is_design_section_2(default_topology):
    t = default_topology
    assert t.address_of("home", "leased") == "203.0.113.10"
    assert t.address_of("lns", "leased") == "203.0.113.1"
    assert t.address_of("lns", "core") == "198.51.100.1"
    assert t.address_of("lac", "core") == "198.51.100.2"
    assert t.address_of("lac2", "core") == "198.51.100.3"
    assert t.address_of("remote", "site") == "10.10.1.1"
    assert t.address_of("cpe", "site") == "10.10.1.254"
    assert {s.address for s in t.radius.values()} >= {"192.0.2.10", "192.0.2.11"}


@pytest.mark.parametrize("mutate, key, rule", [
    (lambda d: d["links"][0]["ends"].update(a="192.0.2.1"), "links[0].ends.a", "prefix length"),
    (lambda d: d["links"][0]["ends"].update(z="192.0.2.9/24"), "links[0].ends.z", "not a host"),
    (lambda d: d["links"][0].update(name="a-very-long-link-name"), "links[0].name", "15 characters"),
    (lambda d: d["hosts"].update({"Bad_Host": {}}), "hosts.Bad_Host", "must match"),
    (lambda d: d["hosts"]["b"]["routes"][0].update(via="not-an-ip"), "hosts.b.routes[0].via", "not an IP address"),
    (lambda d: d["radius"]["r"].update(address="192.0.2.99"), "radius.r.address", "not an address of host a"),
    (lambda d: d["radius"]["r"]["users"][0].update(reply=["Framed-Route"]), "radius.r.users[0]", "Attribute op value"),
    (lambda d: d.update(extra=1), "extra", "not a known key"),
    (lambda d: d.pop("links"), "links", "is required"),
])
def test_bad_topology_names_key_and_rule(mutate, key, rule):
    d = copy.deepcopy(GOOD)
    mutate(d)
    with pytest.raises(T.TopologyError) as ei:
        T.parse(d)
    msg = str(ei.value)
    assert msg.startswith(key), f"error should start with the key path {key!r}: {msg}"
    assert rule in msg, f"error should state the rule ({rule!r}): {msg}"


def test_conformance_matrix_is_current():
    """docs/conformance.md is generated from the tests' requirement markers; it must not drift."""
    from dlab import conformance
    fresh = conformance.generate()
    assert conformance.MATRIX.read_text() == fresh, "docs/conformance.md is stale: run ci/gen-conformance"


def test_cpe_kind_defaults_to_cpe_emu_and_is_validated():
    assert T.parse(copy.deepcopy(GOOD)).cpe == "emu"
    assert T.parse({**copy.deepcopy(GOOD), "cpe": "pppd"}).cpe == "pppd"
    with pytest.raises(T.TopologyError, match=r"cpe: 'ppp' is not a CPE kind \(emu, pppd\)"):
        T.parse({**copy.deepcopy(GOOD), "cpe": "ppp"})
