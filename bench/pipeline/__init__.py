"""The end-to-end benchmark (``python -m bench pipeline``), one module per role.

``plan`` what to run · ``traffic`` generating and publishing · ``recorder`` consuming the
decisions (and echoes) and when each arrived · ``meters`` CPU, run queue and memory of the
processes · ``figures`` one phase's latencies and rates · ``report`` the summary and the
ratios against the same run's echo baselines · ``profiler`` a worker under cProfile ·
``runner`` the phases of each configuration on an isolated stack.
"""
