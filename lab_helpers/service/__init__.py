"""The model service: a query-counting black-box API in-process, the local HTTP server and its client, simulated traffic."""

from ..lazy import attach_stub

# the names it exports are listed once, in __init__.pyi; each module loads on first use of one of them
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
