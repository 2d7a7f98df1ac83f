"""The service config: the example parses and documents every setting; errors name the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.config import Config, ConfigError, load_config, tokens

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.extend(_keys(annotation, f"{prefix}{name}."))  # a table: its keys, not its name
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_example_config_loads_with_defaults() -> None:
    config = load_config(EXAMPLE)
    assert config == Config()
    assert config.platforms == ()


def test_example_config_documents_every_setting() -> None:
    text = EXAMPLE.read_text()
    from bot.config import CommunityConfig

    undocumented = [
        key
        for key in [*_keys(Config), *_keys(CommunityConfig, "communities.")]
        if not re.search(rf"^#?\s*{re.escape(key.rsplit('.', 1)[-1])}\s*=", text, re.MULTILINE)
        and key.rsplit(".", 1)[-1]
        not in {
            "storage",
            "logging",
            "metrics",
            "dashboard",
            "scoring",
            "outbox",
            "scheduler",
            "discord",
            "telegram",
            "matrix",
            "communities",
            "detoxify",
        }
    ]
    assert not undocumented


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_unknown_key_is_named_with_its_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"storage\.retention_dayz: unknown key"):
        load_config(_write(tmp_path, "[storage]\nretention_dayz = 3\n"))


def test_out_of_range_value_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"metrics\.port"):
        load_config(_write(tmp_path, "[metrics]\nport = 70000\n"))


def test_community_on_a_platform_not_enabled(tmp_path: Path) -> None:
    text = '[[communities]]\nplatform = "discord"\nid = "1"\nmoderators = "2"\n'
    with pytest.raises(
        ConfigError, match=r"discord is not enabled; set \[discord\] enabled = true"
    ):
        load_config(_write(tmp_path, text))


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"copy config\.example\.toml"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[storage\n"))


def test_tokens_come_from_the_named_environment_variables() -> None:
    config = Config.model_validate({"discord": {"enabled": True, "token_env": "MY_DISCORD"},
                                    "telegram": {"enabled": True}})  # fmt: skip
    with pytest.raises(ConfigError, match="LONGFORM_TELEGRAM_TOKEN is not set") as raised:
        tokens(config, {"MY_DISCORD": "abc"})
    assert "LONGFORM_TELEGRAM_TOKEN is not set" in str(raised.value)
    assert "telegram.token_env" in str(raised.value)
    assert tokens(config, {"MY_DISCORD": "abc", "LONGFORM_TELEGRAM_TOKEN": " t "}) == {
        "discord": "abc",
        "telegram": "t",
    }


@pytest.mark.parametrize(
    ("table", "key", "quoted", "meant"),
    [
        ("metrics", "enabled", '"yes"', "enabled = true"),
        ("metrics", "port", '"9108"', "port = 9108"),
        ("storage", "retention_days", '"30"', "retention_days = 30"),
        ("replay", "enabled", '"false"', "enabled = false"),
        ("scheduler", "tick_seconds", '"2.5"', "tick_seconds = 2.5"),
    ],
)
def test_quoted_booleans_and_numbers_are_refused_naming_the_key_and_the_fix(
    tmp_path: Path, table: str, key: str, quoted: str, meant: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[{table}]\n{key} = {quoted}\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(table)}\.{re.escape(key)}") as raised:
        load_config(path)
    problem = str(raised.value)
    assert f"{table}.{key}" in problem
    assert f"e.g. {meant}" in problem
