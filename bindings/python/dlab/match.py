"""Matchers of the harness: a JSON subset matcher and an in-order matcher over lists (events,
messages), in the spirit of FRR topotests' `json_cmp` (frr/tests/topotests/lib/topotest.py): each
returns None when the expectation holds and otherwise a readable diff (a str naming the path and
what was found), so that a test reads

    assert (diff := subset({"state": "established"}, got)) is None, diff

or uses the assert_* forms, which raise AssertionError with that diff.

subset(expected, got)
    JSON subset: every key of an `expected` dict is in the `got` dict with a matching value
    (recursively); an `expected` list matches a `got` list element-wise from the start (`got` may be
    longer); any other value matches by ==. A value of `expected` that is a callable is a predicate
    on the `got` value.
in_order(items, steps)
    Each step (name, pattern) matches an item at or after the previous step's item (a pattern is a
    predicate on the item or a dict matched with subset()); returns None or a diff listing the items
    after the last matched step. find_in_order() returns the indexes as well.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

Pattern = Callable[[Any], bool] | dict


def _show(v: Any, limit: int = 200) -> str:
    s = repr(v)
    return s if len(s) <= limit else s[:limit - 3] + "..."


def subset(expected: Any, got: Any, path: str = "$") -> str | None:
    """None if `expected` is a JSON subset of `got` (see the module docstring), else a diff: one line
    per mismatch, each `path: expected X, got Y` (path in JSONPath style, `$.tunnels[0].state`)."""
    errors: list[str] = []
    _subset(expected, got, path, errors)
    return "\n".join(errors) if errors else None


def _subset(expected: Any, got: Any, path: str, errors: list[str]) -> None:
    if callable(expected) and not isinstance(expected, type):
        if not expected(got):
            name = getattr(expected, "__name__", "predicate")
            errors.append(f"{path}: {name}() is false for {_show(got)}")
        return
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            errors.append(f"{path}: expected an object {_show(expected)}, got {_show(got)}")
            return
        for k, v in expected.items():
            if k not in got:
                errors.append(f"{path}: key {k!r} missing (has: {', '.join(map(str, got)) or 'nothing'})")
            else:
                _subset(v, got[k], f"{path}.{k}", errors)
        return
    if isinstance(expected, list):
        if not isinstance(got, list):
            errors.append(f"{path}: expected a list {_show(expected)}, got {_show(got)}")
            return
        if len(got) < len(expected):
            errors.append(f"{path}: expected at least {len(expected)} element(s), got {len(got)}: {_show(got)}")
            return
        for i, (e, g) in enumerate(zip(expected, got)):
            _subset(e, g, f"{path}[{i}]", errors)
        return
    if expected != got:
        errors.append(f"{path}: expected {_show(expected)}, got {_show(got)}")


def assert_subset(expected: Any, got: Any, what: str = "") -> None:
    """AssertionError with subset()'s diff (prefixed by `what`) unless `expected` is a subset of `got`."""
    diff = subset(expected, got)
    if diff is not None:
        raise AssertionError(f"{what}: {diff}" if what else diff)


def _matches(pattern: Pattern, item: Any) -> bool:
    if isinstance(pattern, dict):
        return subset(pattern, item) is None
    return bool(pattern(item))


def find_in_order(items: Sequence[Any], steps: Iterable[tuple[str, Pattern]],
                  show: Callable[[Any], str] = _show) -> tuple[list[int], str | None]:
    """Matches each step (name, pattern) at or after the previous step's item; returns (indexes of the
    matched items, None) or (indexes matched so far, diff). The diff names the first step not found,
    the index it was searched from, and lists the items from there on, each through `show`."""
    steps = list(steps)
    at, found = 0, []
    for name, pattern in steps:
        i = next((k for k in range(at, len(items)) if _matches(pattern, items[k])), -1)
        if i < 0:
            done = ", ".join(f"'{n}' at #{k}" for (n, _), k in zip(steps, found)) or "none"
            listing = "\n".join(f"  #{k} {show(items[k])}" for k in range(at, len(items))) or "  (no items)"
            return found, (f"step '{name}' not found at or after #{at} (matched: {done}); "
                           f"items from #{at} on:\n{listing}")
        found.append(i)
        at = i
    return found, None


def in_order(items: Sequence[Any], steps: Iterable[tuple[str, Pattern]],
             show: Callable[[Any], str] = _show) -> str | None:
    """None if every step matches in order (see find_in_order), else the diff."""
    return find_in_order(items, steps, show)[1]


def assert_in_order(items: Sequence[Any], steps: Iterable[tuple[str, Pattern]],
                    show: Callable[[Any], str] = _show) -> list[int]:
    """The indexes of the matched items; AssertionError with find_in_order()'s diff when a step is
    not found."""
    found, diff = find_in_order(items, steps, show)
    if diff is not None:
        raise AssertionError(diff)
    return found
