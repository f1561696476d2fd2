"""dlab: orchestration of the dial-out lab (network namespaces, processes, FreeRADIUS) and the
Python side of the harness. See docs/lab.md, and docs/python.md for the native codecs."""

# The native module (dlab._native) is built into <build>/bindings/dlab/: let this package span every
# `dlab` folder on sys.path (./lab puts bindings/python and build/bindings there).
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

__all__ = ["topology", "netns", "procs", "freeradius", "lab", "wait"]
