"""Download a Detoxify model for fully offline scoring (``longform models fetch``).

How it works: a Detoxify model is two downloads, its checkpoint (a release asset of
unitaryai/detoxify on GitHub) and the Hugging Face config and tokenizer files of its base model.
Each file is streamed into a hidden temporary file beside its destination, checked (the size the
server announced and, for the checkpoint, the sha256 prefix its name carries, torch hub's
convention) and only then renamed into place, so a failed or interrupted download never leaves a
file that looks complete. A re-run keeps every file that is present and still valid.
``manifest.json`` records what was fetched, with paths relative to the directory, so the directory
can be copied to a machine without internet.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rich.progress import Progress, TaskID

DEFAULT_RELEASES_URL = "https://github.com/unitaryai/detoxify/releases/download"
DEFAULT_HUB_URL = "https://huggingface.co"
RELEASES_ENV = "LONGFORM_DETOXIFY_RELEASES_URL"
HUB_ENV = "LONGFORM_HF_HUB_URL"
# huggingface_hub's own variable for a mirror, honoured when ours is not set.
HF_ENDPOINT_ENV = "HF_ENDPOINT"
CONFIG_SUBDIR = "config"
MANIFEST = "manifest.json"
USER_AGENT = "longform-models-fetch/0.1"

_CHUNK = 1 << 20
_TIMEOUT_S = 30.0
# torch.hub.HASH_REGEX: "name-<first hex digits of the sha256>.ext".
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")


class FetchError(RuntimeError):
    """A download failed. The message names the URL or file and how to fix it."""


class _NotFoundError(Exception):
    """The server answered 404."""


@dataclass(frozen=True)
class ModelSpec:
    """Where one Detoxify model's files live."""

    name: str
    checkpoint: str  # path under the releases URL, e.g. "v0.3-alpha/toxic_debiased-c7548aa0.ckpt"
    hub_repo: str  # the base model on the Hugging Face hub, as named in the checkpoint
    required: tuple[str, ...]  # hub files the tokenizer cannot do without
    optional: tuple[str, ...] = ("tokenizer_config.json", "tokenizer.json")  # 404 is fine


# The checkpoints are detoxify.detoxify.MODEL_URLS (0.5.x); the base models are the model_type
# their arch args name. Each tokenizer is the slow class Detoxify uses, hence its required files.
MODELS: dict[str, ModelSpec] = {
    "original": ModelSpec(
        "original",
        "v0.1-alpha/toxic_original-c1212f89.ckpt",
        "bert-base-uncased",
        ("config.json", "vocab.txt"),
    ),
    "unbiased": ModelSpec(
        "unbiased",
        "v0.3-alpha/toxic_debiased-c7548aa0.ckpt",
        "roberta-base",
        ("config.json", "vocab.json", "merges.txt"),
    ),
    "multilingual": ModelSpec(
        "multilingual",
        "v0.4-alpha/multilingual_debiased-0b549669.ckpt",
        "xlm-roberta-base",
        ("config.json", "sentencepiece.bpe.model"),
    ),
}


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: its URL, its path under the destination, and how to check it."""

    url: str
    path: str  # relative, with "/" separators
    required: bool
    sha256_prefix: str | None  # from the file name, when verified
    fix: str  # what to check when the server does not have it


@dataclass(frozen=True)
class FetchedFile:
    """A file now in the destination; ``downloaded`` is False when a valid copy was kept."""

    path: str
    url: str
    size: int
    sha256: str
    downloaded: bool


@dataclass(frozen=True)
class FetchResult:
    """What ``fetch_model`` left in ``dest``: the paths to configure, and every file."""

    model: str
    dest: Path
    checkpoint: Path
    config_dir: Path
    files: tuple[FetchedFile, ...]
    missing_optional: tuple[str, ...]


def releases_url(override: str | None = None) -> str:
    """The base URL of Detoxify's release assets: ``override``, $LONGFORM_DETOXIFY_RELEASES_URL,
    or GitHub."""
    return (override or os.environ.get(RELEASES_ENV) or DEFAULT_RELEASES_URL).rstrip("/")


def hub_url(override: str | None = None) -> str:
    """The Hugging Face hub's base URL: ``override``, $LONGFORM_HF_HUB_URL, $HF_ENDPOINT, or
    huggingface.co."""
    chosen = override or os.environ.get(HUB_ENV) or os.environ.get(HF_ENDPOINT_ENV)
    return (chosen or DEFAULT_HUB_URL).rstrip("/")


def default_dest(model: str) -> Path:
    """``$XDG_DATA_HOME/longform/models/<model>``, XDG_DATA_HOME defaulting to ~/.local/share."""
    data_home = os.environ.get("XDG_DATA_HOME", "")
    # The XDG spec says to ignore a relative value.
    base = Path(data_home) if os.path.isabs(data_home) else Path.home() / ".local" / "share"
    return base / "longform" / "models" / model


def hash_prefix(filename: str) -> str | None:
    """The sha256 prefix a file name carries by torch hub's convention, or None."""
    match = _HASH_IN_NAME.search(filename)
    return match.group(1) if match and match.group(1) else None


def checkpoint_name(spec: ModelSpec) -> str:
    """The checkpoint's file name, e.g. ``toxic_debiased-c7548aa0.ckpt``."""
    return spec.checkpoint.rsplit("/", 1)[-1]


def remote_files(
    spec: ModelSpec, releases: str, hub: str, *, verify_hash: bool = True
) -> list[RemoteFile]:
    """Every file of ``spec``: the hub files first (small, so a wrong URL fails fast), then the
    checkpoint."""
    hub_fix = f"check --hub-url / ${HUB_ENV} (now {hub}) points at the Hugging Face hub or a mirror"
    files = [
        RemoteFile(
            url=f"{hub}/{spec.hub_repo}/resolve/main/{name}",
            path=f"{CONFIG_SUBDIR}/{name}",
            required=name in spec.required,
            sha256_prefix=None,
            fix=hub_fix,
        )
        for name in (*spec.required, *spec.optional)
    ]
    name = checkpoint_name(spec)
    files.append(
        RemoteFile(
            url=f"{releases}/{spec.checkpoint}",
            path=name,
            required=True,
            sha256_prefix=hash_prefix(name) if verify_hash else None,
            fix=f"check --releases-url / ${RELEASES_ENV} (now {releases}) holds Detoxify's releases",
        )
    )
    return files


def fetch_model(
    spec: ModelSpec,
    dest: Path,
    *,
    releases: str,
    hub: str,
    progress: Progress | None = None,
    verify_hash: bool = True,
) -> FetchResult:
    """Fetch every file of ``spec`` into ``dest`` and write its manifest.

    Returns what is now in ``dest``. Raises FetchError when a required file cannot be fetched or
    fails its checks; files already complete stay, and no partial file is left behind.
    """
    dest.mkdir(parents=True, exist_ok=True)
    known = _manifest_hashes(dest)
    fetched: list[FetchedFile] = []
    missing: list[str] = []
    for remote in remote_files(spec, releases, hub, verify_hash=verify_hash):
        entry = _fetch_one(remote, dest, known.get(remote.path), progress)
        if entry is None:
            missing.append(remote.path)
        else:
            fetched.append(entry)
    result = FetchResult(
        model=spec.name,
        dest=dest,
        checkpoint=dest / checkpoint_name(spec),
        config_dir=dest / CONFIG_SUBDIR,
        files=tuple(fetched),
        missing_optional=tuple(missing),
    )
    _write_manifest(result)
    return result


def config_lines(result: FetchResult) -> str:
    """The TOML that points the Detoxify scorer at the fetched files."""

    def quoted(value: str) -> str:
        # A JSON string without \u escapes is a valid TOML basic string.
        return json.dumps(value, ensure_ascii=False)

    return "\n".join(
        [
            "[scoring.detoxify]",
            f"model = {quoted(result.model)}",
            f"checkpoint = {quoted(str(result.checkpoint.resolve()))}",
            f"config_dir = {quoted(str(result.config_dir.resolve()))}",
        ]
    )


def _fetch_one(
    remote: RemoteFile, dest: Path, known_sha256: str | None, progress: Progress | None
) -> FetchedFile | None:
    """The file, kept if valid or else downloaded; None for an optional file the server lacks."""
    target = dest / remote.path
    digest = _valid_digest(target, remote, known_sha256)
    if digest is not None:
        size = target.stat().st_size
        if progress is not None:
            progress.add_task(f"{remote.path} (kept)", total=size, completed=size)
        return FetchedFile(remote.path, remote.url, size, digest, downloaded=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        size, digest = _download(remote, target, progress)
    except _NotFoundError:
        if remote.required:
            raise FetchError(
                f"{remote.url} answered 404 Not Found, and {remote.path} is required: {remote.fix}"
            ) from None
        target.unlink(missing_ok=True)  # a stale copy that failed its checks
        return None
    return FetchedFile(remote.path, remote.url, size, digest, downloaded=True)


def _valid_digest(target: Path, remote: RemoteFile, known_sha256: str | None) -> str | None:
    """The sha256 of ``target`` if it exists and passes its checks, else None."""
    if not target.is_file():
        return None
    digest = _sha256_of(target)
    if remote.sha256_prefix is not None and not digest.startswith(remote.sha256_prefix):
        return None
    if known_sha256 is not None and known_sha256 != digest:
        return None
    return digest


def _download(remote: RemoteFile, target: Path, progress: Progress | None) -> tuple[int, str]:
    """(size, sha256) of ``remote``, downloaded and checked, then renamed to ``target``."""
    request = urllib.request.Request(remote.url, headers={"User-Agent": USER_AGENT})
    partial: Path | None = None
    try:
        with _open(request) as response:
            expected = _content_length(response)
            partial = _partial_path(target)
            task = None if progress is None else progress.add_task(remote.path, total=expected)
            with partial.open("xb") as out:
                size, digest = _copy(response, out, remote.url, progress, task)
        _check(remote, expected, size, digest)
        os.replace(partial, target)
        partial = None
        return size, digest
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)


def _partial_path(target: Path) -> Path:
    """A fresh hidden name beside ``target`` (opened with the user's umask, unlike mkstemp)."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")


def _open(request: urllib.request.Request) -> http.client.HTTPResponse:
    """The server's response; _NotFoundError on 404, FetchError on any other failure."""
    url = request.full_url
    try:
        response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the connection open
        if exc.code == 404:
            raise _NotFoundError(url) from None
        raise FetchError(
            f"{url} answered HTTP {exc.code} {exc.reason}: try again later, or check the URL"
        ) from None
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, refused, reset
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise FetchError(
            f"cannot reach {url} ({reason}): this command needs internet access (set HTTPS_PROXY "
            "if you go through a proxy), or run it on a machine that has it and copy the "
            "directory here"
        ) from exc
    return response


def _content_length(response: http.client.HTTPResponse) -> int | None:
    """The size the server announced, if any."""
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


def _copy(
    response: http.client.HTTPResponse,
    out: IO[bytes],
    url: str,
    progress: Progress | None,
    task: TaskID | None,
) -> tuple[int, str]:
    """(bytes copied, their sha256) from ``response`` to ``out``."""
    sha256 = hashlib.sha256()
    size = 0
    while True:
        try:
            chunk = response.read(_CHUNK)
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(
                f"the download of {url} broke off after {size} bytes ({type(exc).__name__}): "
                "run the command again; files already complete are kept"
            ) from exc
        if not chunk:
            return size, sha256.hexdigest()
        out.write(chunk)
        sha256.update(chunk)
        size += len(chunk)
        if progress is not None and task is not None:
            progress.update(task, advance=len(chunk))


def _check(remote: RemoteFile, expected: int | None, size: int, digest: str) -> None:
    """Raise FetchError if the download is short or its sha256 contradicts its name."""
    if expected is not None and size != expected:
        raise FetchError(
            f"{remote.url} sent {size} bytes of the {expected} it announced: run the command again"
        )
    if remote.sha256_prefix is not None and not digest.startswith(remote.sha256_prefix):
        raise FetchError(
            f"{remote.url} is corrupt: its sha256 is {digest}, but its name says it starts with "
            f"{remote.sha256_prefix}. Run the command again; if it fails the same way, the file "
            "was replaced upstream (--skip-hash-check accepts it if you trust the source)"
        )


def _sha256_of(path: Path) -> str:
    """The hex sha256 of the file at ``path``."""
    sha256 = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            sha256.update(chunk)
    return sha256.hexdigest()


def _manifest_hashes(dest: Path) -> dict[str, str]:
    """path -> sha256 from an earlier run's manifest; empty if there is none or it is unreadable."""
    try:
        manifest = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
        return {str(entry["path"]): str(entry["sha256"]) for entry in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _write_manifest(result: FetchResult) -> None:
    """Write ``manifest.json`` in the destination, atomically."""
    manifest = {
        "model": result.model,
        "checkpoint": result.checkpoint.name,
        "config_dir": CONFIG_SUBDIR,
        "files": [
            {"path": file.path, "url": file.url, "size": file.size, "sha256": file.sha256}
            for file in result.files
        ],
        "missing_optional": list(result.missing_optional),
    }
    target = result.dest / MANIFEST
    partial = _partial_path(target)
    try:
        partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
