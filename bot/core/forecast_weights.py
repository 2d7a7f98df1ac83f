"""Weights of the derailment forecast; written by training/train_forecast.py, do not edit.

Trained on the first two messages of the ChangeMyView threads of Habernal et al. (NAACL 2018;
Apache-2.0), threads ending in a personal attack against threads ending in a delta; see
training/README.md ("The derailment forecast") for how well it does."""

from __future__ import annotations

BIAS = 0.0088
WEIGHTS: dict[str, float] = {
    "attack_rising": 0.9694,
    "hostility_rising": 0.9653,
    "opener_apology": -0.2986,
    "opener_attack": 0.7161,
    "opener_direct_question": -0.5387,
    "opener_direct_start": -0.0986,
    "opener_disagree": -0.0989,
    "opener_factuality": -0.4345,
    "opener_gratitude": 0.8405,
    "opener_greeting": 0.307,
    "opener_hedge": -0.1585,
    "opener_hostility": 0.4769,
    "opener_i_start": -0.0289,
    "opener_please": 0.3357,
    "opener_question": -0.0925,
    "opener_second_person": -0.0622,
    "opener_warm": -0.5498,
    "opener_you_start": 0.2343,
    "politeness_dropped": -0.186,
    "reply_apology": 0.0408,
    "reply_attack": 0.8762,
    "reply_direct_question": 0.177,
    "reply_direct_start": -0.1994,
    "reply_disagree": 0.1981,
    "reply_factuality": 0.117,
    "reply_gratitude": -0.6012,
    "reply_greeting": -0.1372,
    "reply_hedge": -1.1806,
    "reply_hostility": 0.5493,
    "reply_i_start": -0.7762,
    "reply_please": 1.0733,
    "reply_question": -0.3761,
    "reply_second_person": 0.8157,
    "reply_warm": -0.7297,
    "reply_you_start": 0.3692,
}
# Pooled out-of-fold measures, each [value, bootstrap 95% low, high].
CROSS_VALIDATION = {
    "context_messages": 2,
    "detect_at": 0.85,
    "folds": 5,
    "forecast": {
        "accuracy": [0.6966, 0.6718, 0.7206],
        "auc": [0.7263, 0.6983, 0.7546],
        "caught": [0.6672, 0.6312, 0.7019],
        "false_alarms_civil": [0.274, 0.2403, 0.3088],
    },
    "forecast_at_detect_at": {
        "accuracy": [0.5774, 0.5503, 0.6045],
        "auc": [0.7263, 0.6983, 0.7546],
        "caught": [0.178, 0.1479, 0.208],
        "false_alarms_civil": [0.0232, 0.0124, 0.0352],
    },
    "seed": 0,
}
