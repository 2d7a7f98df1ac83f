"""Loading policies from TOML into the core's validated types.

Errors name the file, the table and the key, and say what is allowed. Unknown keys are errors.
Per-channel overrides (``[channels."<id>"]``) change only the keys they set.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bot.core.settings import ExperimentSettings, MemorySettings, Policy, PromptTexts, Settings

# A source checkout keeps presets in policies/; a wheel carries them as bot/_presets.
_BUNDLED = Path(__file__).resolve().parents[1] / "_presets"
PRESETS = _BUNDLED if _BUNDLED.is_dir() else Path(__file__).resolve().parents[2] / "policies"
_HEADER = {"schema_version", "name", "description", "mode", "memory", "channels", "experiment"}
_PLACEHOLDERS = {"target", "author", "count", "minutes", "duration", "window", "position",
                 "explanation", "words", "quote", "rephrase"}  # fmt: skip
_ALERT_PLACEHOLDERS = _PLACEHOLDERS | {"signal", "place"}
_ALLOWED_ACTIONS = {
    "ad_hominem": {"notice", "private_prompt", "slow_mode", "open_longform", "alert_moderators"},
    "pile_on": {"notice", "private_prompt", "slow_mode", "open_longform", "alert_moderators"},
    "escalation": {"notice", "slow_mode", "open_longform", "alert_moderators"},
    # A forecast is a guess about what has not happened: it offers room, and may tell moderators
    # only beside that offer (see _check_forecast).
    "forecast": {"notice", "open_longform", "alert_moderators"},
}


class PolicyError(ValueError):
    """A policy that cannot be used; the message lists every problem with file, table and key."""


def _where(path: Path, prefix: str, loc: tuple[Any, ...]) -> str:
    parts = [prefix] if prefix else []
    parts.extend(str(part) for part in loc)
    return f"{path}: " + ".".join(parts)


def _validate(
    adapter: TypeAdapter[Any], data: Any, path: Path, prefix: str, problems: list[str]
) -> Any:
    try:
        return adapter.validate_python(data)
    except ValidationError as error:
        for item in error.errors():
            if item["type"] == "unexpected_keyword_argument":
                message = (
                    "unknown key (check the spelling; `longform check-policy` lists every key)"
                )
            else:
                message = item["msg"]
            problems.append(f"{_where(path, prefix, item['loc'])}: {message}")
        return None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _check_meaning(settings: Settings, path: Path, prefix: str, problems: list[str]) -> None:
    """Rules the types alone cannot express."""
    where = f"{path}: {prefix}" if prefix else f"{path}: "
    for signal, allowed in _ALLOWED_ACTIONS.items():
        for index, level in enumerate(getattr(settings, signal).levels):
            for action in level.actions:
                if action not in allowed:
                    problems.append(f"{where}{signal}.levels[{index}].actions: {action!r} is not "
                                    f"allowed here; allowed: {', '.join(sorted(allowed))}")  # fmt: skip
    _check_forecast(settings, where, problems)
    for spec in fields(PromptTexts):
        template = getattr(settings.prompts, spec.name)
        allowed_names = _ALERT_PLACEHOLDERS if spec.name == "moderator_alert" else _PLACEHOLDERS
        try:
            names = {
                name for _, name, _, _ in string.Formatter().parse(template) if name is not None
            }
        except ValueError as error:
            problems.append(f"{where}prompts.{spec.name}: {error} (write {{{{ and }}}} for braces)")
            continue
        unknown = names - allowed_names
        if unknown:
            problems.append(f"{where}prompts.{spec.name}: unknown placeholder(s) "
                            f"{', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed_names))}")  # fmt: skip
    if len(settings.longform.tags) > 5:
        problems.append(f"{where}longform.tags: at most 5 tags (Discord's limit)")


def _check_forecast(settings: Settings, where: str, problems: list[str]) -> None:
    """A forecast never alerts moderators on its own: nobody has been attacked yet."""
    for index, level in enumerate(settings.forecast.levels):
        if "alert_moderators" in level.actions and not {"notice", "open_longform"} & set(
            level.actions
        ):
            problems.append(f"{where}forecast.levels[{index}].actions: a forecast may not alert "
                            "moderators on its own (nobody has been attacked yet); add 'notice' "
                            "or 'open_longform' to this level, or remove 'alert_moderators'")  # fmt: skip


def parse_policy(raw: dict[str, Any], path: Path) -> Policy:
    """Validate a parsed TOML document; raise PolicyError listing every problem."""
    problems: list[str] = []
    if raw.get("schema_version", 1) != 1:
        problems.append(f"{path}: schema_version: only 1 is supported")
    mode = raw.get("mode", "shadow")
    if mode not in ("shadow", "live"):
        problems.append(f"{path}: mode: {mode!r} is not allowed; use 'shadow' or 'live'")
    body = {key: value for key, value in raw.items() if key not in _HEADER}
    settings_adapter: TypeAdapter[Settings] = TypeAdapter(Settings)
    settings = _validate(settings_adapter, body, path, "", problems)
    if settings is not None:
        _check_meaning(settings, path, "", problems)
    memory = _validate(TypeAdapter(MemorySettings), raw.get("memory", {}), path, "memory", problems)
    experiment = _validate(
        TypeAdapter(ExperimentSettings), raw.get("experiment", {}), path, "experiment", problems
    )
    channels: list[tuple[str, Settings]] = []
    overrides = raw.get("channels", {})
    if not isinstance(overrides, dict):
        problems.append(f'{path}: channels: must be a table of [channels."<channel id>"]')
        overrides = {}
    for channel, override in overrides.items():
        prefix = f'channels."{channel}"'
        if not isinstance(override, dict):
            problems.append(f"{path}: {prefix}: must be a table")
            continue
        effective = _validate(settings_adapter, _merge(body, override), path, prefix, problems)
        if effective is not None:
            _check_meaning(effective, path, prefix, problems)
            channels.append((str(channel), effective))
    if problems or settings is None or memory is None or experiment is None:
        raise PolicyError("invalid policy:\n  " + "\n  ".join(problems))
    return Policy(
        name=str(raw.get("name", path.stem)), mode=mode, schema_version=1,
        description=str(raw.get("description", "")), settings=settings,
        channels=tuple(channels), memory=memory, experiment=experiment,
    )  # fmt: skip


def resolve(name_or_path: str | Path) -> Path:
    """A policy file: a path, or the name of a shipped preset ("professional", "strict", ...)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    preset = PRESETS / f"{name_or_path}.toml"
    if preset.exists():
        return preset
    presets = ", ".join(sorted(p.stem for p in PRESETS.glob("*.toml")))
    raise PolicyError(f"{name_or_path}: no such policy file or preset (presets: {presets})")


def load_policy(name_or_path: str | Path) -> Policy:
    """Read and validate a policy file or preset; raise PolicyError with every problem."""
    path = resolve(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{path}: not valid TOML: {error}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(f"{path}: cannot be read: {error}") from error
    return parse_policy(raw, path)
