"""What `lab_helpers.judges` exports, module by module: the one list, read at run time by `attach_stub` and by
editors and type checkers as the subpackage's stub."""

from .reconstructions import (
    Evaluator as Evaluator,
    Verdict as Verdict,
    as_images as as_images,
    closer_than_public as closer_than_public,
    correlation_top1 as correlation_top1,
    judge as judge,
    lineup_accuracy as lineup_accuracy,
    normalise_contrast as normalise_contrast,
    similarity_to_people as similarity_to_people,
    train_evaluator as train_evaluator,
    verdict_table as verdict_table,
)
