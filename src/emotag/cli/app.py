"""``emotag``: the typer application and its error handling.

Library code raises :class:`~emotag.errors.EmotagError`; here it becomes one red line on
stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ..errors import EmotagError
from . import calibrate, ensemble, evaluate, export, predict, serve, train

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Multi-label emotion recognition (GoEmotions): train, evaluate, predict.")
app.command("train")(train.train_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("predict")(predict.predict_command)
app.command("ensemble")(ensemble.ensemble_command)
app.command("export")(export.export_command)
app.command("calibrate")(calibrate.calibrate_command)
app.command("serve")(serve.serve_command)

err = Console(stderr=True)


@app.callback()
def _root() -> None:
    """emotag command line."""


def main() -> None:
    try:
        code = app(standalone_mode=False)
        # Non-standalone typer returns exit codes instead of exiting (130 after Ctrl-C,
        # typer.Exit(n)); commands themselves return None.
        if isinstance(code, int) and not isinstance(code, bool) and code:
            sys.exit(code)
    except EmotagError as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        sys.exit(1)
    except typer.Abort:
        sys.exit(130)
    except Exception as e:  # click usage errors come through here in non-standalone mode
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Exit):
            sys.exit(e.exit_code)
        raise


if __name__ == "__main__":
    main()
