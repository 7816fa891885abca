"""`brook`: the command-line entry point. Subcommands live in their own modules."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

from brook import __version__
from brook.cli._common import CliError, debug_option
from brook.cli.acl import acl
from brook.cli.cluster import cluster
from brook.cli.console import console
from brook.cli.consume import consume
from brook.cli.dump_log import dump_log
from brook.cli.group import group
from brook.cli.perf import perf
from brook.cli.produce import produce
from brook.cli.quota import quota
from brook.cli.serve import serve
from brook.cli.topic import topic
from brook.cli.transactions import transactions
from brook.cli.user import user


class _BrookGroup(click.Group):
    """Turns any exception a subcommand lets escape into one line on stderr (the traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError:
            if ctx.meta.get("brook.debug"):
                traceback.print_exc(file=sys.stderr)
            raise
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.exceptions.Exit(130) from None
        except Exception as exc:
            if ctx.invoked_subcommand == "serve":
                raise  # a broker crash keeps its traceback
            if ctx.meta.get("brook.debug"):
                traceback.print_exc(file=sys.stderr)
            raise CliError(_one_line(exc)) from exc


def _one_line(exc: BaseException) -> str:
    from brook.cli._common import describe_kafka_error

    if type(exc).__module__.startswith("cimpl") or type(exc).__name__ == "KafkaException":
        return describe_kafka_error(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@click.group(cls=_BrookGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="brook")
@debug_option
def cli() -> None:
    """brook: a Kafka-compatible event-streaming broker."""


for _command in (
    serve,
    cluster,
    topic,
    produce,
    consume,
    group,
    perf,
    dump_log,
    quota,
    transactions,
    user,
    acl,
    console,
):
    cli.add_command(_command)


def main() -> None:
    cli()
