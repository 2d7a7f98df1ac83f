"""`longform models fetch` against a real HTTP server on 127.0.0.1 standing in for both hosts."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.models import fetch as fetch_module
from bot.models.cli import models_app
from bot.models.fetch import (
    MODELS,
    FetchError,
    ModelSpec,
    checkpoint_name,
    default_dest,
    fetch_model,
    hash_prefix,
    hub_url,
    releases_url,
)

CONFIG_FILES = {
    "config.json": b'{"model_type": "bert"}\n',
    "vocab.txt": b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n",
    "tokenizer_config.json": b'{"do_lower_case": true}\n',
}
BLOB = bytes(range(256)) * 64  # a stand-in checkpoint, 16 KiB
HUB_REPO = "test-org/tiny-bert"


@dataclass
class FakeHosts:
    """What the fake server serves (URL path -> body), and what it was asked for."""

    url: str
    files: dict[str, bytes] = field(default_factory=dict)
    short: set[str] = field(default_factory=set)  # paths whose download breaks off halfway
    requests: list[str] = field(default_factory=list)


def _handler(hosts: FakeHosts) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.requests.append(self.path)
            body = hosts.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if self.path in hosts.short else body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    return Handler


@pytest.fixture
def hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHosts]:
    """A server on 127.0.0.1 for both the releases and the hub; stopped and joined afterwards."""
    for name in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    fake = FakeHosts(url="")
    server = HTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def spec_for(checkpoint: bytes, name: str = "unbiased") -> ModelSpec:
    """A spec like the real ones, for a checkpoint whose name carries its sha256 prefix."""
    prefix = hashlib.sha256(checkpoint).hexdigest()[:8]
    return ModelSpec(name, f"v9-test/tiny-{prefix}.ckpt", HUB_REPO, ("config.json", "vocab.txt"))


def serve(hosts: FakeHosts, spec: ModelSpec, checkpoint: bytes, config: dict[str, bytes]) -> None:
    """Put the checkpoint and the config files where ``spec`` says they are."""
    hosts.files[f"/releases/{spec.checkpoint}"] = checkpoint
    for name, body in config.items():
        hosts.files[f"/hub/{HUB_REPO}/resolve/main/{name}"] = body


def fetch(hosts: FakeHosts, spec: ModelSpec, dest: Path) -> fetch_module.FetchResult:
    return fetch_model(spec, dest, releases=f"{hosts.url}/releases", hub=f"{hosts.url}/hub")


def leftovers(dest: Path) -> list[str]:
    return sorted(path.name for path in dest.rglob("*.part"))


# --- fetching ------------------------------------------------------------------------------------


def test_fetch_writes_every_file_and_a_manifest(hosts: FakeHosts, tmp_path: Path) -> None:
    spec = spec_for(BLOB)
    serve(hosts, spec, BLOB, CONFIG_FILES)
    result = fetch(hosts, spec, tmp_path / "model")

    assert result.checkpoint.read_bytes() == BLOB
    for name, body in CONFIG_FILES.items():
        assert (result.config_dir / name).read_bytes() == body
    assert result.missing_optional == ("config/tokenizer.json",)  # optional, and 404: fine
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["model"] == "unbiased"
    assert manifest["checkpoint"] == checkpoint_name(spec)
    assert {entry["path"]: entry["sha256"] for entry in manifest["files"]} == {
        "config/config.json": hashlib.sha256(CONFIG_FILES["config.json"]).hexdigest(),
        "config/vocab.txt": hashlib.sha256(CONFIG_FILES["vocab.txt"]).hexdigest(),
        "config/tokenizer_config.json": hashlib.sha256(
            CONFIG_FILES["tokenizer_config.json"]
        ).hexdigest(),
        checkpoint_name(spec): hashlib.sha256(BLOB).hexdigest(),
    }
    assert leftovers(tmp_path) == []


def test_fetched_files_load_in_the_detoxify_scorer(hosts: FakeHosts, tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="torch is not installed (optional: longform[detoxify])")
    from bot.scoring.detoxify_scorer import DetoxifyScorer
    from tests.tiny_detoxify import UNBIASED_CLASSES, build_tiny_checkpoint

    built, config_dir = build_tiny_checkpoint(tmp_path / "built", model_type="roberta-base")
    checkpoint = built.read_bytes()
    spec = spec_for(checkpoint)
    config = {path.name: path.read_bytes() for path in config_dir.iterdir()}
    serve(hosts, spec, checkpoint, config)
    result = fetch(hosts, spec, tmp_path / "model")

    scorer = DetoxifyScorer("unbiased", checkpoint=result.checkpoint, config_dir=result.config_dir)
    [scores] = scorer.score(["you are an idiot"])
    assert set(UNBIASED_CLASSES) <= set(scores)
    assert all(0.0 <= value <= 1.0 for value in scores.values())


def test_rerun_downloads_nothing_when_every_file_is_valid(hosts: FakeHosts, tmp_path: Path) -> None:
    spec = spec_for(BLOB)
    serve(hosts, spec, BLOB, CONFIG_FILES)
    fetch(hosts, spec, tmp_path)
    hosts.requests.clear()

    result = fetch(hosts, spec, tmp_path)

    assert not any(file.downloaded for file in result.files)
    assert hosts.requests == [f"/hub/{HUB_REPO}/resolve/main/tokenizer.json"]  # the missing one


def test_rerun_downloads_again_a_file_that_no_longer_matches(
    hosts: FakeHosts, tmp_path: Path
) -> None:
    spec = spec_for(BLOB)
    serve(hosts, spec, BLOB, CONFIG_FILES)
    first = fetch(hosts, spec, tmp_path)
    (first.config_dir / "vocab.txt").write_bytes(b"edited\n")
    first.checkpoint.write_bytes(BLOB[:100])

    result = fetch(hosts, spec, tmp_path)

    downloaded = {file.path for file in result.files if file.downloaded}
    assert downloaded == {"config/vocab.txt", checkpoint_name(spec)}
    assert result.checkpoint.read_bytes() == BLOB
    assert (result.config_dir / "vocab.txt").read_bytes() == CONFIG_FILES["vocab.txt"]


def test_missing_required_file_names_the_url_and_leaves_nothing_partial(
    hosts: FakeHosts, tmp_path: Path
) -> None:
    spec = spec_for(BLOB)
    serve(hosts, spec, BLOB, {"config.json": CONFIG_FILES["config.json"]})

    with pytest.raises(FetchError, match=r"vocab\.txt answered 404.*required.*--hub-url"):
        fetch(hosts, spec, tmp_path)

    assert not (tmp_path / "config" / "vocab.txt").exists()
    assert not (tmp_path / checkpoint_name(spec)).exists()
    assert leftovers(tmp_path) == []


def test_missing_checkpoint_points_at_the_releases_url(hosts: FakeHosts, tmp_path: Path) -> None:
    spec = spec_for(BLOB)
    serve(hosts, spec, BLOB, CONFIG_FILES)
    del hosts.files[f"/releases/{spec.checkpoint}"]

    with pytest.raises(FetchError, match=r"\.ckpt answered 404.*--releases-url"):
        fetch(hosts, spec, tmp_path)


def test_checkpoint_whose_hash_contradicts_its_name_is_rejected(
    hosts: FakeHosts, tmp_path: Path
) -> None:
    spec = spec_for(BLOB)
    corrupt = bytearray(BLOB)
    corrupt[1000] ^= 0xFF
    serve(hosts, spec, bytes(corrupt), CONFIG_FILES)

    with pytest.raises(FetchError, match="is corrupt: its sha256 is"):
        fetch(hosts, spec, tmp_path)

    assert not (tmp_path / checkpoint_name(spec)).exists()
    assert leftovers(tmp_path) == []


def test_download_that_breaks_off_is_rejected(hosts: FakeHosts, tmp_path: Path) -> None:
    spec = spec_for(BLOB)
    serve(hosts, spec, BLOB, CONFIG_FILES)
    hosts.short.add(f"/releases/{spec.checkpoint}")

    with pytest.raises(FetchError, match=r"broke off|bytes of the"):
        fetch(hosts, spec, tmp_path)

    assert not (tmp_path / checkpoint_name(spec)).exists()
    assert leftovers(tmp_path) == []


def test_unreachable_host_says_internet_is_needed(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    with pytest.raises(
        FetchError, match=rf"cannot reach {re.escape(url)}/hub/.*needs internet access"
    ):
        fetch_model(spec_for(BLOB), tmp_path, releases=url, hub=f"{url}/hub")


# --- names and defaults --------------------------------------------------------------------------


def test_hash_prefix_follows_torch_hub_naming() -> None:
    assert hash_prefix("toxic_debiased-c7548aa0.ckpt") == "c7548aa0"
    assert hash_prefix("model.ckpt") is None


def test_urls_come_from_option_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LONGFORM_DETOXIFY_RELEASES_URL", "LONGFORM_HF_HUB_URL", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert releases_url() == "https://github.com/unitaryai/detoxify/releases/download"
    assert hub_url() == "https://huggingface.co"
    monkeypatch.setenv("HF_ENDPOINT", "https://mirror.example/")
    assert hub_url() == "https://mirror.example"
    monkeypatch.setenv("LONGFORM_HF_HUB_URL", "http://hub.example")
    monkeypatch.setenv("LONGFORM_DETOXIFY_RELEASES_URL", "http://releases.example/")
    assert hub_url() == "http://hub.example"
    assert releases_url() == "http://releases.example"
    assert hub_url("http://option.example") == "http://option.example"


def test_default_dest_respects_xdg_data_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_dest("original") == tmp_path / "longform" / "models" / "original"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_dest("original") == tmp_path / ".local/share/longform/models/original"


def test_model_table_matches_detoxify() -> None:
    detoxify = pytest.importorskip("detoxify.detoxify", reason="detoxify is not installed")
    for name, spec in MODELS.items():
        assert f"{fetch_module.DEFAULT_RELEASES_URL}/{spec.checkpoint}" == detoxify.MODEL_URLS[name]


# --- the command ---------------------------------------------------------------------------------


def test_command_fetches_and_prints_the_config_lines(
    hosts: FakeHosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_for(BLOB, name="original")
    serve(hosts, spec, BLOB, CONFIG_FILES)
    monkeypatch.setitem(MODELS, "original", spec)
    monkeypatch.setenv("LONGFORM_DETOXIFY_RELEASES_URL", f"{hosts.url}/releases")
    monkeypatch.setenv("LONGFORM_HF_HUB_URL", f"{hosts.url}/hub")
    dest = tmp_path / "models"

    result = CliRunner().invoke(models_app, ["fetch", "--model", "original", "--dest", str(dest)])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "[scoring.detoxify]",
        'model = "original"',
        f'checkpoint = "{(dest / checkpoint_name(spec)).resolve()}"',
        f'config_dir = "{(dest / "config").resolve()}"',
    ]
    assert "4 files downloaded" in result.stderr


def test_command_error_names_the_url_and_exits_1(
    hosts: FakeHosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_for(BLOB)
    serve(hosts, spec, BLOB, {})
    monkeypatch.setitem(MODELS, "unbiased", spec)
    args = ["fetch", "--dest", str(tmp_path), "--releases-url", f"{hosts.url}/releases"]

    result = CliRunner().invoke(models_app, [*args, "--hub-url", f"{hosts.url}/hub"])

    assert result.exit_code == 1
    assert f"{hosts.url}/hub/{HUB_REPO}/resolve/main/config.json answered 404" in result.stderr
    assert result.stdout == ""
