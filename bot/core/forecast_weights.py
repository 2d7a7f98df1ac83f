"""Weights of the derailment forecast; written by training/train_forecast.py, do not edit.

Trained on the first two messages of the ChangeMyView threads of Habernal et al. (NAACL 2018;
Apache-2.0), threads ending in a personal attack against threads ending in a delta; see
training/README.md ("The derailment forecast") for how well it does."""

from __future__ import annotations

BIAS = -0.1482
WEIGHTS: dict[str, float] = {
    "attack_rising": 1.2322,
    "hostility_rising": 1.0043,
    "opener_apology": -0.286,
    "opener_attack": 1.2202,
    "opener_direct_question": -0.5432,
    "opener_direct_start": -0.1019,
    "opener_disagree": -0.0897,
    "opener_factuality": -0.428,
    "opener_gratitude": 0.7797,
    "opener_greeting": 0.3353,
    "opener_hedge": -0.1326,
    "opener_hostility": 0.24,
    "opener_i_start": -0.015,
    "opener_please": 0.4387,
    "opener_question": -0.0619,
    "opener_second_person": -0.0965,
    "opener_warm": -0.5398,
    "opener_you_start": 0.2142,
    "politeness_dropped": -0.2031,
    "reply_apology": 0.0316,
    "reply_attack": 0.6331,
    "reply_direct_question": 0.2016,
    "reply_direct_start": -0.2392,
    "reply_disagree": 0.2069,
    "reply_factuality": 0.1514,
    "reply_gratitude": -0.6089,
    "reply_greeting": -0.1304,
    "reply_hedge": -1.1892,
    "reply_hostility": 0.6455,
    "reply_i_start": -0.8008,
    "reply_please": 1.0577,
    "reply_question": -0.3617,
    "reply_second_person": 0.8851,
    "reply_warm": -0.7236,
    "reply_you_start": 0.3567,
}
# Pooled out-of-fold measures, each [value, bootstrap 95% low, high].
CROSS_VALIDATION = {
    "context_messages": 2,
    "detect_at": 0.85,
    "folds": 5,
    "forecast": {
        "accuracy": [0.6997, 0.6741, 0.7237],
        "auc": [0.7281, 0.7005, 0.7555],
        "caught": [0.6734, 0.6362, 0.7089],
        "false_alarms_civil": [0.274, 0.24, 0.308],
    },
    "forecast_at_detect_at": {
        "accuracy": [0.5813, 0.5542, 0.6084],
        "auc": [0.7281, 0.7005, 0.7555],
        "caught": [0.1827, 0.1531, 0.2137],
        "false_alarms_civil": [0.0201, 0.0093, 0.0314],
    },
    "seed": 0,
}
