"""``emotag``: the typer application and its error handling.

Library code raises :class:`~emotag.errors.EmotagError`; here it becomes one red line on
stderr and exit code 1, never a traceback. So does a missing optional package: the line names
the extra that installs it (:mod:`emotag.extras`).

Start-up time is part of the interface (``emotag predict "text"`` answers in well under a
second): the command modules imported here import only typer and the standard library at
module level; everything heavy is imported inside the command that uses it
(tests/test_packaging.py checks what ``import emotag.cli.app`` loads).
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from .. import __version__
from ..errors import EmotagError
from . import adapt, calibrate, ensemble, evaluate, export, predict, serve, train

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Multi-label emotion recognition (GoEmotions): train, evaluate, predict.")
app.command("train")(train.train_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("predict")(predict.predict_command)
app.command("ensemble")(ensemble.ensemble_command)
app.command("export")(export.export_command)
app.command("calibrate")(calibrate.calibrate_command)
app.command("serve")(serve.serve_command)
app.command("adapt")(adapt.adapt_command)

err = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"emotag {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", is_eager=True,
                                       callback=_print_version,
                                       help="Print the version and exit.")) -> None:
    """emotag command line."""


def _command_name(argv: list[str]) -> str | None:
    """The subcommand in ``argv`` (its first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _error(message: object) -> None:
    from rich.text import Text  # the message quotes user text: never read it as markup

    err.print(Text.assemble(("error:", "red"), f" {message}"), highlight=False,
              soft_wrap=True)  # one line, whatever the terminal's width


def main() -> None:
    try:
        code = app(standalone_mode=False)
        # Non-standalone typer returns exit codes instead of exiting (130 after Ctrl-C,
        # typer.Exit(n)); commands themselves return None.
        if isinstance(code, int) and not isinstance(code, bool) and code:
            sys.exit(code)
    except EmotagError as e:
        _error(e)
        sys.exit(1)
    except ModuleNotFoundError as e:  # an optional package: name its extra, no traceback
        from ..extras import missing_extra

        command = _command_name(sys.argv[1:])
        friendly = missing_extra(e, f"emotag {command}", command)
        if friendly is None:
            raise
        _error(friendly)
        sys.exit(1)
    except typer.Abort:
        sys.exit(130)
    except Exception as e:  # click usage errors come through here in non-standalone mode
        # By class name: typer may carry its own copy of click (typer._click), whose
        # exception classes are not click's.
        kinds = {cls.__name__ for cls in type(e).__mro__}
        if "ClickException" in kinds:
            e.show()
            sys.exit(e.exit_code)
        if "Exit" in kinds:
            sys.exit(e.exit_code)
        raise


if __name__ == "__main__":
    main()
