"""The class exercise: red team versus blue team on one shared, defended model, judged and scored live."""

from __future__ import annotations

# ruff: noqa: F401 - the names under TYPE_CHECKING are exported lazily through `attach`, not unused
from typing import TYPE_CHECKING

from ..lazy import attach

# module -> the names it exports; each module loads on first use of one of its names (no work on import)
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "policy": ["BluePolicy", "POLICY_TEMPLATE", "PolicyFileError", "parse_blue_policy", "read_blue_policy"],
        "red_team": ["Plan", "RedRun", "attack_door", "door_rules", "door_url", "open_door", "plan_attack",
                     "randomised_probes", "strongest_output", "submit_reconstruction"],
        "referee": ["COPY_CORRELATION", "ClassSetup", "class_setup"],
        "scoreboard": ["png_data_uri", "render_gallery", "render_scoreboard"],
        "session": ["ClassHandle", "HouseAttacker", "OrdinaryTraffic", "new_practice_round", "practice_class",
                    "serve_class", "start_class", "wait_for"],
        "target": ["ClassSetupError", "ClassTarget", "Learner", "read_roster"],
    },
)

if TYPE_CHECKING:  # for editors and type checkers; at run time the names load lazily, above
    from .policy import (
        POLICY_TEMPLATE,
        BluePolicy,
        PolicyFileError,
        parse_blue_policy,
        read_blue_policy,
    )
    from .red_team import (
        Plan,
        RedRun,
        attack_door,
        door_rules,
        door_url,
        open_door,
        plan_attack,
        randomised_probes,
        strongest_output,
        submit_reconstruction,
    )
    from .referee import COPY_CORRELATION, ClassSetup, class_setup
    from .scoreboard import png_data_uri, render_gallery, render_scoreboard
    from .session import (
        ClassHandle,
        HouseAttacker,
        OrdinaryTraffic,
        new_practice_round,
        practice_class,
        serve_class,
        start_class,
        wait_for,
    )
    from .target import ClassSetupError, ClassTarget, Learner, read_roster
