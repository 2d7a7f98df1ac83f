"""Reloading the policies from the config file the service was started with (SIGHUP, a command).

One function for both the service's signal handler and ``Control.reload_policy``, reading what it
needs from the runtime (its ``config_path``), so that nothing is patched into the runtime after it
is built.
"""

from __future__ import annotations

import structlog

from bot.config import ConfigError, load_config
from bot.policy.loader import PolicyError
from bot.runtime.checks import load_policies
from bot.runtime.service import Runtime

log = structlog.get_logger()


def reload_policies(runtime: Runtime) -> list[str]:
    """Reload the policies (from ``runtime.config_path``, else the config in memory) and put
    them in force; the problems, or [] if reloaded. A rejected policy leaves the old in force."""
    try:
        path = runtime.config_path
        config = load_config(path) if path is not None else runtime.config
        policies = load_policies(config)
        runtime.replace_policies(policies)
    except (ConfigError, PolicyError, ValueError) as error:
        log.error("policy_reload_rejected", problems=str(error))
        return str(error).splitlines()
    log.info("policies_reloaded", policies={k or "default": p.name for k, p in policies.items()})
    return []
