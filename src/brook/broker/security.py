"""Each listener's security, built once at startup from the config (a mistake is an InvalidConfig):
its TLS context, its SASL mechanisms and PLAIN users, its certificate-to-principal rules.

Per-listener keys are looked up first, as Kafka does: `listener.name.<listener>.<key>` (e.g.
`listener.name.sasl_ssl.ssl.client.auth`), and for SASL `listener.name.<listener>.<mechanism>.sasl.jaas.config`
(e.g. `listener.name.sasl_ssl.plain.sasl.jaas.config`), then `sasl.jaas.config`.

PLAIN users come from the JAAS options `user_<name>="<password>"`; `username`/`password` are what this broker
sends when it connects to others (inter-broker). SCRAM users live in the metadata store (salted).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from brook.broker.config import BrokerConfig
from brook.broker.listeners import Listener, ListenerSettings, listener_settings
from brook.broker.principal_mapping import MappingRule, parse_rules
from brook.broker.tls import client_context, server_context
from brook.common.errors import InvalidConfig
from brook.protocol.scram import SCRAM_MECHANISMS

__all__ = [
    "SUPPORTED_MECHANISMS",
    "InterBrokerSecurity",
    "ListenerSecurity",
    "build_security",
    "parse_jaas_options",
]

SUPPORTED_MECHANISMS = ("PLAIN", *SCRAM_MECHANISMS)
_ESCAPED = re.compile(r"\\(.)")  # \" and \\ inside a quoted JAAS value
_JAAS_OPTION = re.compile(r'([A-Za-z0-9_.\-]+)\s*=\s*(?:"((?:\\.|[^"\\])*)"|([^\s;"]+))')


@dataclass(frozen=True)
class ListenerSecurity:
    listener: Listener
    ssl_context: ssl.SSLContext | None = None
    mechanisms: tuple[str, ...] = ()  # SASL mechanisms enabled on this listener
    plain_users: dict[str, str] = field(default_factory=dict)
    principal_rules: tuple[MappingRule, ...] = ()
    reauth_ms: int = 0  # connections.max.reauth.ms (0: no re-authentication)


@dataclass(frozen=True)
class InterBrokerSecurity:
    """How this broker connects to the others: the listener name and, as a client, TLS and SASL."""

    listener_name: str
    security_protocol: str
    ssl_context: ssl.SSLContext | None = None
    mechanism: str = ""
    username: str = ""
    password: str = ""


def parse_jaas_options(jaas: str) -> dict[str, str]:
    """`LoginModule required key="value" key2=value2;` -> the options (the module name is not checked)."""
    body = jaas.strip().rstrip(";")
    parts = body.split(None, 2)
    options_text = parts[2] if len(parts) == 3 else ""
    return {
        m.group(1): _ESCAPED.sub(r"\1", m.group(2)) if m.group(2) is not None else m.group(3)
        for m in _JAAS_OPTION.finditer(options_text)
    }


def _lookup(config: BrokerConfig, listener_name: str) -> Callable[[str], str]:
    prefix = f"listener.name.{listener_name.lower()}."

    def get(key: str) -> str:
        value = config.get(prefix + key)
        return value if value else config.get(key)

    return get


def _jaas(config: BrokerConfig, listener_name: str, mechanism: str) -> dict[str, str]:
    text = config.get(f"listener.name.{listener_name.lower()}.{mechanism.lower()}.sasl.jaas.config")
    return parse_jaas_options(text or config.get("sasl.jaas.config"))


def _mechanisms(value: str, key: str) -> tuple[str, ...]:
    mechanisms = tuple(m.strip().upper() for m in value.split(",") if m.strip())
    unsupported = [m for m in mechanisms if m not in SUPPORTED_MECHANISMS]
    if unsupported or not mechanisms:
        raise InvalidConfig(
            f"Invalid value {value} for configuration {key}: brook supports {', '.join(SUPPORTED_MECHANISMS)}"
            + (f" (not {', '.join(unsupported)})" if unsupported else "")
        )
    return mechanisms


def build_security(
    config: BrokerConfig,
) -> tuple[ListenerSettings, dict[str, ListenerSecurity], InterBrokerSecurity]:
    settings = listener_settings(
        {
            key: config.get(key)
            for key in (
                "listeners",
                "advertised.listeners",
                "listener.security.protocol.map",
                "inter.broker.listener.name",
                "security.inter.broker.protocol",
            )
        },
        () if config.is_default("security.inter.broker.protocol") else ("security.inter.broker.protocol",),
    )
    securities: dict[str, ListenerSecurity] = {}
    for listener in settings.listeners:
        get = _lookup(config, listener.name)
        context = server_context(get) if listener.uses_tls else None
        mechanisms: tuple[str, ...] = ()
        plain_users: dict[str, str] = {}
        if listener.uses_sasl:
            mechanisms = _mechanisms(get("sasl.enabled.mechanisms"), "sasl.enabled.mechanisms")
            if "PLAIN" in mechanisms:
                options = _jaas(config, listener.name, "PLAIN")
                plain_users = {
                    k.removeprefix("user_"): v for k, v in options.items() if k.startswith("user_")
                }
                if not plain_users:
                    raise InvalidConfig(
                        f"listener {listener.name} enables PLAIN but no JAAS config names users: set "
                        f'listener.name.{listener.name.lower()}.plain.sasl.jaas.config with user_<name>="<password>"'
                    )
        securities[listener.name] = ListenerSecurity(
            listener,
            context,
            mechanisms,
            plain_users,
            parse_rules(get("ssl.principal.mapping.rules")),
            int(get("connections.max.reauth.ms")),
        )
    inter = next(lst for lst in settings.advertised if lst.name == settings.inter_broker)
    get = _lookup(config, inter.name)
    mechanism = username = password = ""
    if inter.uses_sasl:
        mechanism = config.get("sasl.mechanism.inter.broker.protocol").upper()
        if mechanism not in securities[inter.name].mechanisms:
            raise InvalidConfig(
                f"sasl.mechanism.inter.broker.protocol={mechanism} is not among the enabled mechanisms of the "
                f"inter-broker listener {inter.name} ({', '.join(securities[inter.name].mechanisms)})"
            )
        options = _jaas(config, inter.name, mechanism)
        username, password = options.get("username", ""), options.get("password", "")
        if not username:
            raise InvalidConfig(
                f"the inter-broker listener {inter.name} uses SASL {mechanism}: its JAAS config "
                f"(listener.name.{inter.name.lower()}.{mechanism.lower()}.sasl.jaas.config) needs username and password"
            )
    inter_broker = InterBrokerSecurity(
        inter.name,
        inter.security_protocol,
        client_context(get) if inter.uses_tls else None,
        mechanism,
        username,
        password,
    )
    return settings, securities, inter_broker
