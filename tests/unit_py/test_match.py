"""dlab.match: the JSON subset matcher and the in-order matcher hold when they should and, when they
do not, say where and what (the diff a failing conformance test prints)."""
from __future__ import annotations

import pytest

from dlab.match import assert_in_order, assert_subset, find_in_order, in_order, subset

TUNNEL = {"id": 7, "state": "established", "direction": "incoming", "counters": {"rx": 3, "tx": 4},
          "sessions": [{"id": "7/1", "state": "established"}, {"id": "7/2", "state": "idle"}]}


def test_subset_holds_for_a_nested_subset():
    assert subset({"state": "established", "counters": {"rx": 3}}, TUNNEL) is None
    assert subset({"sessions": [{"id": "7/1"}]}, TUNNEL) is None  # lists element-wise from the start
    assert subset([{"id": 7}], [TUNNEL, {"id": 8}]) is None
    assert subset({"counters": {"tx": lambda v: v > 1}}, TUNNEL) is None  # a predicate on the value


def test_subset_names_the_path_of_a_wrong_value():
    diff = subset({"state": "established", "counters": {"rx": 9}}, TUNNEL)
    assert diff == "$.counters.rx: expected 9, got 3"


def test_subset_names_a_missing_key_and_the_keys_present():
    diff = subset({"counters": {"dropped": 0}}, TUNNEL)
    assert diff == "$.counters: key 'dropped' missing (has: rx, tx)"


def test_subset_reports_every_mismatch_one_per_line():
    diff = subset({"id": 8, "direction": "outgoing", "sessions": [{"state": "established"}, {"state": "up"}]}, TUNNEL)
    assert diff.splitlines() == ["$.id: expected 8, got 7", "$.direction: expected 'outgoing', got 'incoming'",
                                 "$.sessions[1].state: expected 'up', got 'idle'"]


def test_subset_of_a_list_longer_than_got_and_of_the_wrong_type():
    assert subset([{"id": 7}, {"id": 8}], [{"id": 7}]) == "$: expected at least 2 element(s), got 1: [{'id': 7}]"
    assert subset({"state": "x"}, []).startswith("$: expected an object {'state': 'x'}, got []")
    assert subset([1], {"a": 1}).startswith("$: expected a list [1], got {'a': 1}")


def test_subset_predicate_failure_names_the_predicate():
    def positive(v):
        return v > 0
    assert subset({"counters": {"rx": positive}}, {"counters": {"rx": 0}}) == "$.counters.rx: positive() is false for 0"


def test_assert_subset_raises_with_the_diff():
    assert_subset({"id": 7}, TUNNEL)
    with pytest.raises(AssertionError, match=r"show tunnel: \$\.state: expected 'closed', got 'established'"):
        assert_subset({"state": "closed"}, TUNNEL, "show tunnel")


EVENTS = [{"entity": "dialout.session", "to": "authenticating"},
          {"entity": "l2tp.tunnel", "to": "established"},
          {"entity": "dialout.session", "to": "connecting"},
          {"entity": "l2tp.session", "to": "established"}]


def test_in_order_holds_with_dict_patterns_and_predicates():
    steps = [("trigger", {"entity": "dialout.session", "to": "authenticating"}),
             ("tunnel", lambda e: e["entity"] == "l2tp.tunnel"),
             ("session", {"entity": "l2tp.session"})]
    assert in_order(EVENTS, steps) is None
    assert find_in_order(EVENTS, steps) == ([0, 1, 3], None)
    assert assert_in_order(EVENTS, iter(steps)) == [0, 1, 3]  # any iterable of steps


def test_in_order_one_item_may_satisfy_consecutive_steps():
    # The same index may match the next step too (a step searches at or after the previous match).
    assert find_in_order(EVENTS, [("a", {"to": "established"}), ("b", {"entity": "l2tp.tunnel"})])[0] == [1, 1]


def test_in_order_fails_on_the_wrong_order_and_lists_the_items_after_the_last_match():
    steps = [("tunnel", {"entity": "l2tp.tunnel"}), ("AAA grant before the tunnel", {"entity": "dialout.session",
                                                                                     "to": "authenticating"})]
    diff = in_order(EVENTS, steps, show=lambda e: f"{e['entity']}->{e['to']}")
    assert diff == ("step 'AAA grant before the tunnel' not found at or after #1 (matched: 'tunnel' at #1); "
                    "items from #1 on:\n  #1 l2tp.tunnel->established\n  #2 dialout.session->connecting\n"
                    "  #3 l2tp.session->established")


def test_assert_in_order_raises_naming_the_missing_step():
    with pytest.raises(AssertionError, match=r"step 'inService' not found at or after #0 \(matched: none\)"):
        assert_in_order(EVENTS, [("inService", {"to": "inService"})])
    with pytest.raises(AssertionError, match=r"\(no items\)"):
        assert_in_order([], [("anything", lambda e: True)])
