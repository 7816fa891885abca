"""The web console served from the broker process (`brook.console.port`): which listener it connects to, and
the client settings it authenticates with, from the broker's own config.

By default the console is a client like the broker's own inter-broker connections: the inter-broker listener,
that listener's `ssl.*` settings as a client (truststore; keystore when the listener asks for client
certificates), and the inter-broker SASL mechanism and JAAS `username`/`password`. `brook.console.`-prefixed
Kafka client settings override that (its own principal, e.g. one with only Describe ACLs):

    brook.console.listener.name=SASL_SSL
    brook.console.sasl.mechanism=SCRAM-SHA-512
    brook.console.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
        username="console" password="console-secret";
    brook.console.ssl.truststore.location=/etc/brook/ca.pem    (ssl.truststore.type PEM)

The console's clients are librdkafka's, so the Java names are turned into librdkafka's here
(`console_client_config`); a store librdkafka cannot read (a PKCS12 or JKS truststore) is a startup error of the
console, naming the key to set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import click

from brook.broker.config import BrokerConfig
from brook.broker.listeners import ListenerSettings
from brook.broker.security import InterBrokerSecurity, parse_jaas_options
from brook.common.errors import InvalidConfig

if TYPE_CHECKING:  # the console (aiohttp, jinja2: 0.5 s of every start here) is imported only when it is on
    from brook.console.snapshot import MetricsEndpoints

__all__ = ["console_client_config", "console_metrics", "maybe_start_console"]

logger = logging.getLogger("brook.serve")

_PREFIX = "brook.console."


def console_client_config(
    config: BrokerConfig,
    listeners: ListenerSettings,
    inter_broker: InterBrokerSecurity,
    bound_ports: Mapping[str, int],
) -> tuple[str, dict[str, str]]:
    """(bootstrap address, librdkafka client properties) of the console in this broker process."""
    name = (config.get(_PREFIX + "listener.name") or inter_broker.listener_name).upper()
    listener = next((lst for lst in listeners.listeners if lst.name == name), None)
    if listener is None:
        known = ", ".join(lst.name for lst in listeners.listeners)
        raise InvalidConfig(f"brook.console.listener.name={name} is not one of the listeners ({known})")
    host = "127.0.0.1" if listener.host in ("", "0.0.0.0", "::") else listener.host
    advertised = next((lst.host for lst in listeners.advertised if lst.name == name), "")
    if listener.uses_tls and advertised:  # the name the certificate is for (the host name is checked)
        host = advertised
    bootstrap = f"{host}:{bound_ports.get(name, listener.port)}"
    client = {"security.protocol": listener.security_protocol}
    get = _lookup(config, name)
    if listener.uses_tls:
        client |= _tls(config, get)
    if listener.uses_sasl:
        client |= _sasl(config, inter_broker)
    return bootstrap, client


def _lookup(config: BrokerConfig, listener_name: str) -> Callable[[str], str]:
    """brook.console.<key>, then the listener's listener.name.<listener>.<key>, then <key>."""
    listener_prefix = f"listener.name.{listener_name.lower()}."

    def get(key: str) -> str:
        return config.get(_PREFIX + key) or config.get(listener_prefix + key) or config.get(key)

    return get


def _tls(config: BrokerConfig, get: Callable[[str], str]) -> dict[str, str]:
    client: dict[str, str] = {}
    truststore = get("ssl.truststore.location")
    if truststore:
        store_type = get("ssl.truststore.type") or "JKS"
        if store_type.upper() != "PEM":
            raise InvalidConfig(
                f"the console reads PEM truststores only ({truststore} is {store_type}): set "
                "brook.console.ssl.truststore.location to the CA certificates in PEM and "
                "brook.console.ssl.truststore.type=PEM"
            )
        client["ssl.ca.location"] = truststore
    identification = get("ssl.endpoint.identification.algorithm").lower()
    client["ssl.endpoint.identification.algorithm"] = "https" if identification == "https" else "none"
    # a client certificate: the console's own, or the listener's keystore when the listener asks for one
    asks = (get("ssl.client.auth") or "none").lower() != "none"
    keystore = config.get(_PREFIX + "ssl.keystore.location") or (asks and get("ssl.keystore.location"))
    if keystore:
        if (get("ssl.keystore.type") or "JKS").upper() == "PEM":  # key and certificate chain in one file
            client |= {"ssl.certificate.location": keystore, "ssl.key.location": keystore}
        else:
            client |= {
                "ssl.keystore.location": keystore,
                "ssl.keystore.password": get("ssl.keystore.password"),
            }
        if get("ssl.key.password"):
            client["ssl.key.password"] = get("ssl.key.password")
    return client


def _sasl(config: BrokerConfig, inter_broker: InterBrokerSecurity) -> dict[str, str]:
    jaas = config.get(_PREFIX + "sasl.jaas.config")
    if jaas:
        options = parse_jaas_options(jaas)
        mechanism = (config.get(_PREFIX + "sasl.mechanism") or "PLAIN").upper()
        username, password = options.get("username", ""), options.get("password", "")
        if not username:
            raise InvalidConfig("brook.console.sasl.jaas.config needs username and password")
    elif inter_broker.mechanism:
        mechanism, username, password = inter_broker.mechanism, inter_broker.username, inter_broker.password
    else:
        raise InvalidConfig(
            "the console's listener uses SASL: set brook.console.sasl.mechanism and brook.console.sasl.jaas.config "
            "(or make the inter-broker listener a SASL one, whose credentials it then uses)"
        )
    return {"sasl.mechanism": mechanism, "sasl.username": username, "sasl.password": password}


def console_metrics(config: BrokerConfig, bound_metrics_port: int) -> MetricsEndpoints:
    """Where the console reads bytes in/out per topic: every broker's /metrics when brook.metrics.port is a
    fixed port (the same on every broker, as a Prometheus scrape job has it); this broker's own when it is 0
    (a free port, known here only); nowhere when the metrics are off."""
    from brook.console.snapshot import MetricsEndpoints

    port = config.int("brook.metrics.port")
    if port < 0:
        return MetricsEndpoints()
    if port > 0:
        return MetricsEndpoints(port=port)
    host = config.get("brook.metrics.host") or "127.0.0.1"
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return MetricsEndpoints(urls=(f"http://{host}:{bound_metrics_port}/metrics",))


async def maybe_start_console(broker: Any) -> Any:
    """The web console in this process when brook.console.port is set (>= 0): a Kafka client of this broker's
    listener, like `brook console`. A console that cannot start is logged; the broker runs on without it."""
    config = broker.config
    port = int(config.get("brook.console.port"))
    if port < 0:
        return None
    from brook.console import ConsoleSettings, start_console

    console_host = config.get("brook.console.host")
    try:
        bootstrap, client = console_client_config(
            config, broker.listeners, broker.inter_broker, broker.server.ports
        )
        settings = ConsoleSettings(
            bootstrap=bootstrap,
            client_config=client,
            host=console_host,
            port=port,
            metrics=console_metrics(config, broker.metrics.port),
        )
        runner, _, bound = await start_console(settings)
    except InvalidConfig as exc:
        logger.error("console: not started: %s", exc)
        return None
    except OSError as exc:
        logger.error("console: cannot listen on %s:%s: %s", console_host, port, exc)
        return None
    click.echo(f"brook console on http://{console_host}:{bound}/ (cluster {bootstrap})")
    return runner
