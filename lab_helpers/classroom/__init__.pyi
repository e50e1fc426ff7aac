"""What `lab_helpers.classroom` exports, module by module: the one list, read at run time by `attach_stub` and by
editors and type checkers as the subpackage's stub."""

from .policy import (
    BluePolicy as BluePolicy,
    POLICY_TEMPLATE as POLICY_TEMPLATE,
    PolicyFileError as PolicyFileError,
    parse_blue_policy as parse_blue_policy,
    read_blue_policy as read_blue_policy,
)
from .red_team import (
    Plan as Plan,
    RedRun as RedRun,
    attack_door as attack_door,
    door_rules as door_rules,
    open_door as open_door,
    plan_attack as plan_attack,
    randomised_probes as randomised_probes,
    submit_reconstruction as submit_reconstruction,
)
from .class_model import ClassSetup as ClassSetup, class_setup as class_setup
from .scoreboard import (
    png_data_uri as png_data_uri,
    render_gallery as render_gallery,
    render_scoreboard as render_scoreboard,
)
from .session import (
    new_practice_round as new_practice_round,
    practice_class as practice_class,
    serve_class as serve_class,
    wait_for as wait_for,
)
from .shared_target import (
    ClassSetupError as ClassSetupError,
    ClassTarget as ClassTarget,
    Learner as Learner,
    read_roster as read_roster,
)
