"""``ocq-batch config``: print the resolved configuration and its digest."""

from __future__ import annotations

import json

from ocq_batch.cli.options import ConfigOpt, command
from ocq_batch.config.model import MODELS, describe
from ocq_batch.config.toml import load_config
from ocq_batch.report.terminal import out
from ocq_batch.timeutil import iso


@command
def show_config(config_path: ConfigOpt = None) -> None:
    """Print the resolved configuration (defaults merged with --config) and its digest.

    Example: ocq-batch config --config event.toml
    """
    config = load_config(config_path)
    out.print(describe(config))
    out.print(f"window default: {iso(config.start)} to {iso(config.end)}; models: {', '.join(MODELS)}")
    out.print(json.dumps(config.as_dict(), indent=2))
    out.print(f"digest: {config.digest()}")
