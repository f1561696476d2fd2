"""dlab: orchestration of the dial-out lab (network namespaces, processes, FreeRADIUS) and the
Python side of the harness. See docs/lab.md."""

__all__ = ["topology", "netns", "procs", "freeradius", "lab", "wait"]
