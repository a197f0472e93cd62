"""Validation messages in the member's language (``console/validation.py``): pydantic's
errors, found again by their type and English words, with the values they hold."""

from __future__ import annotations

import copy
import enum
import string
from datetime import date, datetime
from typing import Annotated, Any, Literal

import pytest
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticKnownError

from flow_engine.admin.configs import validate_config
from flow_engine.console import config_form
from flow_engine.console.messages import MESSAGES
from flow_engine.console.validation import (
    DOMAIN,
    KINDS,
    PYDANTIC,
    field_message,
    key_of,
    row_reason,
)
from flow_engine.data.query import PERIOD_LENGTH, PERIOD_ORDER, parse_date, parse_numbers
from flow_engine.domain.campaigns import CampaignSpec, CsvError, parse_csv
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.error_kinds import ErrorKind
from flow_engine.domain.templates import CatalogTemplate
from flow_engine.errors import UnprocessableEntity
from flow_engine.notify.catalog import Catalogs
from flow_engine.notify.individual import phone_of
from flow_engine.web.api.access.models import ProfileIn
from flow_engine.web.api.activation import VerifyBody
from flow_engine.web.errors import validation_details
from tests.admin.conftest import number_config


class Color(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int


def detail_of(kind: Any, value: Any, *, json: bool = False) -> dict[str, Any]:
    """The API's one ``details[]`` entry for ``value`` refused as ``kind``."""
    adapter = TypeAdapter(kind)
    with pytest.raises(ValidationError) as exc:
        if json:
            adapter.validate_json(value, strict=True)
        else:
            adapter.validate_python(value)
    (detail,) = validation_details(exc.value)
    return detail


CASES: list[tuple[Any, Any, bool, str, str]] = [
    (Strict, {"n": 1, "x": 1}, False, "es", "Este campo no se admite aquí."),
    (str, 1, False, "es", "Debe ser un texto."),
    (Annotated[str, Field(min_length=1)], "", False, "es", "Este campo no puede quedar vacío."),
    (Annotated[str, Field(min_length=3)], "a", False, "es", "Escriba al menos 3 caracteres."),
    (
        Annotated[str, Field(max_length=4096)],
        "a" * 5000,
        False,
        "es",
        "Escriba como máximo 4.096 caracteres.",
    ),
    (
        Annotated[str, Field(max_length=24)],
        "a" * 25,
        False,
        "pt-BR",
        "Escreva no máximo 24 caracteres.",
    ),
    (Annotated[str, Field(max_length=1)], "ab", False, "en", "Write at most one character."),
    (Annotated[str, Field(pattern=r"^\d{6}$")], "12", False, "es", "El formato no es válido."),
    (int, '"abc"', True, "es", "Debe ser un número entero."),
    (int, "abc", False, "pt-BR", "Deve ser um número inteiro."),
    (int, 1.5, False, "es", "Debe ser un número entero, sin decimales."),
    (float, '"x"', True, "es", "Debe ser un número."),
    (float, "x", False, "en", "Must be a number."),
    (bool, '"x"', True, "es", "Debe ser sí o no."),
    (bool, "maybe", False, "es", "Debe ser sí o no."),
    (Annotated[float, Field(gt=0)], 0, False, "es", "Debe ser mayor que 0."),
    (Annotated[float, Field(gt=0.5)], 0, False, "es", "Debe ser mayor que 0,5."),
    (Annotated[int, Field(ge=1)], 0, False, "es", "Debe ser 1 o más."),
    (Annotated[int, Field(lt=5)], 9, False, "en", "Must be less than 5."),
    (Annotated[float, Field(le=1000)], 5000, False, "es", "Debe ser 1.000 o menos."),
    (Annotated[float, Field(le=1000)], 5000, False, "en", "Must be 1,000 or less."),
    (Annotated[list[int], Field(min_length=1)], [], False, "es", "Indique al menos uno."),
    (Annotated[list[int], Field(min_length=2)], [1], False, "es", "Indique al menos 2."),
    (
        Annotated[list[int], Field(max_length=10)],
        list(range(11)),
        False,
        "pt-BR",
        "No máximo 10 itens.",
    ),
    (Literal["csat", "nps"], "ces", False, "es", "Debe ser 'csat' o 'nps'."),
    (Literal["es", "pt-BR", "en"], "fr", False, "pt-BR", "Deve ser 'es', 'pt-BR' ou 'en'."),
    (Literal["Otros asuntos"], "x", False, "es", "Debe ser 'Otros asuntos'."),
    (Color, "green", False, "es", "Debe ser 'red' o 'blue'."),
    (list[int], "x", False, "es", "Debe ser una lista."),
    (list[int], '"x"', True, "es", "Debe ser una lista."),
    (dict[str, int], 1, False, "es", "Debe ser un objeto."),
    (dict[str, int], "1", True, "es", "Debe ser un objeto."),
    (date, "2026-13-01", False, "es", "Debe ser una fecha, AAAA-MM-DD."),
    (datetime, "nope", False, "es", "Debe ser una fecha y hora, AAAA-MM-DDTHH:MM."),
    (AnyUrl, "nope", False, "es", "Debe ser una URL válida."),
    (
        int,
        "{",
        True,
        "es",
        "No es un JSON válido (EOF while parsing an object at line 1 column 1).",
    ),
]


@pytest.mark.parametrize(("kind", "value", "json", "locale", "expected"), CASES)
def test_a_pydantic_error_is_said_in_the_members_language_with_its_values(
    kind: Any, value: Any, json: bool, locale: str, expected: str
) -> None:
    assert field_message(locale, detail_of(kind, value, json=json)) == expected


def test_a_missing_field_is_said_in_each_language() -> None:
    detail = detail_of(Strict, {})
    assert detail == {"field": "n", "message": "Field required", "type": "missing"}
    assert field_message("es", detail) == "Este campo es obligatorio."
    assert field_message("pt-BR", detail) == "Este campo é obrigatório."
    assert field_message("en", detail) == "This field is required."


def test_every_type_the_table_names_is_met_by_a_case() -> None:
    met = {detail_of(kind, value, json=json)["type"] for kind, value, json, *_ in CASES}
    assert {p.type for p in PYDANTIC} - met == {"missing", "date_parsing", "datetime_parsing"}


COUNTS = {"min_length", "max_length", "actual_length", "gt", "ge", "lt", "le"}


@pytest.mark.parametrize("kind", PYDANTIC)
def test_the_table_holds_pydantics_own_words(kind: ErrorKind) -> None:
    """A pydantic that words a message otherwise would silently leave it in English."""
    names = [name for _, name, _, _ in string.Formatter().parse(kind.template) if name]
    ctx = {n: 1 if n in COUNTS else "x" for n in names if n != "expected_plural"}
    python = PydanticKnownError(kind.type, ctx or None).message_template  # type: ignore[arg-type]
    json_words = {
        "list_type": "Input should be a valid array",
        "dict_type": "Input should be an object",
    }
    assert kind.template in (python, json_words.get(kind.type))


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_texts_that_its_values_fill(kind: ErrorKind) -> None:
    values = {name for _, name, _, _ in string.Formatter().parse(kind.template) if name}
    key = key_of(kind)
    assert key in MESSAGES
    for k in (key, key + ".one"):
        for text in MESSAGES.get(k, ()):
            used = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            assert used <= values, (k, text)


@pytest.mark.parametrize(
    "detail",
    [
        # a type the console has no words for
        {"field": "n", "message": "Input should be a multiple of 5", "type": "multiple_of"},
        # a known type, in words of the service's own (the API's query parameters)
        {"field": "x", "message": "unknown parameter", "type": "extra_forbidden"},
        {"field": "x", "message": "given more than once", "type": "repeated"},
        # no type at all, or no message
        {"field": "file", "message": "choose the CSV file (again)"},
        {"field": "x", "type": "missing"},
    ],
)
def test_words_without_a_translation_stay_as_the_service_wrote_them(
    detail: dict[str, Any],
) -> None:
    for locale in ("es", "pt-BR", "en"):
        assert field_message(locale, detail) == detail.get("message", "")


def test_a_kind_finds_its_values_in_its_words_and_no_other() -> None:
    kind = ErrorKind("x", "{a} is after {b} ({a})")
    assert kind.values_of(kind.text(a="3", b="1")) == {"a": "3", "b": "1"}
    assert kind.values_of("3 is after 1 (4)") is None
    assert kind.values_of("3 is before 1 (3)") is None
    assert kind.type == "x" and ErrorKind("x", "", "value_error").type == "value_error"
    error = kind.error(a="3", b="1")
    assert (error.type, error.message()) == ("x", "3 is after 1 (3)")


# ---------------------------------------------------------------------- the domain's own
NUMBER = "100000000000001"


def config_detail(path: str, value: Any) -> dict[str, Any]:
    """The first ``details[]`` entry of a configuration with ``value`` at ``path``, as the
    console's tabs and the API validate it."""
    doc = copy.deepcopy(number_config(NUMBER))
    config_form.put(doc, path, value)
    with pytest.raises(UnprocessableEntity) as exc:
        validate_config(NUMBER, doc)
    return dict(exc.value.details[0])


def model_detail(model: Any, raw: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(raw)
    return validation_details(exc.value)[0]


def service_detail(call: Any) -> dict[str, Any]:
    with pytest.raises(UnprocessableEntity) as exc:
        call()
    return dict(exc.value.details[0])


def csv_detail(data: bytes | str, columns: list[str] | None = None) -> dict[str, Any]:
    """The first error of a CSV refused whole, as the campaigns' service gives it."""
    with pytest.raises(CsvError) as exc:
        parse_csv(
            data,
            separator=",",
            phone_column="phone",
            columns=columns or [],
            sender_column=None,
            sender_of=lambda cell: None,
            region_of=lambda sender: None,
            default_sender="1",
        )
    field, message = exc.value.problems[0]
    return {"field": field, "message": message, "type": "csv"}


SKILL = {"serviceName": "PreMain", "parentServiceName": "Main"}
MONDAY = "hours.weekdays.monday"
CAMPAIGN = {"name": "n", "phone_column": "p", "template": {"name": "a", "language": "es"}}
AVISO = CatalogTemplate(
    name="aviso",
    language="es",
    status="APPROVED",
    components=[{"type": "BODY", "text": "Hola {{1}}"}],
)


def parameter_detail(value: str) -> dict[str, Any]:
    return service_detail(lambda: Catalogs.check(AVISO, {"body": [value]}, allow_column=False))


def phone_detail(raw: str) -> dict[str, Any]:
    """The error of a recipient's phone, as the notification service gives it."""
    config = NumberConfig.model_validate(number_config(NUMBER))
    return service_detail(lambda: phone_of(raw, config))


DOMAIN_CASES: list[tuple[Any, str]] = [
    (lambda: phone_detail(" "), "Teléfono vacío."),
    (
        lambda: phone_detail("5.49E+12"),
        "'5.49E+12' está en notación científica (Excel): dé a la columna formato de texto.",
    ),
    (lambda: phone_detail("abc"), "'abc' no es un teléfono."),
    (lambda: phone_detail("12"), "'12' no es un teléfono posible."),
    (
        lambda: model_detail(ProfileIn, {"name": "a", "description": "a\x00"}),
        "No puede contener caracteres de control (U+0000).",
    ),
    (
        lambda: config_detail("queue.attendants", ["nope"]),
        "No es una dirección de correo electrónico válida.",
    ),
    (
        lambda: config_detail("queue.attendants", ["a@b.co", "A@b.co"]),
        "'a@b.co' está dos veces en la lista.",
    ),
    (
        lambda: config_detail(
            "faq.questions", [{"question": "q", "answer": "a"}, {"question": "Q", "answer": "b"}]
        ),
        "Esta pregunta ya está en el menú.",
    ),
    (
        lambda: config_detail("queue.queues", [{"name": "a"}, {"name": "A"}]),
        "Otra cola ya tiene este nombre.",
    ),
    (
        lambda: config_detail("queue.queues", [{"name": "otros asuntos"}]),
        "'Otros asuntos' es la cola fija por defecto: indique sus asistentes en su propio campo.",
    ),
    (
        lambda: config_detail("timezone", "Mars/Olympus"),
        "Zona horaria IANA desconocida: 'Mars/Olympus' (p. ej. America/Argentina/Buenos_Aires).",
    ),
    (
        lambda: config_detail("service.social_networks.instagram", "ftp://x"),
        "Debe ser una dirección https:// o http:// completa.",
    ),
    (
        lambda: config_detail("service.social_networks.instagram", "https://example.com/x"),
        "Debe ser un enlace de instagram (instagram.com, instagr.am).",
    ),
    (
        lambda: config_detail("service.social_networks.enabled", True),
        "Las redes sociales activadas necesitan al menos un enlace.",
    ),
    (
        lambda: config_detail(MONDAY, [{"start": "9", "end": "18:00"}]),
        "Escriba la hora de apertura como HH:MM, de 00:00 a 23:59.",
    ),
    (
        lambda: config_detail(MONDAY, [{"start": "09:00", "end": "25:00"}]),
        "Escriba la hora de cierre como HH:MM, de 00:01 a 24:00.",
    ),
    (
        lambda: config_detail(MONDAY, [{"start": "19:00", "end": "18:00"}]),
        "La hora de cierre debe ser posterior a la de apertura.",
    ),
    (
        lambda: config_detail(
            MONDAY, [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]
        ),
        "Se superpone con el intervalo 09:00-12:00.",
    ),
    (
        lambda: config_detail("hours.holidays", [{"date": "Navidad"}]),
        "Escriba un feriado como «DD/MM - Nombre», p. ej. «25/12 - Navidad».",
    ),
    (
        lambda: config_detail("hours.holidays", [{"date": "31/02 - X"}]),
        "31/02 no es un día del año.",
    ),
    (
        lambda: config_detail("hours.holidays", [{"date": "25/12 - X", "start": "09:00"}]),
        "Indique la hora de apertura y la de cierre, o ninguna.",
    ),
    (
        lambda: config_detail("hours.holidays", [{"date": "25/12 - X"}, {"date": "25/12 - Y"}]),
        "Otro feriado tiene la misma fecha.",
    ),
    (
        lambda: config_detail("skills", [{**SKILL, "kind": "http"}]),
        "Una skill de tipo http necesita su url.",
    ),
    (
        lambda: config_detail("skills", [{**SKILL, "kind": "declarative", "path": "x.txt"}]),
        "Un archivo de flujo termina en .yaml, .yml o .json.",
    ),
    (
        lambda: config_detail("skills", [{**SKILL, "kind": "http", "url": "nope"}]),
        "Debe ser una dirección http:// o https:// completa.",
    ),
    (
        lambda: config_detail("skills", [{**SKILL, "kind": "python", "target": "nope"}]),
        "Debe tener la forma módulo.ruta:NombreDeClase.",
    ),
    (
        lambda: model_detail(CampaignSpec, CAMPAIGN),
        "Indique un número que envía o una columna de remitentes: uno de los dos.",
    ),
    (
        lambda: model_detail(CampaignSpec, {**CAMPAIGN, "number": "1", "batch_size": 3}),
        "Los envíos por tanda y los minutos entre tandas van juntos.",
    ),
    (lambda: parameter_detail(" "), "Este campo no puede quedar vacío."),
    (lambda: parameter_detail("a" * 1025), "Como máximo 1.024 caracteres."),
    (
        lambda: parameter_detail("a\nb"),
        "Sin saltos de línea, tabulaciones ni más de 4 espacios seguidos (WhatsApp los rechaza).",
    ),
    (lambda: model_detail(VerifyBody, {"code": "123456", "pin": "1"}), "El PIN tiene 6 dígitos."),
    (
        lambda: service_detail(lambda: parse_date("from", "yesterday")),
        "Debe ser una fecha AAAA-MM-DD, no 'yesterday'.",
    ),
    (
        lambda: service_detail(lambda: parse_date("from", "2026-02-31")),
        "'2026-02-31' no es una fecha del calendario.",
    ),
    (
        lambda: service_detail(lambda: parse_numbers("abc")),
        "'abc' no es el identificador de un número.",
    ),
    (
        lambda: service_detail(lambda: parse_numbers(",")),
        "Elija al menos un número (o ninguno, para todos).",
    ),
    (
        lambda: csv_detail(b"phone\n\xff\n"),
        "El CSV no está en UTF-8 (byte 6): guárdelo como «CSV UTF-8».",
    ),
    (lambda: csv_detail(""), "El CSV está vacío: necesita una fila de encabezado."),
    (
        lambda: csv_detail("telefono,name\n1,a\n"),
        "Faltan columnas en el CSV: 'phone' (sus columnas: telefono, name).",
    ),
    (
        lambda: csv_detail("phone,name,name\n1,a,b\n", ["name"]),
        "Columnas repetidas en el encabezado del CSV: 'name'. Cambie el nombre de las copias "
        "para que cada columna que lee la campaña aparezca una sola vez.",
    ),
]


@pytest.mark.parametrize(("detail", "expected"), DOMAIN_CASES)
def test_a_domain_error_is_said_in_the_members_language(detail: Any, expected: str) -> None:
    assert field_message("es", detail()) == expected


def test_every_kind_of_the_domain_the_console_says_is_met_by_a_case() -> None:
    met = set()
    for detail, _expected in DOMAIN_CASES:
        d = detail()
        met |= {k for k in DOMAIN if k.type == d["type"] and k.values_of(d["message"]) is not None}
    # the periods: raised by resolve() and the history's route (test_validation_pages)
    left = {k.code for k in DOMAIN} - {k.code for k in met}
    assert left == {"period_order", "period_length"}


def test_the_period_errors_of_the_data_and_history_are_said_too() -> None:
    order = {"field": "from", "message": PERIOD_ORDER.text(start="2026-03-10", end="2026-03-01")}
    assert field_message("pt-BR", {**order, "type": "period"}) == (
        "O início (2026-03-10) é posterior ao fim (2026-03-01)."
    )
    length = {"field": "to", "message": PERIOD_LENGTH.text(days=400), "type": "period"}
    assert field_message("es", length) == "Un período abarca como máximo 400 días."


# ---------------------------------------------------------------------- a campaign's rows
def rejected_rows() -> list[dict[str, Any]]:
    text = "phone,name\n5.49112E+12,Ana\n,Bea\nabc,Caro\n12,Dani\n5491112345601,\n"
    _rows, report = parse_csv(
        text,
        separator=",",
        phone_column="phone",
        columns=["name"],
        sender_column=None,
        sender_of=lambda _cell: None,
        region_of=lambda _sender: "AR",
        default_sender=NUMBER,
    )
    return report.rejected


def test_a_rejected_rows_reason_is_said_in_the_members_language() -> None:
    assert [row_reason("es", r) for r in rejected_rows()] == [
        "'5.49112E+12' está en notación científica (Excel): dé a la columna formato de texto.",
        "Teléfono vacío.",
        "'abc' no es un teléfono.",
        "'12' no es un teléfono posible.",
        "Valor vacío.",
    ]
    sender = {"row": 2, "column": "remitente", "reason": "'1' is not a configured number"}
    assert row_reason("pt-BR", {**sender, "code": "unknown_sender"}) == (
        "'1' não é um número configurado."
    )
    assert row_reason("en", {**sender, "reason": "empty sender", "code": "empty_sender"}) == (
        "Empty sender."
    )


@pytest.mark.parametrize(
    "row",
    [
        {"row": 2, "column": "phone", "reason": "empty phone"},  # stored before rows had codes
        {"row": 2, "column": "phone", "reason": "a reason of later", "code": "later"},
        {"row": 2, "column": "phone", "reason": "other words", "code": "empty_phone"},
    ],
)
def test_a_reason_without_a_known_code_stays_in_english(row: dict[str, Any]) -> None:
    assert row_reason("es", row) == row["reason"]
