"""`ssl.principal.mapping.rules`: a client certificate's distinguished name -> the principal's name.

Kafka's syntax (SslPrincipalMapper): a comma- or newline-separated list of `RULE:pattern/replacement/[L|U]`
and `DEFAULT`. The first rule whose pattern matches the whole DN gives the name (Java's `$1` groups in the
replacement; `L`/`U` lower or upper case it); `DEFAULT` gives the DN itself. No matching rule: the
connection is refused.

    RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=.*$/$1@$2/L,DEFAULT
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from brook.common.errors import InvalidConfig

__all__ = ["MappingRule", "NoMatchingRule", "map_principal_name", "parse_rules"]

_SPLITTER = re.compile(
    r"\s*(DEFAULT|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?).*?|(.*?))\s*(?:[,\n]\s*|$)"
)
_JAVA_GROUP = re.compile(r"\$(\d+)")


class NoMatchingRule(Exception):
    pass


@dataclass(frozen=True, slots=True)
class MappingRule:
    pattern: re.Pattern[str] | None  # None: DEFAULT
    replacement: str = ""
    case: str = ""  # "L", "U" or ""

    def apply(self, dn: str) -> str | None:
        if self.pattern is None:
            return dn
        if self.pattern.fullmatch(dn) is None:
            return None
        name = self.pattern.sub(self.replacement, dn, count=1)
        return name.lower() if self.case == "L" else name.upper() if self.case == "U" else name


def parse_rules(value: str) -> tuple[MappingRule, ...]:
    rules: list[MappingRule] = []
    position = 0
    text = value.strip() or "DEFAULT"
    while position < len(text):
        match = _SPLITTER.match(text, position)
        if match is None or match.end() == position:
            break
        position = match.end()
        whole, pattern, replacement, case, junk = match.group(1, 2, 3, 4, 5)
        if junk is not None:
            if junk:
                raise InvalidConfig(f"Invalid rule in ssl.principal.mapping.rules: {junk}")
            continue
        if whole == "DEFAULT":
            rules.append(MappingRule(None))
            continue
        try:
            compiled = re.compile(pattern.replace("\\/", "/"))
        except re.error as exc:
            raise InvalidConfig(f"Invalid rule in ssl.principal.mapping.rules: {whole} ({exc})") from exc
        python_replacement = _JAVA_GROUP.sub(r"\\g<\1>", replacement.replace("\\/", "/"))
        rules.append(MappingRule(compiled, python_replacement, case))
    if not rules:
        raise InvalidConfig(f"Invalid value {value} for configuration ssl.principal.mapping.rules")
    return tuple(rules)


def map_principal_name(rules: tuple[MappingRule, ...], dn: str) -> str:
    for rule in rules:
        name = rule.apply(dn)
        if name is not None:
            return name
    raise NoMatchingRule(f"no ssl.principal.mapping.rules rule matches {dn}")
