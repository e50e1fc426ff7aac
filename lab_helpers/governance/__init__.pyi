"""What `lab_helpers.governance` exports, module by module: the one list, read at run time by `attach_stub` and by
editors and type checkers as the subpackage's stub."""

from .card import (
    ACCURACY_KEY as ACCURACY_KEY,
    MEASURES as MEASURES,
    Approval as Approval,
    Audience as Audience,
    Candidate as Candidate,
    Measurement as Measurement,
    ModelCard as ModelCard,
    measure as measure,
    measures_for as measures_for,
    model_card as model_card,
    percent as percent,
    run_measures as run_measures,
)
from .gate import more_detailed as more_detailed, release_gate as release_gate
from .review import PRIVACY_REVIEW as PRIVACY_REVIEW, REVIEW_FACTS as REVIEW_FACTS, review_privacy as review_privacy
