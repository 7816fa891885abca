"""`brook cluster info`: the brokers, the controller and the cluster id (like `rpk cluster info`); `brook cluster
config` (cluster_config.py): dynamic broker configs."""

from __future__ import annotations

import click

from brook.cli._common import admin_client, client_options, emit, format_option, render_table, settings
from brook.cli.cluster_config import config

__all__ = ["cluster"]


@click.group()
def cluster() -> None:
    """Cluster-wide information."""


@cluster.command()
@client_options
@format_option
def info() -> None:
    """Brokers, controller and cluster id."""
    admin = admin_client(settings())
    metadata = admin.list_topics(timeout=15)
    brokers = [
        {"node_id": b.id, "host": b.host, "port": b.port, "controller": b.id == metadata.controller_id}
        for b in sorted(metadata.brokers.values(), key=lambda b: b.id)
    ]
    doc = {
        "cluster_id": metadata.cluster_id,
        "controller_id": metadata.controller_id,
        "brokers": brokers,
    }

    def text() -> str:
        head = render_table(["CLUSTER-ID", "CONTROLLER"], [(metadata.cluster_id, metadata.controller_id)])
        table = render_table(
            ["ID", "HOST", "PORT", "CONTROLLER"],
            [(b["node_id"], b["host"], b["port"], "*" if b["controller"] else "") for b in brokers],
        )
        return f"{head}\n\nBROKERS\n{table}"

    emit(doc, text)


cluster.add_command(config)
