"""JSONPath conditions of declarative skills."""

from __future__ import annotations

from typing import Any

import pytest

from flow_engine.domain.skill_conditions import find, parse_condition

DOC: dict[str, Any] = {
    "input": {"content": "Sim, claro", "type": "text/plain"},
    "contact": {"name": "Ana", "phone": "5491100000001"},
    "vars": {
        "consent": "yes",
        "count": 3,
        "typed": "2",
        "empty": "",
        "zero": 0,
        "flag": False,
        "none": None,
        "items": [{"name": "a", "price": 12}, {"name": "b", "price": 3}],
    },
    "config": {"locale": "pt-BR", "faq": {"enabled": True}},
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("$.vars.consent", True),
        ("$.vars.empty", False),
        ("$.vars.zero", False),
        ("$.vars.flag", False),
        ("$.vars.none", False),
        ("$.vars.missing", False),
        ("! $.vars.missing", True),
        ("!$.vars.consent", False),
        ('$.vars.consent == "yes"', True),
        ("$.vars.consent == 'yes'", True),
        ("$.vars.consent == yes", True),
        ("$.vars.consent == no", False),
        ("$.vars.consent != no", True),
        ("$.vars.missing != no", True),
        ("$.vars.count == 3", True),
        ("$.vars.count == 3.0", True),
        ("$.vars.typed == 2", True),
        ('$.vars.count == "3"', True),
        ("$.vars.count > 2", True),
        ("$.vars.count >= 4", False),
        ("$.vars.typed < 10", True),
        ("$.vars.consent > 1", False),
        ("$.vars.flag == false", True),
        ("$.vars.zero == false", False),
        ("$.vars.none == null", True),
        ('$.input.content =~ "(?i)^sim"', True),
        ('$.input.content =~ "^não"', False),
        ("$.vars.items[*].price > 10", True),
        ("$.vars.items[?(@.price > 100)]", False),
        ("$.vars.items[?(@.price > 10)].name == a", True),
        ("$.config.faq.enabled == true", True),
        ('$.config.locale == "pt-BR"', True),
        ("$.contact.name == Ana", True),
    ],
)
def test_conditions(condition: str, expected: bool) -> None:
    assert parse_condition(condition).holds(DOC) is expected


@pytest.mark.parametrize(
    "condition", ["$.vars.x ==", "$.[", "$.vars.x =~ 3", '$.vars.x =~ "(bad"', "vars x"]
)
def test_malformed_conditions_raise_value_error(condition: str) -> None:
    with pytest.raises(ValueError):
        parse_condition(condition)


def test_find_returns_every_match() -> None:
    assert find("$.vars.items[*].name", DOC) == ["a", "b"]
    assert find("$.nothing", None) == []
