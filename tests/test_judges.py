"""The judges' three words: recognised (strict judges independent of the target), template leak, visible (contrast)."""
from __future__ import annotations

import numpy as np
import pytest

from lab_helpers.judges import (
    FAINT_GREY_LEVELS,
    JUDGE_COLUMNS,
    amplification,
    contrast_grey_levels,
    judge,
    nearest_photo_top1,
    verdict_table,
)

PEOPLE = np.arange(40)


def faint(images: np.ndarray, amplitude: float) -> np.ndarray:
    """The images squeezed around mid-grey to a contrast of `amplitude` (in [0, 1] units)."""
    x = images - images.mean(axis=(1, 2), keepdims=True)
    return 0.5 + amplitude * x / np.abs(x).max(axis=(1, 2), keepdims=True)


def test_contrast_is_counted_in_grey_levels_as_returned(faces):
    photos = faces.X_test[::3].reshape(-1, 64, 64)
    full = contrast_grey_levels(photos)
    assert (full > 100).all()  # a real photo spans most of the 255 grey levels
    squeezed = contrast_grey_levels(faint(photos, 0.002))  # half of one grey level either side
    assert (squeezed < 1.2).all() and (squeezed < FAINT_GREY_LEVELS).all()
    assert (amplification(faint(photos, 0.002)) > 200).all() and (amplification(photos) < 2.6).all()
    flat = np.full((3, 64, 64), 0.5, dtype=np.float32)
    assert (contrast_grey_levels(flat) == 0).all()


def test_the_nearest_photo_judge_names_people_from_photos_the_target_never_saw(faces, evaluator):
    held_out = faces.X_test.reshape(-1, 64, 64)
    assert nearest_photo_top1(held_out, faces.y_test, faces, evaluator) == 1.0  # each photo is its own nearest
    training = faces.images[[faces.train_idx[faces.y_train == p][0] for p in PEOPLE]]
    assert nearest_photo_top1(training, PEOPLE, faces, evaluator) >= 0.8  # another photo of the same person
    grey = np.full((40, 64, 64), 0.5, dtype=np.float32)
    assert nearest_photo_top1(grey, PEOPLE, faces, evaluator) <= 0.05  # every blank lands on the same photo


def test_a_faint_template_leaks_but_is_not_visible(faces, evaluator):
    """Each person's average held-out photo, squeezed under one grey level: the template judges still match it."""
    means = np.stack([faces.X_test[faces.y_test == p].mean(0) for p in PEOPLE]).reshape(-1, 64, 64)
    v = judge(faint(means, 0.002), PEOPLE, faces, evaluator)
    assert v.template_lineup >= 0.95 and v.template_correlation >= 0.9
    assert v.contrast_grey_levels < 1.2 and v.faint == 40
    full = judge(means, PEOPLE, faces, evaluator)
    assert full.contrast_grey_levels > 50 and full.faint == 0 and full.recognised_top1 >= 0.8


def test_the_verdict_table_leads_with_the_recognised_judges_and_gives_chance(faces, evaluator):
    means = np.stack([faces.X_test[faces.y_test == p].mean(0) for p in PEOPLE]).reshape(-1, 64, 64)
    table = verdict_table({"average photos": judge(means, PEOPLE, faces, evaluator)})
    assert list(table.columns) == list(JUDGE_COLUMNS.values()) and list(table.columns[:3]) == [
        "recognised: evaluator top-1 %", "recognised: evaluator top-5 %", "recognised: nearest photo %"]
    assert table.loc["chance", "recognised: evaluator top-1 %"] == pytest.approx(2.5)
    assert table.loc["chance", "template: lineup (1 of 5) %"] == pytest.approx(20.0)


def test_a_stretched_picture_says_how_much_and_no_moved_image_is_called_no_signal(faces):
    """Pictures tell the truth: a faint image is labelled with its stretch, a blank one 'no signal', and an image that
    moved by less than a grey level (lab 04's person 5 once moved 0.00093) is not drawn as 'no signal'."""
    from lab_helpers.ui import NO_SIGNAL, amplification_captions

    photo = faces.X_test[0].reshape(64, 64)
    images = np.stack([photo, 0.5 + 0.4 * (photo - photo.mean()), faint(photo[None], 0.0005)[0],
                       np.full((64, 64), 0.5, dtype=np.float32)])
    captions = amplification_captions(images)
    assert captions[0].startswith("×") and not captions[0].startswith("faint")
    assert captions[2].startswith("faint, ×") and int(captions[2].split("×")[1].replace(",", "")) >= 900
    assert captions[3] == NO_SIGNAL and NO_SIGNAL not in captions[:3]
