"""The example skills in ``skills/``, each driven through signed webhooks against the
demo number (the real path: web app, base flow, dispatcher, skill), with small real
aiohttp servers on loopback for the order API and the survey-question HTTP skill."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from tests.conftest import ServerFactory
from tests.flow.conftest import ADMIN, Chat, demo_config
from tests.support.clock import MovableClock
from tests.support.harness import Harness

Stack = Callable[..., Awaitable[Harness]]
ROOT = Path(__file__).resolve().parents[2]
SKILLS = ROOT / "skills"
ANA = "5491100000000"
GREETING = "Hola Ana, ¡espero que estés bien!"
FAQ = "Estas son las preguntas más frecuentes"


def attachment(point: str, parent: str, kind: str, **source: Any) -> dict[str, Any]:
    return {"serviceName": point, "parentServiceName": parent, "kind": kind, **source}


def expanded_flow(name: str, skills_dir: Path, **env: str) -> str:
    """The flow file of ``skills/name`` with ``${NAME}`` expanded, written into
    ``skills_dir``; the path to attach (relative to that skills folder)."""
    text = (SKILLS / name / f"{name}.yaml").read_text(encoding="utf-8")
    for key, value in env.items():
        text = text.replace("${" + key + "}", value)
    (skills_dir / name).mkdir(parents=True, exist_ok=True)
    target = skills_dir / name / f"{name}.yaml"
    target.write_text(text, encoding="utf-8")
    return f"{name}/{name}.yaml"


async def api(h: Harness, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with h.session.request(method, h.engine_url + path, json=body, headers=ADMIN) as r:
        assert r.status < 300, await r.text()
        return await r.json()


async def open_and_close_a_ticket(h: Harness, chat: Chat) -> list[str]:
    """From the FAQ to a person and back: what the contact gets after the close."""
    await chat.tap("Hablar con un asistente")
    await chat.tap("Ventas")
    body = await api(h, "GET", "/api/v1/tickets?number=100000000000001")
    (ticket,) = [t for t in body["tickets"] if t["contact"] == ANA]
    await api(h, "POST", f"/api/v1/tickets/{ticket['id']}/close", {"attendant": "ana@x.com"})
    return await chat.received(quiet=0.5)


async def with_http_skill(flow_stack: Stack, skill: dict[str, Any], **changes: Any) -> Harness:
    """The demo number with an HTTP skill attached (checked at start like any skill)."""
    return await flow_stack(demo_config(skills=[skill], **changes))


async def metrics(h: Harness) -> str:
    async with h.session.get(h.engine_url + "/metrics") as r:
        return await r.text()


# ------------------------------------------------------------------ consent (PreMain)
CONSENT = attachment("PreMain", "Main", "declarative", path="consent/consent.yaml")


async def test_consent_yes_by_button_then_the_greeting(flow_stack: Stack) -> None:
    h = await flow_stack(demo_config(skills=[CONSENT]))
    chat = Chat(h, ANA, MovableClock())
    got = await chat.send("hola")
    assert len(got) == 1 and "acepta que guardemos sus datos" in got[0]
    assert chat.option_titles() == ["Sí", "No"]
    got = await chat.tap("Sí")
    assert got[0] == "¡Gracias! 🙌"
    assert got[1].startswith(GREETING) and FAQ in got[2]


async def test_consent_reasks_an_invalid_answer_and_no_ends_politely(flow_stack: Stack) -> None:
    h = await flow_stack(demo_config(skills=[CONSENT]))
    chat = Chat(h, ANA, MovableClock())
    await chat.send("hola")
    assert await chat.send("tal vez") == ["Por favor responda *Sí* o *No*."]
    got = await chat.send("no")
    assert got[0].startswith("Entendido, no guardaremos sus datos.")
    assert got[1].startswith(GREETING)


async def test_consent_gives_up_after_three_invalid_answers(flow_stack: Stack) -> None:
    h = await flow_stack(demo_config(skills=[CONSENT]))
    chat = Chat(h, ANA, MovableClock())
    await chat.send("hola")
    await chat.send("a")
    await chat.send("b")
    got = await chat.send("c")
    assert got[0].startswith("No recibí una respuesta válida")
    assert got[1].startswith(GREETING)


# ------------------------------------------------------------ order status (PreFaq)
ORDERS = {"12345": "en camino", "67890": "entregado"}


@pytest.fixture
async def order_api(aiohttp_server: ServerFactory) -> str:
    async def order(request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        if order_id == "99999":
            return web.json_response({"error": "boom"}, status=500)
        if order_id not in ORDERS:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response({"id": order_id, "status": ORDERS[order_id]})

    app = web.Application()
    app.router.add_get("/orders/{order_id}", order)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def order_chat(flow_stack: Stack, tmp_path: Path, api_url: str) -> Chat:
    path = expanded_flow("order_status", tmp_path / "skill", ORDER_API_URL=api_url)
    skill = attachment("PreFaq", "Main", "declarative", path=path)
    h = await flow_stack(demo_config(skills=[skill]), skills_dir=tmp_path / "skill")
    chat = Chat(h, ANA, MovableClock())
    got = await chat.send("hola")
    assert got[0].startswith(GREETING)
    assert got[1].startswith("¿Cuál es su número de pedido?")
    return chat


@pytest.fixture
def skill_dir(tmp_path: Path) -> Path:
    (tmp_path / "skill").mkdir()
    return tmp_path


async def test_order_status_found(flow_stack: Stack, skill_dir: Path, order_api: str) -> None:
    chat = await order_chat(flow_stack, skill_dir, order_api)
    assert (await chat.send("12-3"))[0].startswith("El número de pedido tiene de 5 a 10")
    got = await chat.send("12345")
    assert got[0] == "Su pedido 12345 está: *en camino*."
    assert FAQ in got[1]  # back to the FAQ right after PreFaq


async def test_order_status_unknown_and_server_error(
    flow_stack: Stack, skill_dir: Path, order_api: str
) -> None:
    chat = await order_chat(flow_stack, skill_dir, order_api)
    got = await chat.send("55555")
    assert got[0] == "No encontramos el pedido 55555." and FAQ in got[1]
    chat2 = Chat(chat.h, "5491100000002", MovableClock())
    await chat2.send("hola")
    got = await chat2.send("99999")
    assert got[0].startswith("No pudimos consultar su pedido") and FAQ in got[1]


async def test_order_status_api_unreachable(flow_stack: Stack, skill_dir: Path) -> None:
    chat = await order_chat(flow_stack, skill_dir, "http://127.0.0.1:9")
    got = await chat.send("12345")
    assert got[0].startswith("No pudimos consultar su pedido") and FAQ in got[1]


async def test_order_status_skipped(flow_stack: Stack, skill_dir: Path, order_api: str) -> None:
    chat = await order_chat(flow_stack, skill_dir, order_api)
    got = await chat.send("NO")
    assert len(got) == 1 and FAQ in got[0]


# ------------------------------------------------------- survey question (PreSurvey)
def _survey_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "survey_question_server", SKILLS / "survey_question" / "server.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def survey_skill_url(aiohttp_server: ServerFactory) -> str:
    server = await aiohttp_server(_survey_module().make_app())
    return str(server.make_url("/skill"))


async def test_survey_question_before_the_survey(flow_stack: Stack, survey_skill_url: str) -> None:
    skill = attachment("PreSurvey", "NotaCerta", "http", url=survey_skill_url)
    h = await with_http_skill(flow_stack, skill)
    chat = Chat(h, ANA, MovableClock())
    await chat.send("hola")
    got = await open_and_close_a_ticket(h, chat)
    assert got[0].startswith("Gracias por comunicarse.")
    assert got[-1].startswith("Antes de la encuesta: ¿cómo nos conoció?")
    assert chat.option_titles() == ["Redes sociales", "Un amigo", "Otro"]
    got = await chat.tap("Un amigo")
    assert got[0] == "¡Gracias por contarnos!"
    assert got[1].startswith("¿Cómo calificaría la atención que recibió?")  # the base survey


async def test_survey_question_server_down_goes_straight_to_the_survey(
    flow_stack: Stack,
) -> None:
    skill = attachment("PreSurvey", "NotaCerta", "http", url="http://127.0.0.1:9/skill")
    h = await with_http_skill(flow_stack, skill)
    chat = Chat(h, ANA, MovableClock())
    await chat.send("hola")
    got = await open_and_close_a_ticket(h, chat)
    assert got[-1].startswith("¿Cómo calificaría la atención que recibió?")
    assert 'flow_engine_skill_failures_total{point="PreSurvey"' in await metrics(h)


# ----------------------------------------------------------- python greeting (PreEnd)
async def test_python_goodbye_at_pre_end(flow_stack: Stack) -> None:
    # imported from FLOW_ENGINE_SKILLS_DIR (skills/): python_greeting/greeting.py
    skill = attachment("PreEnd", "Main", "python", target="python_greeting.greeting:Goodbye")
    h = await flow_stack(
        demo_config(skills=[skill], **{"flow.survey": {"enabled": False}}),
        python_skill_modules="python_greeting",
    )
    chat = Chat(h, ANA, MovableClock())
    await chat.send("hola")
    got = await open_and_close_a_ticket(h, chat)
    assert got[0].startswith("Gracias por comunicarse.")
    assert got[1].startswith("¡Síganos")
    assert got[2] == "¡Hasta pronto, Ana! Gracias por escribir a Demo. 👋"


# ------------------------------------------------------ the conversation files parse
@pytest.mark.parametrize("path", sorted(SKILLS.glob("*/tests/*.test.yaml")), ids=str)
def test_conversation_files_are_well_formed(path: Path) -> None:
    env = {"ORDER_API_URL": "http://127.0.0.1:1", "SERVE_URL": "http://127.0.0.1:1"}
    text = path.read_text(encoding="utf-8")
    for key, value in env.items():
        text = text.replace("${" + key + "}", value)
    doc = yaml.safe_load(text)
    assert set(doc) <= {"serve", "config", "skills", "contact", "now", "steps"}
    config = path.parent / doc["config"]
    assert config.is_file()
    for skill in doc.get("skills", []):
        if "path" in skill:
            assert (path.parent / skill["path"]).is_file(), skill
    if "serve" in doc:
        assert (path.parent / doc["serve"].split()[1]).is_file()  # python ../server.py …
    for step in doc["steps"]:
        assert set(step) <= {"wait", "send", "tap", "attendant", "expect", "state", "vars"}
        actions = [a for a in ("send", "tap", "attendant") if a in step]
        assert len(actions) == 1 or (not actions and "wait" in step)
        for item in step.get("expect", []):
            assert set(item) <= {"text", "contains", "matches", "options"}


# ------------------------------------------- the conversation files, through the runner
async def run_file(path: Path, env: dict[str, str] | None = None) -> None:
    convtest = pytest.importorskip("flow_engine.devtools.convtest")
    cf = convtest.load_conversation_file(path, env or {})
    result = await convtest.run_conversation(cf)
    assert result.ok, result.failure


@pytest.mark.parametrize("path", sorted((SKILLS / "consent" / "tests").glob("*.test.yaml")))
async def test_consent_conversation_files(path: Path) -> None:
    await run_file(path)


@pytest.mark.parametrize(
    "path", sorted((SKILLS / "python_greeting" / "tests").glob("*.test.yaml"))
)
async def test_python_greeting_conversation_files(path: Path) -> None:
    await run_file(path)  # at PreMain, and at PreEnd through attendant steps


@pytest.mark.parametrize("path", sorted((SKILLS / "order_status" / "tests").glob("*.test.yaml")))
async def test_order_status_conversation_files(
    path: Path, order_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDER_API_URL", order_api)  # the flow file's ${ORDER_API_URL}
    await run_file(path, {"ORDER_API_URL": order_api})


@pytest.mark.parametrize(
    "path", sorted((SKILLS / "survey_question" / "tests").glob("*.test.yaml"))
)
async def test_survey_question_conversation_files(path: Path) -> None:
    await run_file(path)  # serve: starts the skill's own server.py for each file
