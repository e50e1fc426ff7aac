"""Defences measured: each at several settings, attacked and judged, with the model's accuracy beside; one inversion run."""

from .inversion import (
    ATTACKS,
    InversionRun,
    parse_people,
    run_inversion,
    save_reconstructions,
)
from .minimisation import (
    hunt_precision,
    minimisation_table,
    posterior_through_proxy,
    proxy_reliance,
    rarest_value,
)
from .tabular import leaf_size_sweep
from .training import (
    best_advantage,
    epsilon_sweep,
    face_membership,
    regularisation_sweep,
)

__all__ = [
    "ATTACKS",
    "InversionRun",
    "parse_people",
    "run_inversion",
    "save_reconstructions",
    "best_advantage",
    "epsilon_sweep",
    "face_membership",
    "hunt_precision",
    "leaf_size_sweep",
    "minimisation_table",
    "posterior_through_proxy",
    "proxy_reliance",
    "rarest_value",
    "regularisation_sweep",
]
