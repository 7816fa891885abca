"""`brook user`: SCRAM credentials, like `kafka-configs.sh --entity-type users --alter --add-config
'SCRAM-SHA-256=[iterations=8192,password=...]'` (AlterUserScramCredentials / DescribeUserScramCredentials).

    brook user create alice --password alice-secret [--mechanism SCRAM-SHA-512] [--iterations 8192]
    brook user describe [alice ...]
    brook user delete alice [--mechanism SCRAM-SHA-256]

The client salts and hashes the password; the broker stores only the salted keys. On a secured cluster,
pass the admin's client properties with -X or --command-config.
"""

from __future__ import annotations

from typing import Any

import click

from brook.cli._common import (
    CliError,
    admin_client,
    client_options,
    emit,
    format_option,
    render_table,
    result_of,
    settings,
)

__all__ = ["user"]

_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


def _mechanism(name: str) -> Any:
    from confluent_kafka.admin import ScramMechanism

    return getattr(ScramMechanism, name.replace("-", "_"))


@click.group()
def user() -> None:
    """Create, show and delete SCRAM users."""


@user.command()
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, help="The password (prompted when not given)")
@click.option(
    "--mechanism",
    "mechanisms",
    multiple=True,
    type=click.Choice(_MECHANISMS, case_sensitive=False),
    help="Repeatable; default: both SCRAM-SHA-256 and SCRAM-SHA-512",
)
@click.option("--iterations", default=4096, show_default=True, type=click.IntRange(4096, 16384))
@client_options
def create(name: str, password: str, mechanisms: tuple[str, ...], iterations: int) -> None:
    """Create or update a user's SCRAM credentials."""
    from confluent_kafka.admin import (
        ScramCredentialInfo,
        UserScramCredentialAlteration,
        UserScramCredentialUpsertion,
    )

    chosen = [m.upper() for m in mechanisms] or list(_MECHANISMS)
    admin = admin_client(settings())
    upsertions: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(name, ScramCredentialInfo(_mechanism(m), iterations), password.encode())
        for m in chosen
    ]
    for future in admin.alter_user_scram_credentials(upsertions).values():
        result_of(future, f"user {name}")
    click.echo(f"Set {', '.join(chosen)} credentials for user {name}.")


@user.command()
@click.argument("names", nargs=-1)
@client_options
@format_option
def describe(names: tuple[str, ...]) -> None:
    """Show users' SCRAM mechanisms and iterations (all users without names)."""
    admin = admin_client(settings())
    if names:
        found = {
            n: result_of(f, f"user {n}")
            for n, f in admin.describe_user_scram_credentials(list(names)).items()
        }
    else:
        found = result_of(admin.describe_user_scram_credentials(), "describe users")
    rows = [
        (name, info.mechanism.name.replace("_", "-"), info.iterations)
        for name, description in sorted(found.items())
        for info in description.scram_credential_infos
    ]
    doc = [{"user": u, "mechanism": m, "iterations": i} for u, m, i in rows]
    emit(doc, lambda: render_table(["USER", "MECHANISM", "ITERATIONS"], rows) if rows else "No SCRAM users.")


@user.command()
@click.argument("name")
@click.option(
    "--mechanism",
    "mechanisms",
    multiple=True,
    type=click.Choice(_MECHANISMS, case_sensitive=False),
    help="Repeatable; default: every mechanism the user has",
)
@client_options
def delete(name: str, mechanisms: tuple[str, ...]) -> None:
    """Delete a user's SCRAM credentials."""
    from confluent_kafka.admin import UserScramCredentialAlteration, UserScramCredentialDeletion

    admin = admin_client(settings())
    chosen = [m.upper() for m in mechanisms]
    if not chosen:
        description = result_of(admin.describe_user_scram_credentials([name])[name], f"user {name}")
        chosen = [i.mechanism.name.replace("_", "-") for i in description.scram_credential_infos]
    if not chosen:
        raise CliError(f"user {name} has no SCRAM credentials")
    deletions: list[UserScramCredentialAlteration] = [
        UserScramCredentialDeletion(name, _mechanism(m)) for m in chosen
    ]
    for future in admin.alter_user_scram_credentials(deletions).values():
        result_of(future, f"user {name}")
    click.echo(f"Deleted {', '.join(chosen)} credentials of user {name}.")
