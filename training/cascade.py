"""The cascade's mean and its calibration, as both training scripts fit them."""

from __future__ import annotations

import numpy as np
from train_attack_model import platt

from bot.scoring.embedded import SENTENCE_FROM, combine
from bot.scoring.sentence_model import Calibration


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped))


def calibrated_cascade(
    fast: np.ndarray,
    sentence: np.ndarray,
    lengths: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    fit_on: np.ndarray,
) -> tuple[Calibration, np.ndarray]:
    """The calibration fitted on the rows ``fit_on`` (a mask, within those that reach the
    sentence tier), and every row's cascade probability as ``EmbeddedScorer`` computes it: the
    linear model's own where the text does not reach the sentence tier, else the calibrated mean."""
    reached = fast >= SENTENCE_FROM
    mean = np.array(
        [combine(f, s if r else None) for f, s, r in zip(fast, sentence, reached, strict=True)]
    )
    chosen = fit_on & reached
    calibration = Calibration(
        *platt(_logit(mean[chosen]), lengths[chosen], y[chosen], weights[chosen])
    )
    cascade = mean.copy()
    cascade[reached] = [
        calibration.apply(m, length)
        for m, length in zip(mean[reached], lengths[reached], strict=True)
    ]
    return calibration, cascade
