"""``loanrisk worker | sink | sql | monitor``: running the pipeline and looking at it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import typer

from streams.cli.errors import ERROR, USAGE, fail
from streams.settings import Settings, load_settings

# the levels both logging and Faust understand (a typo is a usage error, exit 2)
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
OUTPUT_FORMATS = ("table", "csv", "json")


def one_of(choices: tuple[str, ...]) -> Callable[[str | None], str | None]:
    """An option callback: the value lower-cased, or a usage error (exit 2) naming the
    valid ones. (A callback, not an Enum, so the commands stay callable with plain str.)"""
    def check(value: str | None) -> str | None:
        if value is None or value.lower() in choices:
            return None if value is None else value.lower()
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
    return check


LogLevelOpt = typer.Option("info", callback=one_of(LOG_LEVELS),
                           help="log level: " + ", ".join(LOG_LEVELS))

# a query's own FORMAT clause -> the output that prints it; others are refused
QUERY_FORMATS = {"csv": "csv", "csvwithnames": "csv", "json": "json", "pretty": "table",
                 "prettycompact": "table"}
_FORMAT_CLAUSE = re.compile(r"\s+FORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)


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
    loglevel: str = LogLevelOpt,
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

        run_worker(settings, loglevel=loglevel.lower())
    elif chosen == "kafka":
        from streams.worker.kafka_loop import run_kafka_worker

        run_kafka_worker(settings, loglevel=loglevel.lower())
    else:
        fail(f"unknown engine {chosen!r}; use kafka or faust", USAGE)


def sink(
    max_rows: int = typer.Option(5000, help="rows per table per insert, at most"),
    max_age_s: float = typer.Option(1.0, help="seconds a row may wait before its batch is written"),
    loglevel: str = LogLevelOpt,
) -> None:
    """Run the ClickHouse sink: decisions, features, performance, dead letters, metrics.

    With the embedded chDB store this process owns it and serves ClickHouse's HTTP
    interface on LOANRISK_CLICKHOUSE_HTTP_PORT (default 18123), so `loanrisk sql`,
    clickhouse-connect, curl and BI tools query it as a server. Stop with Ctrl-C / SIGTERM
    (the current batch is written first).
    """
    import signal
    import threading

    from reviews.privacy import Sealer
    from sinks.ddl import apply_ddl
    from sinks.quote_rows import quote_request_converter
    from sinks.rows import application_converter
    from streams.clients import clickhouse_client
    from streams.sink.telemetry import serve_sink_telemetry
    from streams.sink.writer import ClickHouseSink, clickhouse_insert
    from streams.telemetry import configure_logging

    settings = load_settings()
    configure_logging(loglevel, settings.log_json, "[%(asctime)s] %(name)s %(message)s")
    client = clickhouse_client(settings)
    apply_ddl(client, settings.dead_letter_payload_days)
    server = None
    if settings.clickhouse.startswith("chdb://"):
        server = _serve_embedded(settings, client)
        typer.echo(f"sink owns {settings.clickhouse}; ClickHouse HTTP (`loanrisk sql`, "
                   f"clickhouse-connect, curl) on {server.url}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # Inserts run on the sink's own connection: analysts' queries never hold them up.
    runner = ClickHouseSink(settings.kafka, clickhouse_insert(client),
                            max_rows=max_rows, max_age_s=max_age_s,
                            applications=application_converter(
                                settings.identifier_hash_key, Sealer(settings.pii_seal_key).seal),
                            quote_requests=quote_request_converter(settings.identifier_hash_key))
    telemetry = serve_sink_telemetry(settings, runner)
    try:
        stats = runner.run(stop)
    finally:
        if server is not None:
            server.stop()
        if telemetry is not None:
            telemetry.stop()
    typer.echo(f"sink stopped: {stats.written}")


def _serve_embedded(settings: Settings, client: Any) -> Any:
    """ClickHouse's HTTP interface on the store ``client`` opened (same path spelling)."""
    from streams.clients import query_settings
    from streams.sink.chdb_engine import ChdbEngine
    from streams.sink.http_server import ClickHouseHttpServer

    password = settings.clickhouse_http_password.get_secret_value()
    if not password and settings.clickhouse_http_host not in ("127.0.0.1", "localhost", "::1"):
        fail(f"LOANRISK_CLICKHOUSE_HTTP_HOST={settings.clickhouse_http_host} exposes the store "
             "beyond this machine: set LOANRISK_CLICKHOUSE_HTTP_PASSWORD too", USAGE)
    try:
        defaults = query_settings(settings)
    except ValueError as exc:
        fail(str(exc), USAGE)
    server = ClickHouseHttpServer(
        ChdbEngine(client.path, defaults), settings.state_dir / "clickhouse.owner",
        host=settings.clickhouse_http_host, port=settings.clickhouse_http_port,
        user=settings.clickhouse_http_user, password=password)
    server.start()
    return server


def sql(
    query: str = typer.Argument(..., help='SQL, e.g. "SELECT decision, count() FROM '
                                'decisions_of_record GROUP BY decision"'),
    fmt: str = typer.Option(None, "--format", callback=one_of(OUTPUT_FORMATS),
                            help="table (default), csv or json; a query ending in "
                            "FORMAT CSV/CSVWithNames/JSON/Pretty picks it too"),
) -> None:
    """Query ClickHouse over HTTP: the DSN's server, or the sink while it owns the embedded store.

    Tables: decisions, feature_vectors, loan_performance, dead_letters, metrics; views
    decisions_of_record and feature_vectors_latest (each application once) and labels.
    """
    import csv
    import sys

    import orjson

    from streams.clients import analytics_client

    query, fmt = _own_format(query, fmt)
    settings = load_settings()
    try:
        res = analytics_client(settings).query(query)
        result = {"columns": list(res.column_names), "rows": [list(r) for r in res.result_rows]}
    except Exception as exc:
        fail(query_error(query, str(exc)))
    if fmt == "json":
        typer.echo(orjson.dumps(result, default=str).decode())
    elif fmt == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")  # not the csv module's CRLF
        w.writerow(result["columns"])
        w.writerows(result["rows"])
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*result["columns"])
        for row in result["rows"]:
            table.add_row(*(str(v) for v in row))
        Console().print(table)


def _own_format(query: str, fmt: str | None) -> tuple[str, str]:
    """A query's trailing FORMAT clause becomes the output format (the client appends a
    FORMAT of its own, so the clause cannot be sent); refused if we cannot print it."""
    m = _FORMAT_CLAUSE.search(query)
    if m is None:
        return query, (fmt or "table").lower()
    own = QUERY_FORMATS.get(m.group(1).lower())
    if own is None:
        fail(f"FORMAT {m.group(1)}: `loanrisk sql` prints table, csv or json; drop the FORMAT "
             "clause and pass --format table|csv|json", USAGE)
    if fmt is not None and fmt.lower() != own:
        fail(f"the query says FORMAT {m.group(1)} but --format is {fmt}; give one",
             USAGE)
    return query[:m.start()], own


def query_error(query: str, msg: str) -> str:
    """ClickHouse's message, unless it points into the ``FORMAT Native`` clause the client
    appends after the query: then the query is incomplete at its end, so say so."""
    said = query.lower()
    pos = re.search(r"failed at position (\d+)", msg)
    past_end = pos is not None and int(pos.group(1)) > len(query.rstrip())
    mentions_suffix = ("FORMAT AS Native" in msg or "identifier 'FORMAT'" in msg
                       or "identifier `FORMAT`" in msg) and "format" not in said
    if not (past_end or mentions_suffix):
        return msg
    detail = re.sub(r"failed at position \d+ \(\w+\) \(line \d+, col \d+\): (FORMAT )?Native\. ?",
                    "", msg)
    detail = re.sub(r" In scope .*?FORMAT AS Native\.?", "", detail)
    return (f"the query is incomplete at its end (after {query.rstrip()[-40:]!r}): {detail}")


def monitor(
    interval: float = typer.Option(1.0, help="seconds between refreshes"),
    once: bool = typer.Option(False, "--once", help="print one snapshot and exit"),
    settle: float = typer.Option(3.0, min=0.5, help="with --once: seconds spent reading the "
                                 "metrics topic before the snapshot"),
    as_json: bool = typer.Option(False, "--json", help="with --once: the snapshot as JSON on "
                                 "stdout (totals, and each live worker's last metrics)"),
) -> None:
    """Live view of the workers: throughput, approval rate, latency, lag, dead letters."""
    import time

    from rich.console import Console
    from rich.live import Live

    from streams.ops.monitor import Monitor, render, snapshot

    if as_json and not once:
        fail("--json prints one snapshot: use it with --once", USAGE)
    settings = load_settings()
    try:
        mon = Monitor(settings.kafka, settings.worker_group)
    except Exception as exc:  # confluent-kafka's KafkaException when no broker answers
        fail(f"cannot read the metrics topic on Kafka at {settings.bootstrap_servers} ({exc}); "
             "start Kafka with `loanrisk services up` or set LOANRISK_KAFKA_BOOTSTRAP", ERROR)
    try:
        if once:
            end = time.monotonic() + settle
            while time.monotonic() < end:
                mon.poll()
            if as_json:
                import orjson

                typer.echo(orjson.dumps(snapshot(mon.state), option=orjson.OPT_INDENT_2)
                           .decode())
            else:
                Console().print(render(mon.state))
            return
        with Live(render(mon.poll()), refresh_per_second=4) as live:
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
