"""``python -m streams.cli``: the same command line as ``loanrisk``."""

from streams.cli import main

main()
