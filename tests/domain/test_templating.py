from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flow_engine.domain.templating import lookup, placeholders, render

CONTEXT: dict[str, Any] = {
    "contact": {"name": "Ana", "phone": "5511999998888", "empty": "", "none": None},
    "number": {"name": "Demo", "count": 0},
    "flat": "x",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hola {{contact.name}}, ¡espero que estés bien! 😃",
            "Hola Ana, ¡espero que estés bien! 😃",
        ),
        ("Hola {{ contact.name }}!", "Hola Ana!"),
        ("Hola {{\tcontact.name\n}}!", "Hola Ana!"),
        ("{{number.name}} / {{contact.phone}}", "Demo / 5511999998888"),
        ("{{number.count}} mensajes", "0 mensajes"),
        ("{{flat}}", "x"),
        ("sin marcadores", "sin marcadores"),
        ("", ""),
    ],
)
def test_render_values(text: str, expected: str) -> None:
    assert render(text, CONTEXT) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hola {{contact.missing}}, ¡espero que estés bien! 😃",
            "Hola, ¡espero que estés bien! 😃",
        ),
        ("Hola {{contact.empty}} y bienvenido", "Hola y bienvenido"),
        ("Hola {{contact.none}}!", "Hola!"),
        ("Hola {{nope.name}}", "Hola"),
        ("{{contact.empty}} Bienvenido", "Bienvenido"),
        ("Línea\n{{contact.empty}} dos", "Línea\ndos"),
        ("Hola {{contact.empty}}\nadiós", "Hola\nadiós"),
        ("a {{contact.empty}} {{contact.none}} b", "a b"),
        ("Hola {{contact.empty}}{{contact.none}}, Ana", "Hola, Ana"),
        ("Hola  {{contact.name}}", "Hola  Ana"),  # the author's spacing is kept
        ("Hola  x  {{contact.empty}}y", "Hola  x  y"),
        ("{{flat.deeper}}", ""),  # a path through a non-mapping is missing
    ],
)
def test_missing_values_render_empty_and_tidy_spaces(text: str, expected: str) -> None:
    assert render(text, CONTEXT) == expected


@pytest.mark.parametrize(
    "text",
    ["{{ }}", "{{contact..name}}", "{contact.name}", "{{contact.name}", "{{1abc}}", "{{a-b}}"],
)
def test_malformed_placeholders_are_left_alone(text: str) -> None:
    assert render(text, CONTEXT) == text


def test_placeholders_and_lookup() -> None:
    assert placeholders("Hola {{contact.name}} de {{ number.name }}") == [
        "contact.name",
        "number.name",
    ]
    assert lookup(CONTEXT, "contact.name") == "Ana"
    assert lookup(CONTEXT, "contact.name.first") is None
    assert lookup(CONTEXT, "number.count") == 0


def test_values_are_not_rendered_again() -> None:
    assert render("{{contact.name}}", {"contact": {"name": "{{contact.name}}"}}) == (
        "{{contact.name}}"
    )


@given(st.text())
def test_text_without_braces_is_unchanged(text: str) -> None:
    text = text.replace("{", "")
    assert render(text, CONTEXT) == text


@given(st.text(alphabet=st.characters(blacklist_characters="{}")), st.text(min_size=1))
def test_a_present_value_is_inserted_verbatim(prefix: str, value: str) -> None:
    assert render(prefix + "{{v}}" + prefix, {"v": value}) == prefix + value + prefix
