"""`qlir metrics`: Prometheus metrics computed from the store and its ledgers
(qlir_core.metrics), printed, served on 127.0.0.1, or written as a node_exporter textfile."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from prometheus_client import start_http_server, write_to_textfile

from qlir_cli import settings
from qlir_core.metrics import StoreCollector, exposition, registry
from qlir_core.storage import Store

HOST = "127.0.0.1"  # metrics say what is stored: never offered beyond this machine
DEFAULT_PORT = 9464


@click.group()
def metrics() -> None:
    """Prometheus metrics from what is stored: freshness, days, gaps, requests, latency."""


def _collector() -> StoreCollector:
    loaded = settings.load()
    return StoreCollector(Store(loaded.data_root), loaded.series, loaded.start_date)


@metrics.command("show")
def show() -> None:
    """Print the metrics once, in Prometheus' text format."""
    click.echo(exposition(_collector()).decode(), nl=False)


@metrics.command("serve")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="port on 127.0.0.1 (0: any free one, printed)",
)
@click.option(
    "--textfile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write the metrics to this file once (for node_exporter's textfile collector) "
    "and exit, instead of serving",
)
def serve(port: int, textfile: Path | None) -> None:
    """Serve /metrics on 127.0.0.1 (each scrape reads the store), or write a textfile."""
    found = registry(_collector())
    if textfile is not None:
        if not textfile.parent.is_dir():
            raise click.BadParameter(f"{textfile.parent} is not a folder", param_hint="--textfile")
        write_to_textfile(str(textfile), found)  # written beside it, then renamed: atomic
        return
    try:
        server, _ = start_http_server(port, addr=HOST, registry=found)
    except OSError as e:
        raise click.ClickException(f"cannot listen on {HOST}:{port}: {e.strerror}") from None
    click.echo(f"serving metrics on http://{HOST}:{server.server_port}/metrics", err=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
