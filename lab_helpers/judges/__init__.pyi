"""What `lab_helpers.judges` exports, module by module: the one list, read at run time by `attach_stub` and by
editors and type checkers as the subpackage's stub."""

from .reconstructions import (
    FAINT_GREY_LEVELS as FAINT_GREY_LEVELS,
    JUDGE_COLUMNS as JUDGE_COLUMNS,
    Evaluator as Evaluator,
    Verdict as Verdict,
    amplification as amplification,
    as_images as as_images,
    closer_than_public as closer_than_public,
    contrast_grey_levels as contrast_grey_levels,
    correlation_top1 as correlation_top1,
    judge as judge,
    lineup_accuracy as lineup_accuracy,
    nearest_photo_top1 as nearest_photo_top1,
    normalise_contrast as normalise_contrast,
    similarity_to_people as similarity_to_people,
    train_evaluator as train_evaluator,
    verdict_table as verdict_table,
)
