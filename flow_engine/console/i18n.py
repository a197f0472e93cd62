"""The console's languages: es, pt-BR and en. A member's own choice (kept in the
directory), else the best match of the browser's ``Accept-Language``, else Spanish (the
language of the product's manual). Texts come from the per-locale tables of
``console/messages.py``; a missing key shows as the key itself, and a test keeps the
three tables complete and their placeholders alike."""

from __future__ import annotations

from collections.abc import Callable

from flow_engine.console.messages import MESSAGES

LOCALES = ("es", "pt-BR", "en")
DEFAULT = "es"
NAMES = {"es": "Español", "pt-BR": "Português (Brasil)", "en": "English"}
_INDEX = {"en": 0, "es": 1, "pt-BR": 2}

Translate = Callable[..., str]


def negotiate(header: str | None) -> str:
    """The best locale for an ``Accept-Language`` header (q-values honoured; ``pt`` and
    ``pt-PT`` get pt-BR, ``en-GB`` gets en)."""
    best, best_q = DEFAULT, 0.0
    for order, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        found = _match(tag)
        # a tie goes to the earlier tag
        if found is not None and q > best_q and q > 0:
            best, best_q = found, q - order * 1e-6
    return best


def _match(tag: str) -> str | None:
    if tag in ("pt-br", "pt") or tag.startswith("pt-"):
        return "pt-BR"
    primary = tag.split("-")[0]
    return primary if primary in ("es", "en") else None


def translator(locale: str) -> Translate:
    index = _INDEX.get(locale, _INDEX[DEFAULT])

    def t(key: str, /, **values: object) -> str:
        texts = MESSAGES.get(key)
        text = texts[index] if texts else key
        return text.format(**values) if values else text

    return t
