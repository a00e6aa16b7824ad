"""``loanrisk worker | sink | sql | monitor``: running the pipeline and looking at it."""

from __future__ import annotations

import typer

from streams.settings import load_settings


def register(app: typer.Typer) -> None:
    app.command(name="worker")(worker)
    app.command(name="sink")(sink)
    app.command(name="sql")(sql)
    app.command(name="monitor")(monitor)
    app.command(name="demo")(demo)


def worker(
    engine: str = typer.Option(
        "", help="kafka (confluent-kafka batch loop) or faust; default LOANRISK_WORKER_ENGINE "
        "(kafka). Both run the same pipeline; see README for the measured difference."),
    loglevel: str = typer.Option("info", help="log level: debug, info, warning"),
) -> None:
    """Run one decision worker. Start more processes to share the partitions.

    Consumes applications, device events, behaviour batches and fraud confirmations;
    publishes decisions to loan.decisions.v1 and feature vectors to loan.features.v1.
    Stop with Ctrl-C / SIGTERM (outputs are flushed and offsets committed first).
    """
    settings = load_settings()
    chosen = engine or settings.worker_engine
    if chosen == "faust":
        from streams.worker.faust_app import run_worker

        run_worker(settings, loglevel=loglevel)
    elif chosen == "kafka":
        from streams.worker.kafka_loop import run_kafka_worker

        run_kafka_worker(settings, loglevel=loglevel)
    else:
        typer.echo(f"error: unknown engine {chosen!r}; use kafka or faust", err=True)
        raise typer.Exit(2)


def sink(
    max_rows: int = typer.Option(5000, help="rows per table per insert, at most"),
    max_age_s: float = typer.Option(1.0, help="seconds a row may wait before its batch is written"),
    loglevel: str = typer.Option("info", help="log level"),
) -> None:
    """Run the ClickHouse sink: decisions, features, performance, dead letters, metrics.

    With the embedded chDB store this process owns it and serves `loanrisk sql` on a
    loopback port. Stop with Ctrl-C / SIGTERM (the current batch is written first).
    """
    import logging
    import signal
    import threading

    from sinks.ddl import apply_ddl
    from streams.clients import clickhouse_client
    from streams.sink.query_server import QueryServer
    from streams.sink.writer import ClickHouseSink, clickhouse_insert

    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s] %(name)s %(message)s")
    settings = load_settings()
    client = clickhouse_client(settings)
    apply_ddl(client, settings.dead_letter_payload_days)
    lock = threading.Lock()
    server = None
    if settings.clickhouse.startswith("chdb://"):
        server = QueryServer(client, lock, settings.state_dir / "clickhouse.owner",
                             port=settings.sql_port)
        server.start()
        typer.echo(f"sink owns {settings.clickhouse}; `loanrisk sql` is served on "
                   f"127.0.0.1:{server.port}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    runner = ClickHouseSink(settings.kafka, clickhouse_insert(client, lock),
                            max_rows=max_rows, max_age_s=max_age_s)
    try:
        stats = runner.run(stop)
    finally:
        if server is not None:
            server.stop()
    typer.echo(f"sink stopped: {stats.written}")


def sql(
    query: str = typer.Argument(..., help='SQL, e.g. "SELECT decision, count() FROM '
                                'decisions_latest GROUP BY decision"'),
    fmt: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """Query ClickHouse: through the sink when it owns the embedded store, directly otherwise.

    Tables: decisions, feature_vectors, loan_performance, dead_letters, metrics; views
    decisions_latest and feature_vectors_latest (each application once) and labels.
    """
    import csv
    import sys

    import orjson

    from streams.clients import analytics_client

    settings = load_settings()
    try:
        res = analytics_client(settings).query(query)
        result = {"columns": list(res.column_names), "rows": [list(r) for r in res.result_rows]}
    except Exception as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if fmt == "json":
        typer.echo(orjson.dumps(result, default=str).decode())
    elif fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(result["columns"])
        w.writerows(result["rows"])
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*result["columns"])
        for row in result["rows"]:
            table.add_row(*(str(v) for v in row))
        Console().print(table)


def monitor(
    interval: float = typer.Option(1.0, help="seconds between refreshes"),
    once: bool = typer.Option(False, "--once", help="print one snapshot and exit"),
) -> None:
    """Live view of the workers: throughput, approval rate, latency, lag, dead letters."""
    from rich.console import Console
    from rich.live import Live

    from streams.ops.monitor import Monitor, render

    settings = load_settings()
    mon = Monitor(settings.kafka, settings.worker_group)
    try:
        if once:
            time_limit = 3
            import time

            end = time.monotonic() + time_limit
            while time.monotonic() < end:
                mon.poll()
            Console().print(render(mon.state))
            return
        with Live(render(mon.poll()), refresh_per_second=4) as live:
            import time

            while True:
                time.sleep(interval)
                live.update(render(mon.poll()))
    except KeyboardInterrupt:
        pass
    finally:
        mon.close()


def demo(
    rate: float = typer.Option(200.0, help="applications per second of live traffic"),
    duration: float = typer.Option(60.0, help="seconds of live traffic"),
    workers: int = typer.Option(2, help="worker processes"),
) -> None:
    """The main job: services, champion models, workers and sink, a minute of live traffic,
    a summary; then stop everything it started (data stays for `loanrisk sql`)."""
    from rich.console import Console

    from streams.ops.demo import print_summary, run_demo

    console = Console()
    summary = run_demo(load_settings(), rate, duration, workers, console.print)
    print_summary(summary, console.print)
