"""ssl.principal.mapping.rules (broker/principal_mapping.py), with the examples of Kafka's documentation."""

from __future__ import annotations

import pytest

from brook.broker.principal_mapping import NoMatchingRule, map_principal_name, parse_rules
from brook.common.errors import InvalidConfig

DN = "CN=kafka-client,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown"


def test_default_keeps_the_distinguished_name():
    assert map_principal_name(parse_rules("DEFAULT"), DN) == DN


@pytest.mark.parametrize(
    ("rules", "dn", "name"),
    [
        (r"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT", DN, "kafka-client"),
        (
            r"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L",
            DN,
            "kafka-client@serviceusers",
        ),
        (
            r"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/U",
            DN,
            "KAFKA-CLIENT@SERVICEUSERS",
        ),
        (r"RULE:^CN=([^,]*).*$/$1/, RULE:^.*$/other/", "CN=a,O=b", "a"),
        ("RULE:^CN=admin,OU=(.*?)$/ops\\/$1/\nDEFAULT", "CN=admin,OU=eu", "ops/eu"),
        (r"RULE:^CN=nomatch$/x/,DEFAULT", DN, DN),
    ],
)
def test_the_first_matching_rule_names_the_principal(rules, dn, name):
    assert map_principal_name(parse_rules(rules), dn) == name


def test_no_matching_rule_refuses():
    with pytest.raises(NoMatchingRule):
        map_principal_name(parse_rules(r"RULE:^CN=x$/y/"), DN)


def test_a_malformed_rule_is_a_config_error():
    with pytest.raises(InvalidConfig):
        parse_rules("RULE:^CN=(.*$/x/")
