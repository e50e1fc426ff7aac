"""The defences, by where they act: on the output, in training, on the data, and at the gateway (keys, limits, log, detector)."""

from ..lazy import attach_stub

# the names it exports are listed once, in __init__.pyi; each module loads on first use of one of them
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
