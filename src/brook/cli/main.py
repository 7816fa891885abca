"""`brook`: the command-line entry point. Subcommands live in their own modules."""

from __future__ import annotations

import click

from brook import __version__
from brook.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="brook")
def cli() -> None:
    """brook: a Kafka-compatible event-streaming broker."""


cli.add_command(serve)


def main() -> None:
    cli()
