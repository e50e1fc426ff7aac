"""The attacks: MI-FACE (white-box, black-box), the attackers that adapt to an output control, work from labels alone or evade a detector, face priors and the attacks through them, membership tests, attribute inference by probing."""

from ..lazy import attach_stub

# the names it exports are listed once, in __init__.pyi; each module loads on first use of one of them
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
