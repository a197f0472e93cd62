"""The console's three languages: complete tables, the same placeholders, negotiation."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from flow_engine.console.i18n import negotiate, translator
from flow_engine.console.messages import MESSAGES

TEMPLATES = Path(__file__).resolve().parents[2] / "flow_engine" / "console" / "templates"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_text_exists_in_three_languages_with_the_same_placeholders(key: str) -> None:
    en, es, pt = MESSAGES[key]
    assert en and es and pt
    assert placeholders(en) == placeholders(es) == placeholders(pt)


def test_every_key_the_templates_use_has_texts() -> None:
    used = set()
    for path in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.0-9]+)["']\s*[),]""", path.read_text()))
    assert sorted(used - set(MESSAGES)) == []


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("pt-BR,pt;q=0.9,en;q=0.8", "pt-BR"),
        ("pt", "pt-BR"),
        ("en-GB,en;q=0.9", "en"),
        ("es-AR", "es"),
        ("fr-FR,en;q=0.5", "en"),
        ("fr-FR", "es"),
        ("", "es"),
        (None, "es"),
        ("en;q=0.2,es;q=0.8", "es"),
        ("en;q=0", "es"),
        ("garbage;;q=x", "es"),
    ],
)
def test_the_browsers_language_picks_the_locale(header: str | None, locale: str) -> None:
    assert negotiate(header) == locale


def test_a_text_is_given_in_the_locale_with_its_values() -> None:
    assert translator("pt-BR")("home.hello", name="Ana") == "Olá, Ana"
    assert translator("en")("no.such.key") == "no.such.key"
