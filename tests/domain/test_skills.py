"""Skill models: the envelope (R-SKILL-2), attachments and the R-SKILL-6 table, and the
validation of declarative flow files, human service refused (R-SKILL-5)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from flow_engine.domain.config import NumberConfig
from flow_engine.domain.skills import (
    EXTENSION_POINTS,
    PARENT_OF,
    DeclarativeFlow,
    Envelope,
    SkillAttachment,
    SkillsTab,
    attachment_at,
)

SPEC_ENVELOPE = (
    '{"origin": "Main", "flow": "inicio", "input": {"content": "Olá", "type": "text/plain"}}'
)


def errors(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.value.errors()}


# -------------------------------------------------------------------- envelope
def test_envelope_has_exactly_the_shape_of_the_spec() -> None:
    envelope = Envelope.model_validate_json(SPEC_ENVELOPE)
    assert envelope.input.content == "Olá" and envelope.input.type == "text/plain"
    assert json.loads(envelope.model_dump_json()) == json.loads(SPEC_ENVELOPE)
    assert envelope.model_dump() == json.loads(SPEC_ENVELOPE)


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"input": {"content": "x"}},
        {"input": {"content": "x", "type": "text/plain", "more": 1}},
        {"origin": None},
    ],
)
def test_envelope_refuses_other_shapes(change: dict[str, Any]) -> None:
    data = {**json.loads(SPEC_ENVELOPE), **change}
    with pytest.raises(ValidationError):
        Envelope.model_validate(data)


# ------------------------------------------------------------------ attachment
def attachment(point: str, parent: str, **extra: Any) -> SkillAttachment:
    source = extra or {"kind": "http", "url": "https://skills.example.com/x"}
    return SkillAttachment.model_validate(
        {"serviceName": point, "parentServiceName": parent, **source}
    )


@pytest.mark.parametrize("point", EXTENSION_POINTS)
@pytest.mark.parametrize("parent", ["Main", "Desk", "NotaCerta"])
def test_parent_service_table_of_r_skill_6(point: str, parent: str) -> None:
    expected = {
        "PreMain": "Main",
        "PreFaq": "Main",
        "PreEnd": "Main",
        "PreDesk": "Desk",
        "PreSurvey": "NotaCerta",
        "PosSurvey": "NotaCerta",
    }[point]
    assert PARENT_OF[point] == expected
    if parent == expected:
        assert attachment(point, parent).parent_service_name == parent
    else:
        with pytest.raises(ValidationError) as exc:
            attachment(point, parent)
        found = errors(exc)
        assert list(found) == ["parentServiceName"]
        assert expected in found["parentServiceName"]


def test_unknown_point_or_parent_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        attachment("PreLunch", "Main")
    assert "serviceName" in errors(exc)
    with pytest.raises(ValidationError) as exc:
        attachment("PreMain", "Survey")
    assert "parentServiceName" in errors(exc)


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ({"kind": "declarative"}, "path"),
        ({"kind": "declarative", "path": "consent.txt"}, "path"),
        ({"kind": "declarative", "path": "a.yaml", "url": "http://x.example"}, "url"),
        ({"kind": "http"}, "url"),
        ({"kind": "http", "url": "ftp://x.example/a"}, "url"),
        ({"kind": "python"}, "target"),
        ({"kind": "python", "target": "no_colon"}, "target"),
        ({"kind": "python", "target": "a:B", "path": "a.yaml"}, "path"),
        ({"kind": "shell", "target": "a:B"}, "kind"),
        ({"kind": "http", "url": "http://x.example", "timeout_s": 0}, "timeout_s"),
        ({"kind": "http", "url": "http://x.example", "color": "red"}, "color"),
    ],
)
def test_each_kind_names_its_source(source: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        attachment("PreMain", "Main", **source)
    assert field in errors(exc)


def test_at_most_one_skill_per_point() -> None:
    adapter: TypeAdapter[list[SkillAttachment]] = TypeAdapter(SkillsTab)
    one = {"serviceName": "PreFaq", "parentServiceName": "Main", "kind": "python", "target": "a:B"}
    other = {**one, "serviceName": "PreEnd"}
    skills = adapter.validate_python([one, other])
    assert attachment_at(skills, "PreEnd") is skills[1]
    assert attachment_at(skills, "PreDesk") is None
    with pytest.raises(ValidationError) as exc:
        adapter.validate_python([one, other, one])
    assert list(errors(exc)) == ["2.serviceName"]


class WithSkills(NumberConfig):
    """NumberConfig as it will be once the lead adds ``skills: SkillsTab = []``."""

    skills: SkillsTab = Field(default_factory=list)


def test_a_config_with_skills_survives_the_store_round_trip() -> None:
    config = WithSkills.model_validate(
        {
            "phone_number_id": "100000000000001",
            "display_phone_number": "15550000001",
            "skills": [
                {
                    "serviceName": "PreMain",
                    "parentServiceName": "Main",
                    "kind": "declarative",
                    "path": "skills/consent.yaml",
                }
            ],
        }
    )
    # the config store keeps model_dump(mode="json") (field names), the cache reads it back
    again = WithSkills.model_validate_json(json.dumps(config.model_dump(mode="json")))
    assert again.skills == config.skills
    by_alias = config.model_dump(mode="json", by_alias=True)["skills"][0]
    assert by_alias["serviceName"] == "PreMain" and by_alias["parentServiceName"] == "Main"
    schema = WithSkills.model_json_schema()
    assert "SkillAttachment" in json.dumps(schema)


# --------------------------------------------------------- declarative flow file
def flow(states: dict[str, Any], **top: Any) -> DeclarativeFlow:
    return DeclarativeFlow.model_validate({"start": "a", "states": states, **top})


RETURN_ONLY = {"outputs": [{"to": "@return"}]}


def test_a_valid_flow() -> None:
    f = flow(
        {
            "a": {
                "messages": ["Order number?", {"type": "text", "body": "{{contact.name}}"}],
                "input": {"variable": "order", "validation": {"type": "integer"}},
                "actions": [
                    {"type": "set_variable", "variable": "asked", "value": True},
                    {
                        "type": "http",
                        "url": "https://api.example.com/orders/{{vars.order}}",
                        "map": {"status": "$.status"},
                    },
                ],
                "outputs": [
                    {"condition": '$.vars.status == "shipped"', "to": "b"},
                    {"to": "@return"},
                ],
            },
            "b": RETURN_ONLY,
        }
    )
    assert f.max_transitions_per_input == 20
    assert f.states["a"].input is not None and f.states["a"].input.max_attempts == 3


def test_missing_or_unknown_start() -> None:
    with pytest.raises(ValidationError) as exc:
        DeclarativeFlow.model_validate({"states": {"a": RETURN_ONLY}})
    assert list(errors(exc)) == ["start"]
    with pytest.raises(ValidationError) as exc:
        flow({"b": RETURN_ONLY})
    assert list(errors(exc)) == ["start"]


def test_unknown_states_in_outputs_are_field_errors() -> None:
    with pytest.raises(ValidationError) as exc:
        flow(
            {
                "a": {"outputs": [{"condition": "$.vars.x", "to": "nowhere"}, {"to": "b"}]},
                "b": {"input": {"on_invalid": "gone"}, "outputs": [{"to": "@return"}]},
            }
        )
    assert set(errors(exc)) == {"states.a.outputs.0.to", "states.b.input.on_invalid"}


def test_the_last_output_is_the_default() -> None:
    with pytest.raises(ValidationError) as exc:
        flow({"a": {"outputs": [{"condition": "$.vars.x", "to": "@return"}]}})
    assert "default output" in errors(exc)["states.a.outputs"]
    with pytest.raises(ValidationError):
        flow({"a": {"outputs": []}})


@pytest.mark.parametrize("target", ["@desk", "@service", "@human_service", "@ticket"])
def test_an_output_to_human_service_is_refused(target: str) -> None:
    with pytest.raises(ValidationError) as exc:
        flow({"a": {"outputs": [{"to": target}]}})
    assert "may not open human service" in errors(exc)["states.a.outputs.0.to"]


def test_on_invalid_to_human_service_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        flow({"a": {"input": {"on_invalid": "@desk"}, "outputs": [{"to": "@return"}]}})
    assert "may not open human service" in errors(exc)["states.a.input.on_invalid"]


@pytest.mark.parametrize("kind", ["open_ticket", "transfer_to_desk", "forwardToDesk", "handoff"])
def test_an_action_opening_human_service_is_refused(kind: str) -> None:
    with pytest.raises(ValidationError) as exc:
        flow({"a": {"actions": [{"type": kind}], "outputs": [{"to": "@return"}]}})
    assert "may not open human service" in errors(exc)["states.a.actions.0.type"]


def test_other_bad_parts_are_field_errors() -> None:
    with pytest.raises(ValidationError) as exc:
        flow(
            {
                "a": {
                    "input": {"validation": {"regex": "(unclosed"}},
                    "actions": [
                        {"type": "http", "url": "https://x.example", "map": {"v": "$.["}},
                        {"type": "set_variable", "variable": "1bad", "value": 1},
                        {"type": "send_email"},
                    ],
                    "outputs": [{"condition": "$.vars.x ==", "to": "a"}, {"to": "@nowhere"}],
                }
            }
        )
    found = errors(exc)
    assert "states.a.input.validation.regex" in found
    assert "states.a.actions.0.http.map.v" in found
    assert "states.a.actions.1.set_variable.variable" in found
    assert "states.a.actions.2" in found
    assert "states.a.outputs.0.condition" in found
    assert "unknown target" in found["states.a.outputs.1.to"]


def test_transition_cap_is_bounded() -> None:
    with pytest.raises(ValidationError):
        flow({"a": RETURN_ONLY}, max_transitions_per_input=0)
    assert flow({"a": RETURN_ONLY}, max_transitions_per_input=5).max_transitions_per_input == 5
