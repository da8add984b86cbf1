"""The ``worldtwin`` command line: a thin Typer front-end over the library.

Each command group lives in its own module with a ``register(app)`` function; this module wires
them together and turns user errors into one clear message (no traceback) with exit status 2.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.markup import escape

from worldtwin.cli.output import err_console
from worldtwin.errors import WorldtwinError

app = typer.Typer(
    name="worldtwin",
    help="Industrial digital twins with a learned world model. Runs offline; nothing leaves this machine.\n\n"
    "Start with:  worldtwin twins  (built-in plants)  ·  worldtwin simulate --help  ·  worldtwin spec --help",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Modules under worldtwin.cli that add commands; each defines register(app).
COMMAND_MODULES = ("demo", "spec", "sim", "telemetry", "serve_plant", "train", "evaluate")

for _name in COMMAND_MODULES:
    importlib.import_module(f"worldtwin.cli.{_name}").register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except WorldtwinError as exc:
        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
