from __future__ import annotations

import pytest

from flow_engine.domain import limits
from flow_engine.domain.locales import (
    DEFAULT_MESSAGES,
    LOCALES,
    MESSAGE_KEYS,
    MESSAGE_LIMITS,
    default_message,
)
from flow_engine.domain.templating import placeholders


def test_known_locales() -> None:
    assert set(LOCALES) == {"es", "pt-BR", "en"}
    assert set(DEFAULT_MESSAGES) == set(LOCALES)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_locale_has_every_key_and_nothing_else(locale: str) -> None:
    assert set(DEFAULT_MESSAGES[locale]) == set(MESSAGE_KEYS)
    for key in MESSAGE_KEYS:
        assert default_message(locale, key).strip()


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("key", MESSAGE_KEYS)
def test_defaults_fit_where_they_are_used(locale: str, key: str) -> None:
    assert len(default_message(locale, key)) <= MESSAGE_LIMITS[key]


@pytest.mark.parametrize("locale", LOCALES)
def test_labels_within_whatsapp_limits(locale: str) -> None:
    assert len(default_message(locale, "list_button")) <= limits.LIST_BUTTON_MAX
    assert len(default_message(locale, "service_button")) <= limits.ROW_TITLE_MAX
    assert len(default_message(locale, "unavailable_yes")) <= limits.BUTTON_TITLE_MAX
    assert len(default_message(locale, "unavailable_no")) <= limits.BUTTON_TITLE_MAX
    assert default_message(locale, "unavailable_yes") != default_message(locale, "unavailable_no")


def test_limits_known_for_every_key() -> None:
    assert set(MESSAGE_LIMITS) == set(MESSAGE_KEYS)
    assert MESSAGE_LIMITS["list_button"] == 20
    assert MESSAGE_LIMITS["service_button"] == 24
    assert MESSAGE_LIMITS["queue_message"] == 1024


@pytest.mark.parametrize("locale", LOCALES)
def test_default_queue_name_is_fixed(locale: str) -> None:
    assert default_message(locale, "default_queue") == "Otros asuntos"


def test_spanish_defaults_are_the_manuals() -> None:
    assert default_message("es", "initial_greeting") == (
        "Hola {{contact.name}}, ¡espero que estés bien! 😃"
    )
    assert default_message("es", "queue_message") == (
        "Para dirigir su servicio correctamente, elija una de las siguientes opciones:"
    )
    assert default_message("es", "pre_service") == (
        "*En un tiempo* estaré disponible para hablar contigo. 💬 Mientras tanto, siéntase "
        "libre de avanzar en el tema que le gustaría discutir"
    )
    assert default_message("es", "post_service") == (
        "Gracias por comunicarse. Estoy disponible si necesita ocuparse de más asuntos. "
        "¡Nos vemos luego! 👋"
    )
    assert default_message("es", "unavailable_yes") == "Sí"


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_use_the_same_placeholders(locale: str) -> None:
    for key in MESSAGE_KEYS:
        assert placeholders(default_message(locale, key)) == placeholders(
            default_message("es", key)
        ), key


@pytest.mark.parametrize("locale", ["pt-BR", "en"])
def test_translations_differ_from_spanish(locale: str) -> None:
    same = {k for k in MESSAGE_KEYS if default_message(locale, k) == default_message("es", k)}
    assert same <= {"default_queue", "unavailable_no"}


def test_unknown_locale_or_key() -> None:
    with pytest.raises(KeyError, match="unknown locale 'fr'"):
        default_message("fr", "initial_greeting")
    with pytest.raises(KeyError, match="unknown message key 'nope'"):
        default_message("es", "nope")
