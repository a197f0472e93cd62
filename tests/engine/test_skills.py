"""Skill dispatch at the extension points (R-SKILL-1 … 5), with Python skills.

Driven with the real Turn, Conversation and machine; the last tests wire the
dispatcher into the real BaseFlow the way base_flow.py is meant to.
"""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from flow_engine.domain.skills import SkillAttachment
from flow_engine.engine import machine
from flow_engine.engine.skills.base import Skill, SkillResult
from flow_engine.engine.skills.dispatch import SkillDispatcher
from flow_engine.engine.skills.loader import SkillLoader
from flow_engine.engine.skills.python import load_python_skill
from flow_engine.errors import ConfigurationError
from flow_engine.metrics.registry import Metrics
from tests.support.skills import (
    CONFIG,
    Convo,
    FixedLoader,
    FlowChat,
    Recorder,
    attach,
    event,
    failures,
    fixed,
    inbound,
)

SUPPORT = "tests.support.skills"


def dispatcher(*attachments: SkillAttachment, metrics: Metrics | None = None) -> SkillDispatcher:
    return SkillDispatcher(SkillLoader(), metrics or Metrics(), attachments=fixed(attachments))


def python(point: str, name: str, **extra: Any) -> SkillAttachment:
    return attach(point, "python", target=f"{SUPPORT}:{name}", **extra)


# ----------------------------------------------------------------------- entering
async def test_a_point_without_a_skill_goes_straight_on_without_loading() -> None:
    loader = FixedLoader({})
    d = SkillDispatcher(loader, attachments=fixed([attach("PreEnd", "python", target="x:Y")]))
    convo = Convo(d)
    for point in ("PreMain", "PreFaq", "PreDesk", "PreSurvey", "PosSurvey"):
        assert await convo.enter(point) == (False, [])
    assert loader.loads == 0
    assert convo.conversation.skill == {} and convo.conversation.state == "idle"


async def test_a_number_without_a_skills_field_has_no_skills() -> None:
    d = SkillDispatcher(FixedLoader({}))  # default: NumberConfig.skills, absent here
    assert await Convo(d).enter("PreMain") == (False, [])


async def test_the_envelope_and_context_a_skill_receives() -> None:
    recorder = Recorder()
    d = SkillDispatcher(
        FixedLoader({"PreDesk": recorder, "PreSurvey": recorder}),
        attachments=fixed(
            [
                attach("PreDesk", "python", target="a:B"),
                attach("PreSurvey", "python", target="a:B"),
            ]
        ),
    )
    convo = Convo(d)
    assert await convo.enter("PreDesk", "Olá") == (False, [])
    reply = inbound("Vendas", type="interactive", reply_id="queue_0")
    await convo.enter("PreDesk", reply)
    await convo.enter("PreDesk", inbound("a cat", type="image", media={"id": "m1"}))
    await convo.enter("PreSurvey", event("ticket_closed"))
    envelopes = [call[0].model_dump() for call in recorder.calls]
    assert envelopes == [
        {"origin": "Desk", "flow": "PreDesk", "input": {"content": "Olá", "type": "text/plain"}},
        {
            "origin": "Desk",
            "flow": "PreDesk",
            "input": {"content": "Vendas", "type": "text/plain"},
        },
        {"origin": "Desk", "flow": "PreDesk", "input": {"content": "a cat", "type": "image"}},
        {
            "origin": "NotaCerta",
            "flow": "PreSurvey",
            "input": {"content": "ticket_closed", "type": "event"},
        },
    ]
    _envelope, variables, context = recorder.calls[0]
    assert variables == {}
    assert context.first and context.point == "PreDesk" and context.origin == "Desk"
    assert context.contact == {"name": "Ana", "phone": "5491100000001"}
    assert context.number["phone_number_id"] == CONFIG.phone_number_id
    assert context.config is CONFIG
    assert "config" not in context.as_json()


# ------------------------------------------------------------ stay, then return
async def test_a_skill_stays_several_turns_then_returns_after_its_point() -> None:
    convo = Convo(dispatcher(python("PreFaq", "AskTwice")))
    took, replies = await convo.enter("PreFaq", "Olá")
    assert took and replies == ["Your name?"]
    assert convo.conversation.state == machine.SKILL
    assert convo.conversation.skill["point"] == "PreFaq"
    assert convo.conversation.skill["origin"] == "Main"
    assert convo.conversation.skill["state"] == "name"
    assert await convo.send("Ana") == ["Your city?"]
    assert convo.skill_vars == {"skp_name": "Ana"}
    assert convo.resumed == []
    assert await convo.send("Recife") == ["Thanks Ana from Recife", "(base flow after PreFaq)"]
    assert convo.resumed == ["PreFaq"]
    assert convo.conversation.skill == {}
    assert convo.conversation.state == machine.IDLE


async def test_a_skill_that_returns_at_once_lets_the_base_flow_go_on() -> None:
    convo = Convo(dispatcher(python("PreMain", "DuckReturn")))
    assert await convo.enter("PreMain") == (False, ["duck says hi"])
    assert convo.conversation.skill == {} and convo.resumed == []
    assert convo.conversation.state == machine.IDLE


async def test_variables_are_namespaced_and_cannot_touch_base_flow_state() -> None:
    convo = Convo(dispatcher(python("PreMain", "Clobber")))
    convo.conversation.data["visits"] = 1
    took, _ = await convo.enter("PreMain")
    assert took
    assert convo.conversation.state == machine.SKILL
    assert convo.conversation.data == {"visits": 1}
    assert convo.skill_vars == {
        "skp_state": "service",
        "skp_data": {"ticket_id": "x"},
        "skp_skp_state": "idle",
    }
    assert "leak" not in str(convo.conversation.skill)
    await convo.send("again")
    assert convo.conversation.state == machine.SKILL and convo.conversation.data == {"visits": 1}


# ---------------------------------------------------------------------- failures
@pytest.mark.parametrize(
    ("name", "reason"),
    [("Boom", "error"), ("Sleepy", "timeout"), ("Garbage", "bad_reply"), ("Heavy", "bad_reply")],
)
async def test_a_failing_skill_at_entry_lets_the_base_flow_go_on(name: str, reason: str) -> None:
    metrics = Metrics()
    convo = Convo(dispatcher(python("PreDesk", name, timeout_s=0.2), metrics=metrics))
    with capture_logs() as logs:
        assert await convo.enter("PreDesk") == (False, [])
    assert convo.conversation.skill == {} and convo.conversation.state == machine.IDLE
    assert failures(metrics, "PreDesk", reason) == 1
    (failed,) = [e for e in logs if e["event"] == "skill_failed"]
    assert failed["point"] == "PreDesk" and failed["reason"] == reason
    assert failed["log_level"] == "warning"


async def test_a_skill_failing_mid_way_resumes_the_base_flow_after_its_point() -> None:
    metrics = Metrics()
    skill = python("PosSurvey", "AskTwice")
    convo = Convo(dispatcher(skill, metrics=metrics))
    assert (await convo.enter("PosSurvey"))[0]
    # the skill's variables get a value that is not JSON-serializable: a bad reply
    convo.dispatcher.loader = FixedLoader({"PosSurvey": _Unserializable()})
    with capture_logs() as logs:
        assert await convo.send("x") == ["(base flow after PosSurvey)"]
    assert convo.resumed == ["PosSurvey"] and convo.conversation.skill == {}
    assert failures(metrics, "PosSurvey", "bad_reply") == 1
    assert [e["reason"] for e in logs if e["event"] == "skill_failed"] == ["bad_reply"]


class _Unserializable(Recorder):
    async def run(self, envelope: Any, variables: Any, context: Any) -> Any:
        from flow_engine.engine.skills.base import SkillResult

        result = SkillResult(stay=True)
        result.variables["when"] = object()  # type: ignore[assignment]
        return result


async def test_a_skill_detached_while_a_contact_is_inside_it() -> None:
    metrics = Metrics()
    attachments = [python("PreEnd", "AskTwice")]
    d = SkillDispatcher(SkillLoader(), metrics, attachments=lambda config: attachments)
    convo = Convo(d)
    assert (await convo.enter("PreEnd"))[0]
    attachments.clear()  # a new configuration was pushed
    assert await convo.send("hello") == ["(base flow after PreEnd)"]
    assert failures(metrics, "PreEnd", "missing") == 1


async def test_a_stale_record_is_dropped_and_the_base_flow_handles_the_message() -> None:
    convo = Convo(dispatcher(python("PreFaq", "AskTwice")))
    convo.conversation.skill = {"point": "PreFaq", "vars": {}}  # but state is not skill
    turn_handled = await _on_message(convo, "hi")
    assert turn_handled is False and convo.conversation.skill == {}
    convo.conversation.state = machine.SKILL
    convo.conversation.skill = {"point": "Nowhere"}
    assert await _on_message(convo, "hi") is False


async def _on_message(convo: Convo, text: str) -> bool:
    from datetime import UTC, datetime

    from flow_engine.engine.base_flow import Step
    from flow_engine.engine.flow import Turn

    turn = Turn(convo.config, convo.conversation, inbound(text), datetime.now(UTC))
    with machine.bound(convo.conversation.state) as model:
        return await convo.dispatcher.on_message(Step(turn, model, None))  # type: ignore[arg-type]


# ------------------------------------------------------------------ python kind
async def test_python_targets_that_cannot_be_used_are_refused_at_load() -> None:
    loader = SkillLoader()
    bad = [
        python("PreMain", "NotAsync"),
        attach("PreFaq", "python", target="tests.support.no_such_module:X"),
        python("PreEnd", "NoSuchClass"),
    ]
    with pytest.raises(ConfigurationError) as exc:
        await loader.check(bad)
    fields = [d["field"] for d in exc.value.details]
    assert fields == ["skills.0.target", "skills.1.target", "skills.2.target"]
    assert "async def run" in exc.value.details[0]["message"]
    await loader.check([python("PreMain", "AskTwice"), python("PreFaq", "DuckReturn")])


def test_a_python_skill_in_a_search_folder_is_importable(tmp_path: Any) -> None:
    (tmp_path / "local_skill_mod.py").write_text(
        "class Hi:\n    async def run(self, envelope, variables, context):\n"
        "        return {'messages': ['hi'], 'action': 'return'}\n",
        encoding="utf-8",
    )
    skill = load_python_skill("local_skill_mod:Hi", [tmp_path])
    assert type(skill).__name__ == "PythonSkill"


# ---------------------------------------------------------- wired into BaseFlow
async def test_wired_into_the_base_flow_premain_skill_holds_then_greeting_follows() -> None:
    chat = FlowChat(dispatcher(python("PreMain", "AskTwice")))
    assert await chat.send("hola") == ["Your name?"]
    assert chat.conversation.state == machine.SKILL
    assert await chat.send("Ana") == ["Your city?"]
    got = await chat.send("Recife")
    assert got[0] == "Thanks Ana from Recife"
    assert got[1].startswith("Hola Ana")  # R-FLOW-2 greeting, after PreMain
    # then on: no FAQ and no call center in this configuration, so a ticket opens (R-FLOW-8)
    assert chat.conversation.state == machine.SERVICE and chat.conversation.skill == {}
    assert chat.conversation.data["ticket_id"]


async def test_wired_into_the_base_flow_the_hook_runs_in_front_of_its_step() -> None:
    chat = FlowChat(dispatcher(python("PreFaq", "AskTwice")))
    got = await chat.send("hola")
    assert got[0].startswith("Hola Ana") and got[1:] == ["Your name?"]  # greeting, then PreFaq
    await chat.send("Ana")
    got = await chat.send("Recife")
    assert got[0] == "Thanks Ana from Recife"
    assert not any(g.startswith("Hola") for g in got)  # resumed after PreFaq, not from the top
    assert chat.conversation.state == machine.SERVICE


async def test_wired_into_the_base_flow_a_failing_skill_does_not_strand_the_contact() -> None:
    metrics = Metrics()
    chat = FlowChat(dispatcher(python("PreMain", "Boom"), metrics=metrics))
    got = await chat.send("hola")
    assert got and got[0].startswith("Hola Ana")
    assert failures(metrics, "PreMain", "error") == 1
    assert chat.conversation.skill == {}


# ------------------------------------------------------------ variables kept per contact
class Remember(Skill):
    """Counts its visits in a variable; with ``fail`` set, raises after changing it."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[dict[str, Any]] = []

    async def run(self, envelope: Any, variables: dict[str, Any], context: Any) -> SkillResult:
        self.seen.append(dict(variables))
        variables["visits"] = variables.get("visits", 0) + 1  # a copy: not saved by itself
        if self.fail:
            raise RuntimeError("after changing a variable")
        return SkillResult(variables={"visits": variables["visits"]}, envelope=envelope)


async def test_variables_a_skill_returns_with_are_kept_for_the_contact() -> None:
    remember = Remember()
    d = SkillDispatcher(
        FixedLoader({"PreMain": remember, "PreEnd": remember}),
        attachments=fixed(
            [attach("PreMain", "python", target="x:Y"), attach("PreEnd", "python", target="x:Y")]
        ),
    )
    convo = Convo(d)
    assert (await convo.enter("PreMain"))[0] is False  # returned at once
    assert convo.conversation.skill == {}
    assert convo.conversation.skill_vars == {"skp_visits": 1}
    await convo.enter("PreEnd")  # another skill of the number, later
    await convo.enter("PreMain")  # a later conversation
    assert [s.get("visits") for s in remember.seen] == [None, 1, 2]
    assert convo.conversation.skill_vars == {"skp_visits": 3}
    assert convo.conversation.data == {}  # never the base flow's data


async def test_a_failing_skill_leaves_the_kept_variables_as_they_were() -> None:
    d = SkillDispatcher(
        FixedLoader({"PreMain": Remember(), "PreEnd": Remember(fail=True)}),
        Metrics(),
        attachments=fixed(
            [attach("PreMain", "python", target="x:Y"), attach("PreEnd", "python", target="x:Y")]
        ),
    )
    convo = Convo(d)
    await convo.enter("PreMain")
    assert await convo.enter("PreEnd") == (False, [])
    assert convo.conversation.skill_vars == {"skp_visits": 1}
