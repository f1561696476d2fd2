"""The one bounded wait helper: wait for a state, never sleep (FRR topotests' rule).

`wait_for(predicate, within, what)` polls `predicate` until it returns a truthy value or the
deadline passes; on timeout it raises `WaitTimeout` whose message names what was awaited and the
last value seen, so a failing test says why.
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """Raised by wait_for when the deadline passes. `.last` holds the last value seen."""

    def __init__(self, what: str, within: float, last: object):
        super().__init__(f"timed out after {within:.1f}s waiting for {what}; last seen: {last!r}")
        self.last = last


def wait_for(predicate: Callable[[], T], within: float, what: str, interval: float = 0.02) -> T:
    """Poll `predicate()` until truthy; return its value.

    within: deadline in seconds (wall clock). interval: poll period in seconds, doubled up to
    0.2 s so short waits are quick and long waits cheap. Exceptions from the predicate count as
    "not yet" and the last one is reported on timeout.
    """
    deadline = time.monotonic() + within
    last: object = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except Exception as exc:  # noqa: BLE001 - reported on timeout
            last = exc
        now = time.monotonic()
        if now >= deadline:
            raise WaitTimeout(what, within, last)
        time.sleep(min(interval, max(0.0, deadline - now)))
        interval = min(interval * 2, 0.2)
