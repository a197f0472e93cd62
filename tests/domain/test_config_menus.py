"""FAQ and service-queue tabs: every limit at its edge and one past it."""

from __future__ import annotations

from typing import Any

import pytest

from flow_engine.domain import limits
from tests.domain.config_helpers import config, errors, only_error, text


def questions(n: int) -> list[dict[str, Any]]:
    return [{"question": f"Pregunta {i}", "answer": f"Respuesta {i}"} for i in range(n)]


def queues(n: int) -> list[dict[str, Any]]:
    return [{"name": f"Cola {i}", "attendants": [f"a{i}@example.com"]} for i in range(n)]


# -- FAQ -----------------------------------------------------------------------------------


def test_faq_up_to_ten_questions() -> None:
    c = config(faq={"enabled": True, "questions": questions(limits.FAQ_QUESTIONS_MAX)})
    assert len(c.faq.questions) == 10
    path, message = only_error(faq={"questions": questions(limits.FAQ_QUESTIONS_MAX + 1)})
    assert path == "faq.questions"
    assert "at most 10" in message


def test_faq_question_is_a_list_row_title() -> None:
    items = questions(5)
    items[3]["question"] = text(limits.ROW_TITLE_MAX, "q")
    assert config(faq={"questions": items}).faq.questions[3].question == text(24, "q")
    items[3]["question"] = text(limits.ROW_TITLE_MAX + 1, "q")
    path, message = only_error(faq={"questions": items})
    assert path == "faq.questions.3.question"
    assert "at most 24" in message


def test_faq_question_and_answer_required_and_not_blank() -> None:
    found = errors(faq={"questions": [{"question": " ", "answer": ""}, {"answer": "x"}]})
    assert set(found) == {
        "faq.questions.0.question",
        "faq.questions.0.answer",
        "faq.questions.1.question",
    }


def test_faq_answer_limit() -> None:
    items = [{"question": "Q", "answer": text(limits.TEXT_MAX)}]
    assert len(config(faq={"questions": items}).faq.questions[0].answer) == 4096
    items[0]["answer"] += "a"
    assert only_error(faq={"questions": items})[0] == "faq.questions.0.answer"


def test_faq_intro_is_an_interactive_body() -> None:
    assert config(faq={"intro": text(1024)}).faq.intro == text(1024)
    assert only_error(faq={"intro": text(1025)})[0] == "faq.intro"


def test_faq_service_button_label_is_a_row_title() -> None:
    assert config(faq={"service_button_label": text(24)}).text("service_button") == text(24)
    assert only_error(faq={"service_button_label": text(25)})[0] == "faq.service_button_label"


def test_faq_questions_distinct_ignoring_case() -> None:
    items = questions(3)
    items[2]["question"] = "PREGUNTA 0"
    path, message = only_error(faq={"questions": items})
    assert path == "faq.questions.2.question"
    assert "already" in message


@pytest.mark.parametrize("label", [None, "Pregunta 1"])
def test_service_button_must_differ_from_questions(label: str | None) -> None:
    items = questions(2)
    if label is None:  # the locale default collides
        items[0]["question"] = "hablar con un asistente"
    faq = {"questions": items, "service_button_label": label}
    assert only_error(faq=faq)[0] == "faq.service_button_label"


# -- queues --------------------------------------------------------------------------------


def test_up_to_ten_queues_plus_the_default() -> None:
    c = config(flow={"call_center": True}, queue={"queues": queues(limits.QUEUES_MAX)})
    assert c.queue_names() == [f"Cola {i}" for i in range(10)] + ["Otros asuntos"]
    assert only_error(queue={"queues": queues(limits.QUEUES_MAX + 1)})[0] == "queue.queues"


def test_queue_name_is_a_row_title() -> None:
    items = queues(3)
    items[1]["name"] = text(24, "n")
    assert config(queue={"queues": items}).queue.queues[1].name == text(24, "n")
    items[1]["name"] = text(25, "n")
    assert only_error(queue={"queues": items})[0] == "queue.queues.1.name"


@pytest.mark.parametrize("name", ["Otros asuntos", "otros ASUNTOS", "  Otros asuntos  "])
def test_no_queue_may_take_the_default_name(name: str) -> None:
    items = queues(2)
    items[1]["name"] = name
    path, message = only_error(queue={"queues": items})
    assert path == "queue.queues.1.name"
    assert "default queue" in message


def test_queue_names_distinct_ignoring_case() -> None:
    items = queues(3)
    items[2]["name"] = "COLA 0"
    path, message = only_error(queue={"queues": items})
    assert path == "queue.queues.2.name"
    assert "already" in message


def test_default_queue_cannot_be_renamed() -> None:
    ok = config(queue={"default_queue": {"name": "Otros asuntos", "attendants": ["x@ex.com"]}})
    assert ok.queue_attendants("otros asuntos") == ["x@ex.com"]
    path, message = only_error(queue={"default_queue": {"name": "Varios"}})
    assert path == "queue.default_queue.name"
    assert "Otros asuntos" in message


def test_default_queue_name_is_the_product_constant() -> None:
    assert config().queue.default_queue.name == limits.DEFAULT_QUEUE_NAME


def test_queue_message_is_an_interactive_body() -> None:
    assert config(queue={"message": text(1024)}).text("queue_message") == text(1024)
    assert only_error(queue={"message": text(1025)})[0] == "queue.message"


def test_queue_attendants_lookup() -> None:
    c = config(queue={"queues": queues(2)})
    assert c.queue_attendants("cola 1") == ["a1@example.com"]
    assert c.queue_attendants("Nope") is None


# -- e-mails -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "ana@example.com",
        "Ana.Maria+ventas@Example.COM.br",
        "o'neil@example.co.uk",
        "x@a-b.example.io",
        "user@xn--bcher-kva.example",
        f"{'a' * 64}@example.com",
    ],
)
def test_valid_emails(email: str) -> None:
    assert config(queue={"attendants": [email]}).queue.attendants == [email.lower()]


@pytest.mark.parametrize(
    "email",
    [
        "ana",
        "ana@",
        "@example.com",
        "ana@example",
        "ana@@example.com",
        "ana.@example.com",
        ".ana@example.com",
        "a..na@example.com",
        "ana@-example.com",
        "ana@example-.com",
        "ana@exa_mple.com",
        "ana maria@example.com",
        "ana@example.c",
        "ana@example.com.",
        f"{'a' * 65}@example.com",
        f"a@{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 63}.com",
    ],
)
def test_invalid_emails(email: str) -> None:
    path, message = only_error(
        queue={"queues": [{"name": "V", "attendants": ["ok@x.com", email]}]}
    )
    assert message == "not a valid e-mail address" or "at most" in message
    assert path == "queue.queues.0.attendants.1"


def test_duplicate_emails_refused_ignoring_case() -> None:
    attendants = ["ana@example.com", "bob@example.com", "ANA@example.com"]
    path, message = only_error(queue={"attendants": attendants})
    assert path == "queue.attendants.2"
    assert "twice" in message


def test_attendant_list_limit() -> None:
    many = [f"a{i}@example.com" for i in range(limits.ATTENDANTS_MAX)]
    assert len(config(queue={"attendants": many}).queue.attendants) == limits.ATTENDANTS_MAX
    many.append("last@example.com")
    assert only_error(queue={"attendants": many})[0] == "queue.attendants"
