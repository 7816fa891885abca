"""Named listeners, as Kafka configures them: `listeners`, `advertised.listeners`,
`listener.security.protocol.map`, `inter.broker.listener.name` / `security.inter.broker.protocol`.

    listeners=PLAINTEXT://:9092,SSL://:9093,CLIENTS://0.0.0.0:9094
    listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,CLIENTS:SASL_SSL

Each listener has a name and a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); a client is
answered (Metadata, FindCoordinator, DescribeCluster) with the advertised addresses of the listener it
connected to. Pure functions: every mistake Kafka refuses at startup is an InvalidConfig naming the key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from brook.common.errors import InvalidConfig

__all__ = [
    "SECURITY_PROTOCOLS",
    "Listener",
    "ListenerSettings",
    "inter_broker_listener_name",
    "listener_settings",
    "parse_listeners",
    "parse_protocol_map",
]

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


@dataclass(frozen=True, slots=True)
class Listener:
    name: str  # upper case, as Kafka's ListenerName.normalised
    host: str  # "" binds every address
    port: int
    security_protocol: str

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    listeners: tuple[Listener, ...]  # what to bind, in config order
    advertised: tuple[Listener, ...]  # what to register and tell clients (port 0: the bound port)
    inter_broker: str  # the listener name brokers connect to each other on


def parse_protocol_map(value: str) -> dict[str, str]:
    """`NAME:PROTOCOL,...` -> {NAME: PROTOCOL}; an unknown protocol is a startup error."""
    mapping: dict[str, str] = {}
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        name, sep, protocol = entry.partition(":")
        name, protocol = name.strip().upper(), protocol.strip().upper()
        if not sep or not name or not protocol:
            raise InvalidConfig(
                f"Invalid value {value} for configuration listener.security.protocol.map: "
                f"expected NAME:PROTOCOL pairs, got {entry!r}"
            )
        if protocol not in SECURITY_PROTOCOLS:
            raise InvalidConfig(
                f"Invalid value {value} for configuration listener.security.protocol.map: unknown security "
                f"protocol {protocol} (supported: {', '.join(SECURITY_PROTOCOLS)})"
            )
        if name in mapping:
            raise InvalidConfig(f"listener.security.protocol.map maps listener {name} twice")
        mapping[name] = protocol
    return mapping


def parse_listeners(value: str, protocols: Mapping[str, str], key: str = "listeners") -> tuple[Listener, ...]:
    """`NAME://host:port,...`; every name must be in the protocol map, names and ports must not repeat."""
    listeners: list[Listener] = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        scheme, sep, address = entry.partition("://")
        host, colon, port_text = address.rpartition(":")
        if not sep or not colon or not port_text.isdigit():
            raise InvalidConfig(
                f"Invalid value {value} for configuration {key}: {entry!r} is not NAME://host:port"
            )
        name = scheme.strip().upper()
        protocol = protocols.get(name)
        if protocol is None:
            raise InvalidConfig(
                f"Invalid value {value} for configuration {key}: no security protocol defined for listener "
                f"{name} (add it to listener.security.protocol.map, e.g. {name}:SASL_SSL)"
            )
        listeners.append(Listener(name, host.strip("[]"), int(port_text), protocol))
    names = [lst.name for lst in listeners]
    if len(set(names)) != len(names):
        raise InvalidConfig(
            f"Invalid value {value} for configuration {key}: each listener name must appear once"
        )
    ports = [lst.port for lst in listeners if lst.port != 0]
    if key == "listeners" and len(set(ports)) != len(ports):
        raise InvalidConfig(
            f"Invalid value {value} for configuration {key}: each listener needs its own port"
        )
    return tuple(listeners)


def inter_broker_listener_name(
    listener_name: str, security_protocol: str, *, protocol_set: bool, advertised: tuple[Listener, ...]
) -> str:
    """Kafka's rule: `inter.broker.listener.name`, else the listener named after
    `security.inter.broker.protocol`; setting both is an error, and the name must be advertised."""
    if listener_name and protocol_set:
        raise InvalidConfig(
            "Only one of inter.broker.listener.name and security.inter.broker.protocol should be set."
        )
    name = listener_name.upper() if listener_name else security_protocol.upper()
    if not listener_name and name not in SECURITY_PROTOCOLS:
        raise InvalidConfig(
            f"Invalid value {security_protocol} for configuration security.inter.broker.protocol: "
            f"supported: {', '.join(SECURITY_PROTOCOLS)}"
        )
    if name not in {lst.name for lst in advertised}:
        raise InvalidConfig(
            f"inter.broker.listener.name must be a listener name defined in advertised.listeners: {name} is not "
            f"among {', '.join(lst.name for lst in advertised)} (set inter.broker.listener.name)"
        )
    return name


def listener_settings(get: Mapping[str, str], explicitly_set: Collection[str] = ()) -> ListenerSettings:
    """Everything above from the broker's config values (`explicitly_set`: the keys the operator set).
    As in Kafka, listeners missing from a set `advertised.listeners` are bound but not advertised."""
    protocols = parse_protocol_map(get["listener.security.protocol.map"])
    listeners = parse_listeners(get["listeners"], protocols)
    if not listeners:
        raise InvalidConfig("At least one listener is needed in listeners")
    advertised_value = get.get("advertised.listeners", "")
    if advertised_value:
        advertised = parse_listeners(advertised_value, protocols, "advertised.listeners")
        bound = {lst.name: lst for lst in listeners}
        for lst in advertised:
            if lst.name not in bound:
                raise InvalidConfig(
                    f"advertised.listeners listener {lst.name} is not among the listeners "
                    f"({', '.join(bound)})"
                )
    else:
        advertised = listeners
    inter_broker = inter_broker_listener_name(
        get.get("inter.broker.listener.name", ""),
        get.get("security.inter.broker.protocol", "") or "PLAINTEXT",
        protocol_set="security.inter.broker.protocol" in explicitly_set,
        advertised=advertised,
    )
    return ListenerSettings(listeners, advertised, inter_broker)
