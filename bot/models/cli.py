"""``longform models``: download models so that scoring runs offline."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TransferSpeedColumn,
)

from bot.models.fetch import (
    HUB_ENV,
    MODELS,
    RELEASES_ENV,
    FetchError,
    FetchResult,
    config_lines,
    default_dest,
    fetch_model,
    hub_url,
    releases_url,
)

models_app = typer.Typer(
    help="Download models so that scoring runs offline.", no_args_is_help=True, add_completion=False
)


class ModelName(StrEnum):
    """The Detoxify models ``fetch`` knows."""

    unbiased = "unbiased"
    original = "original"
    multilingual = "multilingual"


@models_app.callback()
def _models() -> None:
    """Download models so that scoring runs offline."""


@models_app.command("fetch")
def fetch(
    model: Annotated[ModelName, typer.Option(help="The Detoxify model.")] = ModelName.unbiased,
    dest: Annotated[
        Path | None,
        typer.Option(
            help="Directory to fetch into (default: $XDG_DATA_HOME or ~/.local/share, "
            "then longform/models/<model>)",
            show_default=False,
        ),
    ] = None,
    releases: Annotated[
        str | None,
        typer.Option(
            "--releases-url",
            help=f"Base URL of Detoxify's release assets (default: ${RELEASES_ENV}, or GitHub)",
            show_default=False,
        ),
    ] = None,
    hub: Annotated[
        str | None,
        typer.Option(
            "--hub-url",
            help=f"Base URL of the Hugging Face hub (default: ${HUB_ENV}, $HF_ENDPOINT, "
            "or huggingface.co)",
            show_default=False,
        ),
    ] = None,
    skip_hash_check: Annotated[
        bool,
        typer.Option(
            "--skip-hash-check", help="Accept a checkpoint whose sha256 contradicts its name."
        ),
    ] = False,
) -> None:
    """Download a Detoxify checkpoint and its tokenizer files, then print the config to use."""
    target = dest if dest is not None else default_dest(model.value)
    errors = Console(stderr=True)
    try:
        with _progress(errors) as progress:
            result = fetch_model(
                MODELS[model.value],
                target,
                releases=releases_url(releases),
                hub=hub_url(hub),
                progress=progress,
                verify_hash=not skip_hash_check,
            )
    except FetchError as error:
        errors.print(f"error: {error}", style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from error
    except OSError as error:
        errors.print(
            f"error: cannot write to {target}: {error}", style="red", markup=False, soft_wrap=True
        )
        raise typer.Exit(1) from error
    _report(result)


def _progress(console: Console) -> Progress:
    """A progress display with one bar per file, sizes and speed."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
    )


def _report(result: FetchResult) -> None:
    """Say what was fetched, then print the config lines (on stdout, ready to paste)."""
    downloaded = sum(file.downloaded for file in result.files)
    kept = len(result.files) - downloaded
    typer.echo(
        f"Detoxify {result.model!r} is in {result.dest}: {downloaded} files downloaded, "
        f"{kept} already present and valid.",
        err=True,
    )
    typer.echo("To score offline with it, put this in the config:", err=True)
    typer.echo(config_lines(result))
