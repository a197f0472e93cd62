from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from flow_engine.domain.outbound import (
    OUTBOUND_ADAPTER,
    Button,
    ContactCard,
    CtaUrl,
    InteractiveList,
    ListRow,
    ListSection,
    ReplyButtons,
    Template,
    Text,
    split_text,
    text_messages,
    to_cloud_payload,
)


def rows(n: int, prefix: str = "r") -> list[dict[str, Any]]:
    return [{"id": f"{prefix}{i}", "title": f"Row {i}"} for i in range(n)]


def a_list(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "list",
        "body": "Pick one",
        "button": "Options",
        "sections": [{"title": "Main", "rows": rows(2)}],
    }
    return {**base, **changes}


def buttons(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "buttons",
        "body": "Yes or no?",
        "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}],
    }
    return {**base, **changes}


def cta(**changes: Any) -> dict[str, Any]:
    base = {"type": "cta_url", "body": "See it", "display_text": "Open", "url": "https://x.io/a"}
    return {**base, **changes}


def section(title: str | None = "S", **row: Any) -> dict[str, Any]:
    return {"title": title, "rows": [{"id": "a", "title": "A", **row}]}


def refused_at(data: dict[str, Any]) -> list[tuple[str | int, ...]]:
    with pytest.raises(ValidationError) as info:
        OUTBOUND_ADAPTER.validate_python(data)
    return [tuple(err["loc"]) for err in info.value.errors()]


# (valid at the edge, one past the edge, error location)
LIMITS: list[tuple[dict[str, Any], dict[str, Any], tuple[str | int, ...]]] = [
    ({"type": "text", "body": "x" * 4096}, {"type": "text", "body": "x" * 4097}, ("text", "body")),
    (a_list(body="x" * 1024), a_list(body="x" * 1025), ("list", "body")),
    (a_list(button="x" * 20), a_list(button="x" * 21), ("list", "button")),
    (a_list(header="x" * 60), a_list(header="x" * 61), ("list", "header")),
    (a_list(footer="x" * 60), a_list(footer="x" * 61), ("list", "footer")),
    (
        a_list(sections=[section(id="x" * 200)]),
        a_list(sections=[section(id="x" * 201)]),
        ("list", "sections", 0, "rows", 0, "id"),
    ),
    (
        a_list(sections=[section(title="x" * 24)]),
        a_list(sections=[section(title="x" * 25)]),
        ("list", "sections", 0, "title"),
    ),
    (
        a_list(sections=[section(title="x" * 24, description="d" * 72)]),
        a_list(sections=[section(description="d" * 73)]),
        ("list", "sections", 0, "rows", 0, "description"),
    ),
    (
        a_list(sections=[section(title="x" * 24)]),
        a_list(sections=[{"title": "S", "rows": [{"id": "a", "title": "x" * 25}]}]),
        ("list", "sections", 0, "rows", 0, "title"),
    ),
    (
        a_list(sections=[{"title": "S", "rows": rows(10)}]),
        a_list(sections=[{"title": "S", "rows": rows(11)}]),
        ("list", "sections", 0, "rows"),
    ),
    (
        a_list(sections=[{"title": f"S{i}", "rows": rows(1, f"s{i}")} for i in range(10)]),
        a_list(sections=[{"title": f"S{i}", "rows": rows(1, f"s{i}")} for i in range(11)]),
        ("list", "sections"),
    ),
    (
        a_list(sections=[{"title": "A", "rows": rows(5, "a")}, {"title": "B", "rows": rows(5)}]),
        a_list(sections=[{"title": "A", "rows": rows(5, "a")}, {"title": "B", "rows": rows(6)}]),
        ("list", "sections"),
    ),
    (buttons(body="x" * 1024), buttons(body="x" * 1025), ("buttons", "body")),
    (
        buttons(buttons=[{"id": str(i), "title": f"B{i}"} for i in range(3)]),
        buttons(buttons=[{"id": str(i), "title": f"B{i}"} for i in range(4)]),
        ("buttons", "buttons"),
    ),
    (
        buttons(buttons=[{"id": "a", "title": "x" * 20}]),
        buttons(buttons=[{"id": "a", "title": "x" * 21}]),
        ("buttons", "buttons", 0, "title"),
    ),
    (
        buttons(buttons=[{"id": "x" * 256, "title": "A"}]),
        buttons(buttons=[{"id": "x" * 257, "title": "A"}]),
        ("buttons", "buttons", 0, "id"),
    ),
    (buttons(header="x" * 60), buttons(header="x" * 61), ("buttons", "header")),
    (buttons(footer="x" * 60), buttons(footer="x" * 61), ("buttons", "footer")),
    (cta(display_text="x" * 20), cta(display_text="x" * 21), ("cta_url", "display_text")),
    (cta(body="x" * 1024), cta(body="x" * 1025), ("cta_url", "body")),
    (cta(footer="x" * 60), cta(footer="x" * 61), ("cta_url", "footer")),
]


@pytest.mark.parametrize(("edge", "past", "loc"), LIMITS)
def test_limit_accepted_at_the_edge_and_refused_one_past(
    edge: dict[str, Any], past: dict[str, Any], loc: tuple[str | int, ...]
) -> None:
    OUTBOUND_ADAPTER.validate_python(edge)
    assert loc in refused_at(past)


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        (a_list(sections=[section(), section()]), ("list", "sections")),  # duplicate row ids
        (a_list(sections=[section("A"), section(None, id="b")]), ("list", "sections")),
        (a_list(sections=[]), ("list", "sections")),
        (
            buttons(buttons=[{"id": "a", "title": "Same"}, {"id": "b", "title": "Same"}]),
            ("buttons", "buttons"),
        ),
        (buttons(buttons=[]), ("buttons", "buttons")),
        ({"type": "text", "body": ""}, ("text", "body")),
        (cta(url="ftp://x.io/file"), ("cta_url", "url")),
        (cta(url="javascript:alert(1)"), ("cta_url", "url")),
        ({"type": "contacts", "name": "Desk", "phone": "12ab"}, ("contacts", "phone")),
        ({"type": "text", "body": "hi", "colour": "red"}, ("text", "colour")),
        ({"type": "sticker", "body": "hi"}, ()),
    ],
)
def test_rules_refused_naming_the_field(data: dict[str, Any], loc: tuple[str | int, ...]) -> None:
    assert loc in refused_at(data)


def test_single_untitled_section_is_fine_and_shapes_the_payload() -> None:
    message = InteractiveList(
        body="Choose",
        button="Menu",
        header="Hello",
        footer="Bye",
        sections=[
            ListSection(rows=[ListRow(id="s", title="Sales", description="Buy things")]),
        ],
    )
    assert to_cloud_payload(message, "5491100000000") == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5491100000000",
        "type": "interactive",
        "interactive": {
            "type": "list",
            "header": {"type": "text", "text": "Hello"},
            "body": {"text": "Choose"},
            "footer": {"text": "Bye"},
            "action": {
                "button": "Menu",
                "sections": [
                    {"rows": [{"id": "s", "title": "Sales", "description": "Buy things"}]}
                ],
            },
        },
    }


def test_payload_shapes_of_each_type() -> None:
    def body(message: Any) -> dict[str, Any]:
        payload = to_cloud_payload(message, "15551234567")
        assert payload["messaging_product"] == "whatsapp"
        assert payload["recipient_type"] == "individual"
        assert payload["to"] == "15551234567"
        kind = payload["type"]
        assert set(payload) == {"messaging_product", "recipient_type", "to", "type", kind}
        return {"type": kind, "content": payload[kind]}

    assert body(Text(body="Hi", preview_url=True)) == {
        "type": "text",
        "content": {"preview_url": True, "body": "Hi"},
    }
    assert body(ReplyButtons(body="Ok?", buttons=[Button(id="y", title="Yes")])) == {
        "type": "interactive",
        "content": {
            "type": "button",
            "body": {"text": "Ok?"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]},
        },
    }
    assert body(CtaUrl(body="Track", display_text="Open", url="https://t.io/1", header="H")) == {
        "type": "interactive",
        "content": {
            "type": "cta_url",
            "header": {"type": "text", "text": "H"},
            "body": {"text": "Track"},
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": "Open", "url": "https://t.io/1"},
            },
        },
    }
    assert body(Template(name="welcome", language="es_AR")) == {
        "type": "template",
        "content": {"name": "welcome", "language": {"code": "es_AR"}},
    }
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]
    assert body(Template(name="w", language="en", components=components))["content"] == {
        "name": "w",
        "language": {"code": "en"},
        "components": components,
    }
    assert body(ContactCard(name="Help desk", phone="+5491155556666")) == {
        "type": "contacts",
        "content": [
            {
                "name": {"formatted_name": "Help desk", "first_name": "Help desk"},
                "phones": [{"phone": "+5491155556666", "type": "WORK", "wa_id": "5491155556666"}],
            }
        ],
    }


@pytest.mark.parametrize(
    "message",
    [
        Text(body="hola"),
        InteractiveList(
            body="b", button="x", sections=[ListSection(rows=[ListRow(id="1", title="t")])]
        ),
        ReplyButtons(body="b", buttons=[Button(id="1", title="t")], footer="f"),
        CtaUrl(body="b", display_text="d", url="http://x.io"),
        Template(name="t", language="pt_BR", components=[{"type": "body"}]),
        ContactCard(name="n", phone="5491100000000"),
    ],
)
def test_stored_json_round_trips(message: Any) -> None:
    assert OUTBOUND_ADAPTER.validate_json(OUTBOUND_ADAPTER.dump_json(message)) == message


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("ab \n\u0301\u200d😀"), max_size=400),
    st.integers(2, 60),
)
def test_split_text_is_lossless_and_bounded(body: str, limit: int) -> None:
    parts = split_text(body, limit)
    assert "".join(parts) == body
    assert all(0 < len(part) <= limit for part in parts)


def test_split_text_prefers_paragraphs_then_lines_then_words() -> None:
    assert split_text("aaaa\n\nbb\ncc dd", 9) == ["aaaa\n\n", "bb\ncc dd"]
    assert split_text("aaaa\nbb cc", 8) == ["aaaa\n", "bb cc"]
    assert split_text("aaa bbb ccc", 8) == ["aaa bbb ", "ccc"]
    assert split_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]
    assert split_text("short", 4096) == ["short"]
    assert split_text("") == []


def test_split_text_hard_cut_keeps_accents_with_their_letter() -> None:
    assert split_text("abce\u0301fg", 4) == ["abc", "e\u0301fg"]


def test_text_messages_split_long_bodies_into_valid_texts() -> None:
    paragraph = "word " * 300
    messages = text_messages((paragraph + "\n\n") * 5)
    assert [len(m.body) for m in messages] == [3004, 3004, 1502]  # whole paragraphs
    assert all(len(m.body) <= 4096 for m in messages)
    assert "".join(m.body for m in messages) == (paragraph + "\n\n") * 5
    assert text_messages("") == []
