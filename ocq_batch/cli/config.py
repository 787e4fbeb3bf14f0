"""``ocq-batch config``: print the resolved configuration as TOML, or write a template of it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ocq_batch.cli.options import ConfigOpt, command
from ocq_batch.config.toml import load_config
from ocq_batch.config.write import template, to_toml
from ocq_batch.errors import ConfigError
from ocq_batch.report.terminal import out


@command
def show_config(
    config_path: ConfigOpt = None,
    init: Annotated[
        Path | None,
        typer.Option(
            "--init",
            help="Write a commented template of every key (with the values of --config, or the "
            "defaults) to this file, or to standard output with '-'; an existing file is never "
            "replaced. Example: --init event.toml",
            metavar="FILE",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Print the resolved configuration as TOML, or a template.

    The output is a valid config file with every key (defaults merged with --config): saved
    and passed back with --config it gives the same configuration, and the same digest.

    Exit codes: 0 printed or written; 1 a bad --config, or --init names an existing file;
    2 usage error.

    Example: ocq-batch config --config event.toml
    """
    config = load_config(config_path)
    if init is not None:
        text = template(config)
        if str(init) == "-":
            sys.stdout.write(text)
            return
        try:
            with open(init, "x", encoding="utf-8") as fh:
                fh.write(text)
        except FileExistsError:
            raise ConfigError(f"--init {init} already exists; remove it or choose another name") from None
        except OSError as exc:
            raise ConfigError(f"--init {init}: cannot write it ({exc.strerror or exc})") from None
        out.print(f"wrote a template of every key to {init}; keep only what differs from the defaults")
        return
    head = (
        f"# the resolved configuration of {config.origin}\n"
        "# its digest (the same settings give the same digest):\n"
        f"# {config.digest()}\n"
    )
    sys.stdout.write(head + to_toml(config))
