"""The ``legday`` command group: global options anywhere, usage mistakes on one line.

``hoist_global_options`` lets people type ``legday ingest PATH --db FILE`` although Click only
takes the app's options before the command; ``LegdayGroup`` applies it and turns Click's usage
errors into one line that says where the help is. Pure, except that ``LegdayGroup.main`` prints
to stderr and exits the process (as any command line does).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.markup import escape
from typer import Abort
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from pipeline.cli.common import err


def hoist_global_options(
    global_params: Sequence[Any],
    command_params: Callable[[str], Sequence[Any] | None],
    args: list[str],
) -> list[str]:
    """Move the app's own options found after the command name to before it.

    People type ``legday ingest PATH --db FILE``; Click only takes ``--db`` before the command.
    An option the command itself has (``report --athlete``) stays the command's. ``--`` ends
    the options, and the values of the command's own options are never taken for options.
    ``command_params`` gives a command's parameters by name (None: no such command).
    """

    def table(params: Sequence[Any]) -> dict[str, bool]:
        out: dict[str, bool] = {}
        for p in params:
            if getattr(p, "param_type_name", "") == "option":
                for opt in [*p.opts, *p.secondary_opts]:
                    out[opt] = not (p.is_flag or p.count)
        return out

    globals_ = table(global_params)
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        name, eq, _ = args[i].partition("=")
        i += 2 if globals_.get(name) and not eq else 1
    params = command_params(args[i]) if i < len(args) else None
    if params is None:
        return args
    own = table(params)
    moved: list[str] = []
    kept: list[str] = []
    rest = args[i + 1 :]
    j = 0
    while j < len(rest):
        token = rest[j]
        if token == "--":
            kept += rest[j:]
            break
        name, eq, _ = token.partition("=")
        width = 2 if not eq else 1
        if name in globals_ and name not in own:
            take = width if globals_[name] else 1
            if j + take > len(rest):
                raise ValueError(f"option {name} needs a value")
            moved += rest[j : j + take]
            j += take
            continue
        take = width if own.get(name) else 1
        kept += rest[j : j + take]
        j += take
    return args[:i] + moved + [args[i]] + kept


class LegdayGroup(TyperGroup):
    """The app's group: global options are taken after the command as well, and a usage
    mistake (unknown command or option, missing argument) is one line that says where help is.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        def params(name: str) -> Sequence[Any] | None:
            command = self.get_command(ctx, name)
            return command.params if command is not None else None

        try:
            hoisted = hoist_global_options(self.params, params, list(args))
        except ValueError as exc:
            raise UsageError(str(exc), ctx) from exc
        return super().parse_args(ctx, hoisted)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except NoArgsIsHelpError as exc:
            exc.show()  # `legday` alone: the help, as before
            sys.exit(exc.exit_code)
        except UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "legday"
            err.print(
                f"[red]error:[/red] {escape(exc.format_message())} (see `{escape(where)} --help`)",
                highlight=False,
            )
            sys.exit(exc.exit_code)
        except ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except Abort:
            err.print("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)
