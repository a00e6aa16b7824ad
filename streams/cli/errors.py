"""How every ``loanrisk`` command stops: one red line on stderr and a documented exit code.

Exit codes (the same for every command):

* ``0`` (``OK``): done;
* ``1`` (``ERROR``): the command could not do its job (bad input file, a service down, ...);
  the message says what to do;
* ``2`` (``USAGE``): the command line itself is wrong (unknown option, bad value); typer's
  own usage errors use it too;
* ``3`` (``CHECK_FAILED``): the command ran and its check found a problem: ``drift
  --fail-on`` found drift, ``explain`` could not reproduce a decision.
"""

from __future__ import annotations

from typing import NoReturn

import typer

OK = 0
ERROR = 1
USAGE = 2
CHECK_FAILED = 3


def fail(msg: str, code: int = ERROR) -> NoReturn:
    typer.secho(f"error: {msg}", fg="red", err=True)
    raise typer.Exit(code)
