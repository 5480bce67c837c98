"""``alert-router schema``: print the JSON Schema of the alert format (or of the config file)."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

HELP = "print the alert JSON schema (--config: the config file schema)"

ALERT_SCHEMA = "alert.v1.schema.json"
CONFIG_SCHEMA = "config.schema.json"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", action="store_true", help="print the config file schema instead"
    )


def run(args: argparse.Namespace) -> int:
    name = CONFIG_SCHEMA if args.config else ALERT_SCHEMA
    text = _packaged(name)
    if text is None and not args.config:
        # The packaged copy is generated from the model; regenerate if it is missing.
        from router_core.alert import alert_json_schema_text

        text = alert_json_schema_text()
    if text is None:
        print(f"alert-router schema: error: {name} is not packaged with this installation",
              file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


def _packaged(name: str) -> str | None:
    """The schema packaged in ``router_core/schemas``, else the source tree's ``schemas/``."""
    try:
        return resources.files("router_core").joinpath("schemas", name).read_text("utf-8")
    except (FileNotFoundError, NotADirectoryError):
        pass
    source_tree = Path(__file__).resolve().parents[2] / "schemas" / name
    return source_tree.read_text("utf-8") if source_tree.is_file() else None
