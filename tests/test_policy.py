from pathlib import Path

import pytest

from bot.policy.loader import PolicyError, load_policy


@pytest.mark.parametrize("preset", ["professional", "strict", "gentle"])
def test_presets_load_in_shadow_mode(preset: str) -> None:
    assert load_policy(preset).mode == "shadow"


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(body)
    return path


def test_unknown_key_is_named_with_file_table_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "[pile_on]\nmin_autors = 3\n")
    with pytest.raises(PolicyError, match=r"p\.toml: pile_on\.min_autors: unknown key"):
        load_policy(path)


def test_out_of_range_value_says_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(
        PolicyError, match=r"ad_hominem\.detect_at: Input should be less than or equal to 1"
    ):
        load_policy(_write(tmp_path, "[ad_hominem]\ndetect_at = 3\n"))


def test_escalation_cannot_prompt_privately(tmp_path: Path) -> None:
    body = '[escalation]\nlevels = [{ at = 0.5, actions = ["private_prompt"] }]\n'
    with pytest.raises(PolicyError, match=r"escalation\.levels\[0\].*not allowed here"):
        load_policy(_write(tmp_path, body))


def test_unknown_placeholder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"prompts\.late_joiner: unknown placeholder\(s\) nme"):
        load_policy(_write(tmp_path, '[prompts]\nlate_joiner = "hi {nme}"\n'))


def test_channel_override_changes_only_its_keys(tmp_path: Path) -> None:
    body = '[pile_on]\nmin_authors = 5\nwindow_minutes = 20\n[channels."42".pile_on]\nmin_authors = 3\n'
    policy = load_policy(_write(tmp_path, body))
    assert policy.for_channel("42").pile_on.min_authors == 3
    assert policy.for_channel("42").pile_on.window_minutes == 20
    assert policy.for_channel("7").pile_on.min_authors == 5


def test_bad_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(_write(tmp_path, "[pile_on\n"))


def test_experiment_table_is_read_and_checked(tmp_path: Path) -> None:
    loaded = load_policy(_write(tmp_path, '[experiment]\nholdback = 0.1\nsalt = "spring"\n'))
    assert (loaded.experiment.holdback, loaded.experiment.salt) == (0.1, "spring")
    with pytest.raises(PolicyError, match=r"p\.toml: experiment\.hold_back: unknown key"):
        load_policy(_write(tmp_path, "[experiment]\nhold_back = 0.1\n"))
    with pytest.raises(
        PolicyError, match=r"experiment\.holdback: Input should be less than or equal to 1"
    ):
        load_policy(_write(tmp_path, "[experiment]\nholdback = 10\n"))
