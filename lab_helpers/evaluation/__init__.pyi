"""What `lab_helpers.evaluation` exports, module by module: the one list, read at run time by `attach_stub` and by
editors and type checkers as the subpackage's stub."""

from .explanation_leak import explanation_membership as explanation_membership, explanation_table as explanation_table
from .inversion import (
    ATTACKS as ATTACKS,
    measured_once as measured_once,
    run_inversion as run_inversion,
    save_reconstructions as save_reconstructions,
)
from .proxy_leak import (
    hunt_precision as hunt_precision,
    minimisation_table as minimisation_table,
    posterior_through_proxy as posterior_through_proxy,
    proxy_reliance as proxy_reliance,
    rarest_value as rarest_value,
)
from .prior_attacks import (
    budget_table as budget_table,
    chance_levels as chance_levels,
    defence_table as defence_table,
    judge_prior as judge_prior,
    prior_lab as prior_lab,
    queries_without_prior as queries_without_prior,
    run_prior_attack as run_prior_attack,
)
from .output_controls import (
    AttackOutcome as AttackOutcome,
    adaptive_attacks as adaptive_attacks,
    attack_output_setting as attack_output_setting,
    label_attack as label_attack,
)
from .leaf_sizes import leaf_size_sweep as leaf_size_sweep
from .training_defences import (
    best_advantage as best_advantage,
    epsilon_sweep as epsilon_sweep,
    face_membership as face_membership,
    regularisation_sweep as regularisation_sweep,
)
from .reasons_leak import extraction_table as extraction_table, letter_table as letter_table
