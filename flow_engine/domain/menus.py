"""Menus of the base flow: how they are shown and how an answer picks an option.

Every menu of PRODUCT §1 (the FAQ menu, the queue menu, the Yes/No question of
R-FLOW-6, the CSAT/NPS survey) is a :class:`Menu`. :func:`render` turns it into
WhatsApp interactive messages within the limits of ``spec/WHATSAPP.md``;
:func:`match` reads the contact's answer, which may be a tap on a list row or a
reply button, the option's number typed as text, or its title typed loosely.

Rendered shapes (``n`` options, in menu order):

* ``n ≤ 3`` and every title fits a reply button (≤ 20 characters): one
  :class:`ReplyButtons` (descriptions are not shown).
* ``n ≤ 10`` otherwise: one :class:`InteractiveList` with a single, untitled
  section.
* ``11 ≤ n ≤ 13`` (FAQ: 10 questions and the service option; queues: 10 and
  "Otros asuntos"; NPS: 0–10): an :class:`InteractiveList` with the first ten
  options, then a :class:`ReplyButtons` with the remaining ones, so every option
  stays one tap away. The header and footer go on the list; the buttons' body is
  :attr:`Menu.more_body` (``➕`` when unset). A title longer than a button
  allows is shortened on its button (``"Hablar con un…"``); the option id still
  identifies it and typing the full title still matches.

A :class:`Menu` checks the limits when it is built (at most 13 options, titles
of 1–24 characters, unique ids and titles, …) and raises :class:`ValueError`, so
a menu that exists always renders; configuration validation keeps real menus
within them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from flow_engine.domain.outbound import (
    BUTTON_TITLE_MAX,
    BUTTONS_MAX,
    HEADER_FOOTER_MAX,
    INTERACTIVE_BODY_MAX,
    LIST_BUTTON_MAX,
    LIST_ROWS_MAX,
    ROW_DESCRIPTION_MAX,
    ROW_ID_MAX,
    ROW_TITLE_MAX,
    Button,
    InteractiveList,
    ListRow,
    ListSection,
    OutboundMessage,
    ReplyButtons,
)

__all__ = [
    "MENU_OPTIONS_MAX",
    "MORE_BODY_DEFAULT",
    "Menu",
    "Option",
    "has_numeric_titles",
    "loose",
    "match",
    "numbered_text",
    "render",
    "score_menu",
    "score_of",
    "yes_no_menu",
]

#: Most options a menu may have: a full list plus a full row of reply buttons.
MENU_OPTIONS_MAX = LIST_ROWS_MAX + BUTTONS_MAX
#: Body of the reply-buttons message that follows the list of a long menu.
MORE_BODY_DEFAULT = "➕"
#: Shortest text (after :func:`loose`) that may match a title by containment.
CONTAINS_MIN = 3

YES_WORDS = frozenset({"si", "yes", "sim", "s", "y"})
NO_WORDS = frozenset({"no", "nao", "n"})

_NUMBER = re.compile(r"^(?:(?:opcion|option|opcao|opc|opt|op|numero|number|nro)\s?)?([0-9]{1,3})$")
_SCORE_ID = re.compile(r"^(csat|nps)_([0-9]{1,2})$")
_SCORES: dict[str, range] = {"csat": range(1, 6), "nps": range(11)}


@dataclass(frozen=True)
class Option:
    """One choice of a menu: ``id`` comes back in list/button replies, ``title`` is shown."""

    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class Menu:
    """A question with 1–13 options, shown by :func:`render` and answered via :func:`match`.

    ``button`` labels the button that opens the list (≤ 20 characters);
    ``header``/``footer`` frame the list or buttons message; ``more_body`` is the
    body of the buttons message that carries options 11–13 of a long menu.
    Raises :class:`ValueError` when the menu cannot be rendered within WhatsApp's
    limits.
    """

    body: str
    options: list[Option]
    button: str
    header: str | None = None
    footer: str | None = None
    more_body: str | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", list(self.options))  # the caller's list may change
        problems = _problems(self)
        if problems:
            raise ValueError("invalid menu: " + "; ".join(problems))


def _length(what: str, value: str | None, most: int, *, optional: bool = False) -> list[str]:
    if value is None:
        return [] if optional else [f"{what} is missing"]
    if not 1 <= len(value) <= most:
        return [f"{what} must have 1 to {most} characters, got {len(value)}: {value!r}"]
    return []


def _problems(menu: Menu) -> list[str]:
    out = _length("body", menu.body, INTERACTIVE_BODY_MAX)
    out += _length("button", menu.button, LIST_BUTTON_MAX)
    out += _length("header", menu.header, HEADER_FOOTER_MAX, optional=True)
    out += _length("footer", menu.footer, HEADER_FOOTER_MAX, optional=True)
    out += _length("more_body", menu.more_body, INTERACTIVE_BODY_MAX, optional=True)
    count = len(menu.options)
    if not 1 <= count <= MENU_OPTIONS_MAX:
        out.append(f"a menu has 1 to {MENU_OPTIONS_MAX} options, got {count}")
    for i, option in enumerate(menu.options, start=1):
        out += _length(f"option {i} id", option.id, ROW_ID_MAX)
        out += _length(f"option {i} title", option.title, ROW_TITLE_MAX)
        out += _length(
            f"option {i} description", option.description, ROW_DESCRIPTION_MAX, optional=True
        )
    out += [f"duplicate option id {v!r}" for v in _repeated(o.id for o in menu.options)]
    out += [f"duplicate option title {v!r}" for v in _repeated(o.title for o in menu.options)]
    return out


def _repeated(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


# --------------------------------------------------------------------------- rendering
def render(menu: Menu) -> list[OutboundMessage]:
    """The messages that show ``menu``; see the module docstring for the shapes."""
    options = menu.options
    if len(options) <= BUTTONS_MAX and all(len(o.title) <= BUTTON_TITLE_MAX for o in options):
        return [_buttons(menu.body, options, 1, menu.header, menu.footer)]
    first, rest = options[:LIST_ROWS_MAX], options[LIST_ROWS_MAX:]
    rows = [ListRow(id=o.id, title=o.title, description=o.description) for o in first]
    listed = InteractiveList(
        body=menu.body,
        button=menu.button,
        sections=[ListSection(rows=rows)],
        header=menu.header,
        footer=menu.footer,
    )
    if not rest:
        return [listed]
    more = menu.more_body or MORE_BODY_DEFAULT
    return [listed, _buttons(more, rest, LIST_ROWS_MAX + 1, None, None)]


def _buttons(
    body: str, options: list[Option], first_number: int, header: str | None, footer: str | None
) -> ReplyButtons:
    titles = _button_titles([o.title for o in options], first_number)
    buttons = [Button(id=o.id, title=t) for o, t in zip(options, titles, strict=True)]
    return ReplyButtons(body=body, buttons=buttons, header=header, footer=footer)


def _button_titles(titles: list[str], first_number: int) -> list[str]:
    """Distinct button titles of at most 20 characters for ``titles`` (distinct themselves).

    Titles that fit are kept as they are; longer ones are shortened at a word
    when possible. Should a shortened title clash with another button, it is
    numbered instead (``"11. Hablar con…"``, else ``"#11"``, else ``"(11)"``).
    """
    out: list[str | None] = [t if len(t) <= BUTTON_TITLE_MAX else None for t in titles]
    used = {t for t in out if t is not None}
    for i, title in enumerate(titles):
        if out[i] is not None:
            continue
        number = first_number + i
        prefix = f"{number}. "
        candidates = [
            _shorten(title, BUTTON_TITLE_MAX),
            prefix + _shorten(title, BUTTON_TITLE_MAX - len(prefix)),
            f"#{number}",
            f"({number})",
        ]
        chosen = next(c for c in candidates if c not in used)  # ≤ 2 used, ≥ 3 distinct here
        out[i] = chosen
        used.add(chosen)
    return [t for t in out if t is not None]


def _shorten(text: str, most: int) -> str:
    """``text`` cut to at most ``most`` characters, ending with ``…`` when cut."""
    if len(text) <= most:
        return text
    cut = most - 1
    space = text.rfind(" ", 0, cut + 1)
    if space >= most // 2:
        cut = space
    while cut > 1 and _joins(text[cut - 1], text[cut]):
        cut -= 1  # never split a visible character (accent, emoji sequence)
    return text[:cut].rstrip() + "…"


def _joins(before: str, after: str) -> bool:
    return (
        unicodedata.combining(after) != 0
        or after in ("\u200d", "\ufe0f", "\ufe0e")
        or before == "\u200d"
        or 0x1F3FB <= ord(after) <= 0x1F3FF
    )


def numbered_text(menu: Menu) -> str:
    """``menu`` as plain text: the body, a blank line, then one line per option.

    Lines are ``"1. Title"`` (with ``" — description"`` when there is one), 1-based
    in menu order, which is what :func:`match` reads as typed numbers. A menu of
    numeric titles (see :func:`has_numeric_titles`) lists ``"• Title"`` instead,
    since a typed number there means the title, not the position.
    """
    numeric = has_numeric_titles(menu)
    lines = []
    for i, option in enumerate(menu.options, start=1):
        line = f"• {option.title}" if numeric else f"{i}. {option.title}"
        if option.description:
            line += f" — {option.description}"
        lines.append(line)
    return menu.body + "\n\n" + "\n".join(lines)


# ----------------------------------------------------------------------------- matching
def loose(text: str) -> str:
    """``text`` reduced for loose comparison.

    Compatibility-decomposed (NFKD), accents and other marks dropped, case folded,
    every character that is not a letter or digit (punctuation, symbols, emoji)
    turned into a space, and runs of spaces collapsed: ``"¿Dónde  PAGO? 💳"`` →
    ``"donde pago"``.
    """
    chars: list[str] = []
    for char in unicodedata.normalize("NFKD", text).casefold():
        category = unicodedata.category(char)
        if category.startswith("M"):
            continue
        chars.append(char if category[0] in "LN" else " ")
    return " ".join("".join(chars).split())


def has_numeric_titles(menu: Menu) -> bool:
    """True when every option's :func:`loose` title is a number (NPS ``"0"``…``"10"``,
    CSAT ``"1"``…``"5"``): then a typed number means that title, not a position."""
    return all(_title_number(o) is not None for o in menu.options)


def _simple(text: str) -> str:
    return " ".join(text.split()).casefold()


def _only(candidates: list[Option]) -> Option | None:
    return candidates[0] if len(candidates) == 1 else None


def match(
    menu: Menu,
    message_text: str,
    reply_id: str | None,
    *,
    numeric_titles: bool | None = None,
) -> Option | None:
    """The option of ``menu`` the contact chose, or ``None`` (no option, or ambiguous).

    Tried in order; the first rule that applies decides (several options → ``None``):

    1. ``reply_id`` (a list/button reply) equal to an option id. A reply id of no
       option (a tap on an older menu) falls through to its title in
       ``message_text``.
    2. ``message_text`` equal to a title: exactly, then ignoring case and
       repeated/surrounding whitespace.
    3. A typed number: ``"2"``, ``" 2 "``, ``"2."``, ``"#2"``, ``"opción 2"``,
       ``"option 2"``, ``"opção 2"``, ``"2️⃣"``. It is the 1-based position in
       menu order, except in a menu of numeric titles (``numeric_titles``; by
       default :func:`has_numeric_titles`), where it is the title: in NPS,
       ``"0"`` is score 0 and ``"10"`` score 10.
    4. For the options with ids ``yes``/``no``: ``sí/si/yes/sim/s/y`` and
       ``no/não/nao/n``.
    5. The title typed loosely (:func:`loose`: case, accents, punctuation, emoji
       and whitespace ignored): loose-equal titles.
    6. Containment: the loose text (≥ 3 characters) inside a loose title, or a
       loose title (≥ 3 characters) inside the text as whole words
       (``"quiero ventas por favor"`` → ``Ventas``).
    """
    if reply_id is not None:
        chosen = next((o for o in menu.options if o.id == reply_id), None)
        if chosen is not None:
            return chosen
    exact = [o for o in menu.options if o.title == message_text]
    if exact:
        return _only(exact)
    text = _simple(message_text)
    if not text:
        return None
    rules: list[Callable[[Menu, str], list[Option]]] = [
        lambda m, t: [o for o in m.options if _simple(o.title) == t],
        lambda m, t: _by_number(m, loose(t), numeric_titles),
        lambda m, t: _by_yes_no(m, loose(t)),
        lambda m, t: _by_loose_title(m, loose(t)),
        lambda m, t: _by_containment(m, loose(t)),
    ]
    for rule in rules:
        found = rule(menu, text)
        if found:
            return _only(found)
    return None


def _by_number(menu: Menu, text: str, numeric_titles: bool | None) -> list[Option]:
    found = _NUMBER.match(text)
    if found is None:
        return []
    number = int(found.group(1))
    numeric = has_numeric_titles(menu) if numeric_titles is None else numeric_titles
    if numeric:
        return [o for o in menu.options if _title_number(o) == number]
    return [menu.options[number - 1]] if 1 <= number <= len(menu.options) else []


def _title_number(option: Option) -> int | None:
    title = loose(option.title)
    return int(title) if title.isdecimal() else None


def _by_yes_no(menu: Menu, text: str) -> list[Option]:
    wanted = "yes" if text in YES_WORDS else "no" if text in NO_WORDS else None
    return [o for o in menu.options if o.id == wanted]


def _by_loose_title(menu: Menu, text: str) -> list[Option]:
    return [o for o in menu.options if text and loose(o.title) == text]


def _by_containment(menu: Menu, text: str) -> list[Option]:
    found = []
    for option in menu.options:
        title = loose(option.title)
        if not title:
            continue
        inside_title = len(text) >= CONTAINS_MIN and text in title
        title_inside = len(title) >= CONTAINS_MIN and f" {title} " in f" {text} "
        if inside_title or title_inside:
            found.append(option)
    return found


# ------------------------------------------------------------------------ ready menus
def yes_no_menu(body: str, yes: str, no: str) -> Menu:
    """The Yes/No question of R-FLOW-6: two reply buttons with ids ``yes`` and ``no``.

    Besides the buttons and the titles, :func:`match` accepts typed
    ``sí/si/yes/sim/s/y`` and ``no/não/nao/n`` (any case or accents), and ``1``/``2``.
    """
    button = _shorten(f"{yes} / {no}", LIST_BUTTON_MAX)  # only shown if a title is too long
    return Menu(body=body, options=[Option("yes", yes), Option("no", no)], button=button)


def score_menu(
    kind: Literal["csat", "nps"], body: str, button: str, *, more_body: str | None = None
) -> Menu:
    """The survey of R-FLOW-11, scores in ascending order.

    CSAT: ids ``csat_1``…``csat_5``, titles ``"1"``…``"5"`` with ``⭐`` × score as
    row description (a five-row list). NPS: ids ``nps_0``…``nps_10``, titles
    ``"0"``…``"10"``: a list of 0–9 followed by a reply button ``"10"`` (whose body is
    ``more_body``). Titles are numeric, so a typed number is the score.
    """
    if kind == "csat":
        options = [Option(f"csat_{n}", str(n), "⭐" * n) for n in _SCORES[kind]]
    elif kind == "nps":
        options = [Option(f"nps_{n}", str(n)) for n in _SCORES[kind]]
    else:
        raise ValueError(f"unknown survey kind {kind!r}")
    return Menu(body=body, options=options, button=button, more_body=more_body)


def score_of(option: Option) -> int:
    """The score of an option of :func:`score_menu` (``nps_7`` → 7).

    Raises :class:`ValueError` for any other option.
    """
    found = _SCORE_ID.match(option.id)
    if found is None or int(found.group(2)) not in _SCORES[found.group(1)]:
        raise ValueError(f"{option.id!r} is not a survey score option")
    return int(found.group(2))
