from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flow_engine.domain import menus
from flow_engine.domain.locales import default_message
from flow_engine.domain.menus import (
    MORE_BODY_DEFAULT,
    Menu,
    Option,
    has_numeric_titles,
    loose,
    match,
    numbered_text,
    render,
    score_menu,
    score_of,
    yes_no_menu,
)
from flow_engine.domain.outbound import (
    BUTTON_TITLE_MAX,
    OUTBOUND_ADAPTER,
    InteractiveList,
    OutboundMessage,
    ReplyButtons,
    to_cloud_payload,
)


def a_menu(n: int, *, title: str = "Opción {i}", **kwargs: str | None) -> Menu:
    options = [Option(f"o{i}", title.format(i=i)) for i in range(1, n + 1)]
    return Menu(body="Elija una opción", options=options, button="Ver opciones", **kwargs)


def choices(messages: list[OutboundMessage]) -> list[tuple[str, str]]:
    """(id, shown title) of every row and button, in the order the contact sees them."""
    out: list[tuple[str, str]] = []
    for message in messages:
        if isinstance(message, InteractiveList):
            out += [(r.id, r.title) for s in message.sections for r in s.rows]
        elif isinstance(message, ReplyButtons):
            out += [(b.id, b.title) for b in message.buttons]
    return out


def check_sendable(menu: Menu, messages: list[OutboundMessage]) -> None:
    """Every message re-validates through the outbound models and reaches every option once."""
    for message in messages:
        again = OUTBOUND_ADAPTER.validate_python(message.model_dump())
        assert again == message
        to_cloud_payload(message, "5511999999999")
    assert [i for i, _t in choices(messages)] == [o.id for o in menu.options]


def shape(messages: list[OutboundMessage]) -> list[tuple[str, int]]:
    return [(m.type, len(choices([m]))) for m in messages]


# ------------------------------------------------------------------------------ render
@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, [("buttons", 1)]),
        (3, [("buttons", 3)]),
        (4, [("list", 4)]),
        (10, [("list", 10)]),
        (11, [("list", 10), ("buttons", 1)]),
        (13, [("list", 10), ("buttons", 3)]),
    ],
)
def test_render_shapes(count: int, expected: list[tuple[str, int]]) -> None:
    menu = a_menu(count)
    messages = render(menu)
    assert shape(messages) == expected
    check_sendable(menu, messages)


def test_a_list_has_one_untitled_section_with_the_menu_frame() -> None:
    menu = a_menu(5, header="Ayuda", footer="Horario 9-18")
    [message] = render(menu)
    assert isinstance(message, InteractiveList)
    assert len(message.sections) == 1 and message.sections[0].title is None
    assert (message.body, message.button) == ("Elija una opción", "Ver opciones")
    assert (message.header, message.footer) == ("Ayuda", "Horario 9-18")


def test_buttons_keep_the_menu_frame() -> None:
    [message] = render(a_menu(2, header="Ayuda", footer="Gracias"))
    assert isinstance(message, ReplyButtons)
    assert (message.body, message.header, message.footer) == (
        "Elija una opción",
        "Ayuda",
        "Gracias",
    )


def test_three_options_with_a_title_too_long_for_a_button_make_a_list() -> None:
    options = [Option("a", "Sí"), Option("b", "No"), Option("c", "x" * (BUTTON_TITLE_MAX + 1))]
    menu = Menu(body="¿?", options=options, button="Ver")
    assert shape(render(menu)) == [("list", 3)]


def test_row_descriptions_are_kept() -> None:
    options = [Option(f"o{i}", f"T{i}", "d" * 72) for i in range(4)]
    [message] = render(Menu(body="b", options=options, button="Ver"))
    assert isinstance(message, InteractiveList)
    assert [r.description for r in message.sections[0].rows] == ["d" * 72] * 4


def test_a_long_menu_continues_with_buttons_after_the_list() -> None:
    menu = a_menu(12, header="Ayuda", footer="pie")
    listed, more = render(menu)
    assert isinstance(listed, InteractiveList) and isinstance(more, ReplyButtons)
    assert (listed.header, listed.footer) == ("Ayuda", "pie")
    assert more.body == MORE_BODY_DEFAULT
    assert (more.header, more.footer) == (None, None)
    assert [b.title for b in more.buttons] == ["Opción 11", "Opción 12"]
    more = render(a_menu(11, more_body="Más opciones:"))[1]
    assert isinstance(more, ReplyButtons) and more.body == "Más opciones:"


def test_faq_with_ten_questions_keeps_the_service_option_one_tap_away() -> None:
    service = default_message("es", "service_button")  # "Hablar con un asistente", 23 chars
    options = [Option(f"faq_{i}", f"Pregunta número {i}") for i in range(10)]
    menu = Menu(body="FAQ", options=[*options, Option("faq_service", service)], button="Ver")
    messages = render(menu)
    check_sendable(menu, messages)
    assert choices(messages)[-1] == ("faq_service", "Hablar con un…")
    assert match(menu, "Hablar con un…", "faq_service") is menu.options[-1]
    assert match(menu, "hablar con un asistente", None) is menu.options[-1]
    assert match(menu, "11", None) is menu.options[-1]


def test_shortened_button_titles_stay_distinct() -> None:
    extra = [Option(f"x{i}", f"Hablar con asistente {i}") for i in range(3)]
    menu = Menu(body="b", options=[*a_menu(10).options, *extra], button="Ver")
    messages = render(menu)
    check_sendable(menu, messages)
    titles = [t for _i, t in choices(messages)[10:]]
    assert titles == ["Hablar con…", "12. Hablar con…", "13. Hablar con…"]


def test_a_shortened_title_never_clashes_with_a_kept_one() -> None:
    extra = [Option("x", "Hablar con un…"), Option("y", "Hablar con un asistente")]
    menu = Menu(body="b", options=[*a_menu(10).options, *extra], button="Ver")
    messages = render(menu)
    check_sendable(menu, messages)
    assert [t for _i, t in choices(messages)[10:]] == ["Hablar con un…", "12. Hablar con un…"]


def test_shortening_never_splits_an_accent() -> None:
    title = "e\u0301" * 12  # "éééééééééééé" decomposed: 24 code points
    menu = Menu(body="b", options=[*a_menu(10).options, Option("x", title)], button="Ver")
    assert choices(render(menu))[-1] == ("x", "e\u0301" * 9 + "…")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"options": []}, "1 to 13 options"),
        ({"options": [Option(f"o{i}", f"t{i}") for i in range(14)]}, "1 to 13 options"),
        ({"options": [Option("a", "x" * 25)]}, "option 1 title"),
        ({"options": [Option("a", "")]}, "option 1 title"),
        ({"options": [Option("a", "t", "d" * 73)]}, "option 1 description"),
        ({"options": [Option("", "t")]}, "option 1 id"),
        ({"options": [Option("i" * 201, "t")]}, "option 1 id"),
        ({"options": [Option("a", "t"), Option("a", "u")]}, "duplicate option id 'a'"),
        ({"options": [Option("a", "t"), Option("b", "t")]}, "duplicate option title 't'"),
        ({"button": "b" * 21}, "button"),
        ({"body": ""}, "body"),
        ({"body": "b" * 1025}, "body"),
        ({"header": "h" * 61}, "header"),
        ({"footer": ""}, "footer"),
        ({"more_body": ""}, "more_body"),
    ],
)
def test_a_menu_out_of_limits_is_refused(changes: dict[str, object], problem: str) -> None:
    fields: dict[str, object] = {"body": "b", "options": [Option("a", "t")], "button": "Ver"}
    with pytest.raises(ValueError, match=problem):
        Menu(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_menu_keeps_its_own_copy_of_the_options() -> None:
    options = [Option("a", "A"), Option("b", "B")]
    menu = Menu(body="b", options=options, button="Ver")
    options.append(Option("c", "C"))
    assert len(menu.options) == 2


def test_numbered_text() -> None:
    menu = Menu(
        body="Elija:",
        options=[Option("a", "Ventas", "Compras"), Option("b", "Soporte")],
        button="Ver",
    )
    assert numbered_text(menu) == "Elija:\n\n1. Ventas — Compras\n2. Soporte"
    nps = numbered_text(score_menu("nps", "Nota:", "Ver"))
    assert nps.splitlines()[2:4] == ["• 0", "• 1"] and nps.endswith("• 10")


# ------------------------------------------------------------------------------- match
FAQ = Menu(
    body="Preguntas",
    options=[
        Option("faq_0", "Formas de pago"),
        Option("faq_1", "Horario de atención"),
        Option("faq_2", "Envíos"),
        Option("faq_3", "Ventas"),
        Option("faq_4", "Preventa de equipos"),
    ],
    button="Ver opciones",
)


def chosen(menu: Menu, text: str, reply_id: str | None = None) -> str | None:
    option = match(menu, text, reply_id)
    return None if option is None else option.id


def test_match_by_reply_id() -> None:
    assert chosen(FAQ, "Envíos", "faq_2") == "faq_2"
    assert chosen(FAQ, "whatever the title says", "faq_4") == "faq_4"


def test_an_unknown_reply_id_falls_back_to_the_title() -> None:
    assert chosen(FAQ, "Envíos", "old_menu_7") == "faq_2"
    assert chosen(FAQ, "Otra cosa", "old_menu_7") is None


@pytest.mark.parametrize(
    "text", ["2", " 2 ", "2.", "2)", "#2", "02", "opción 2", "Opcion 2", "option 2", "opção 2"]
)
def test_match_by_number(text: str) -> None:
    assert chosen(FAQ, text, None) == "faq_1"


def test_match_by_keycap_number() -> None:
    assert chosen(FAQ, "3\ufe0f\u20e3", None) == "faq_2"


@pytest.mark.parametrize("text", ["0", "6", "99", "opción", "2 3", "1000"])
def test_a_number_outside_the_menu_matches_nothing(text: str) -> None:
    assert chosen(FAQ, text, None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Formas de pago", "faq_0"),
        ("formas de PAGO", "faq_0"),
        ("  ¿Formas   de pagó?? 💳 ", "faq_0"),
        ("horario de atencion", "faq_1"),
        ("ENVIOS!", "faq_2"),
        ("pago", "faq_0"),  # inside one title
        ("horario", "faq_1"),
        ("quiero ventas por favor", "faq_3"),  # a whole title inside the text
        ("preventa", "faq_4"),
        ("equipos", "faq_4"),
    ],
)
def test_match_by_loose_title(text: str, expected: str) -> None:
    assert chosen(FAQ, text, None) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "de",  # too short to match inside a title
        "ent",  # Ventas, Preventa: ambiguous
        "hola",
        "preventas",  # not the word "ventas"
        "💳",
    ],
)
def test_match_nothing_or_ambiguous(text: str) -> None:
    assert chosen(FAQ, text, None) is None


def test_an_exact_loose_title_beats_containment() -> None:
    menu = Menu(
        body="b", options=[Option("a", "Pago"), Option("b", "Pago con tarjeta")], button="Ver"
    )
    assert chosen(menu, "pago", None) == "a"
    assert chosen(menu, "tarjeta", None) == "b"


def test_titles_equal_when_loose_are_ambiguous_unless_typed_exactly() -> None:
    menu = Menu(body="b", options=[Option("a", "Pago"), Option("b", "pago!")], button="Ver")
    assert chosen(menu, "Pago", None) == "a"
    assert chosen(menu, "pago!", None) == "b"
    assert chosen(menu, "PAGO", None) == "a"  # only case differs
    assert chosen(menu, "pagó ?", None) is None  # loose: both


def test_a_title_typed_exactly_wins_over_a_position() -> None:
    menu = Menu(body="b", options=[Option("a", "Planes"), Option("b", "1")], button="Ver")
    assert not has_numeric_titles(menu)
    assert chosen(menu, "1", None) == "b"
    assert chosen(menu, "2", None) == "b"
    assert chosen(menu, "opción 1", None) == "a"


# ----------------------------------------------------------------------------- yes/no
YES_NO = yes_no_menu("¿Le avisamos?", "Sí", "No")


def test_yes_no_menu_is_two_buttons() -> None:
    [message] = render(YES_NO)
    assert isinstance(message, ReplyButtons)
    assert [(b.id, b.title) for b in message.buttons] == [("yes", "Sí"), ("no", "No")]
    assert [o.id for o in YES_NO.options] == ["yes", "no"]


@pytest.mark.parametrize(
    "text", ["sí", "Sí", "SI", "si", "yes", "Yes!", "sim", "SIM", "s", "y", "1", "👍 Sí"]
)
def test_yes_words(text: str) -> None:
    assert chosen(YES_NO, text, None) == "yes"


@pytest.mark.parametrize("text", ["no", "NO", "não", "Nao", "nao", "n", "N.", "2"])
def test_no_words(text: str) -> None:
    assert chosen(YES_NO, text, None) == "no"


@pytest.mark.parametrize("text", ["no sé", "tal vez", "sino", "nope", "3"])
def test_neither_yes_nor_no(text: str) -> None:
    assert chosen(YES_NO, text, None) is None


def test_yes_no_words_work_with_other_locale_titles() -> None:
    menu = yes_no_menu("?", "Sim", "Não")
    assert (chosen(menu, "si", None), chosen(menu, "no", None)) == ("yes", "no")
    assert chosen(menu, "", "no") == "no"


def test_yes_no_words_only_apply_to_yes_no_options() -> None:
    assert chosen(FAQ, "si", None) is None
    assert chosen(FAQ, "no", None) is None


# ----------------------------------------------------------------------------- surveys
def test_csat_menu() -> None:
    menu = score_menu("csat", default_message("es", "survey_csat"), "Ver opciones")
    assert [o.id for o in menu.options] == [f"csat_{n}" for n in range(1, 6)]
    assert [o.title for o in menu.options] == ["1", "2", "3", "4", "5"]
    assert menu.options[4].description == "⭐⭐⭐⭐⭐"
    messages = render(menu)
    assert shape(messages) == [("list", 5)]
    check_sendable(menu, messages)
    assert [score_of(o) for o in menu.options] == [1, 2, 3, 4, 5]
    assert chosen(menu, "5", None) == "csat_5"
    assert chosen(menu, "nota 5", None) is None
    assert chosen(menu, "opción 5", None) == "csat_5"
    assert chosen(menu, "", "csat_3") == "csat_3"
    for text in ("mmm", "no sé", "0", "6", "excelente"):
        assert chosen(menu, text, None) is None


def test_nps_menu_reaches_every_score() -> None:
    menu = score_menu("nps", default_message("es", "survey_nps"), "Ver opciones")
    assert [o.title for o in menu.options] == [str(n) for n in range(11)]
    assert has_numeric_titles(menu)
    messages = render(menu)
    assert shape(messages) == [("list", 10), ("buttons", 1)]
    check_sendable(menu, messages)
    assert choices(messages)[-1] == ("nps_10", "10")
    assert [score_of(o) for o in menu.options] == list(range(11))


@pytest.mark.parametrize(
    ("text", "score"),
    [("0", 0), ("10", 10), ("1", 1), (" 7 ", 7), ("9.", 9), ("opción 10", 10), ("🔟", None)],
)
def test_nps_typed_numbers_are_scores_not_positions(text: str, score: int | None) -> None:
    menu = score_menu("nps", "¿Nota?", "Ver opciones")
    option = match(menu, text, None)
    assert (None if option is None else score_of(option)) == score


def test_nps_rejects_what_is_not_a_score() -> None:
    menu = score_menu("nps", "¿Nota?", "Ver opciones")
    for text in ("11", "excelente", "100", "", "10/10"):
        assert match(menu, text, None) is None, text


def test_numeric_titles_can_be_forced_either_way() -> None:
    nps = score_menu("nps", "¿Nota?", "Ver")
    assert chosen(nps, "opción 1", None) == "nps_1"
    option = match(nps, "opción 1", None, numeric_titles=False)
    assert option is not None and option.id == "nps_0"  # the first position
    years = Menu(body="b", options=[Option("a", "2024"), Option("b", "Antes")], button="Ver")
    assert chosen(years, "1", None) == "a"
    assert match(years, "1", None, numeric_titles=True) is None


def test_score_menu_passes_more_body() -> None:
    more = render(score_menu("nps", "¿Nota?", "Ver", more_body="o bien:"))[1]
    assert isinstance(more, ReplyButtons) and more.body == "o bien:"


def test_score_of_other_options_fails() -> None:
    for option_id in ("yes", "csat_0", "csat_6", "nps_11", "nps_", "nps_x", "faq_1"):
        with pytest.raises(ValueError, match="not a survey score"):
            score_of(Option(option_id, "1"))


def test_score_menu_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown survey kind"):
        score_menu("stars", "b", "Ver")  # type: ignore[arg-type]


def test_loose() -> None:
    assert loose("¿Dónde  PAGO? 💳") == "donde pago"
    assert loose("Opção ２") == "opcao 2"
    assert loose("Straße") == "strasse"
    assert loose("🙂!!") == ""


# -------------------------------------------------------------------------- properties
_any_title = st.text(min_size=1, max_size=24)
_word_title = st.text(alphabet="abcdeiouñçáéíóúãõABCDÉÍ ", min_size=1, max_size=24).filter(
    lambda t: loose(t) != ""
)


@st.composite
def any_menu(draw: st.DrawFn, titles: st.SearchStrategy[str] = _any_title) -> Menu:
    names = draw(st.lists(titles, min_size=1, max_size=menus.MENU_OPTIONS_MAX, unique=True))
    size = len(names)
    ids = draw(
        st.lists(st.text(min_size=1, max_size=40), min_size=size, max_size=size, unique=True)
    )
    descriptions = draw(
        st.lists(st.none() | st.text(min_size=1, max_size=72), min_size=size, max_size=size)
    )
    options = [Option(i, t, d) for i, t, d in zip(ids, names, descriptions, strict=True)]
    return Menu(body=draw(st.text(min_size=1, max_size=50)), options=options, button="Ver")


@st.composite
def word_menu(draw: st.DrawFn) -> Menu:
    """Titles of letters (some accented) and spaces, distinct even when typed loosely."""
    names = draw(
        st.lists(_word_title, min_size=1, max_size=menus.MENU_OPTIONS_MAX, unique_by=loose)
    )
    options = [Option(f"o{i}", t) for i, t in enumerate(names)]
    return Menu(body="b", options=options, button="Ver")


def _simple(text: str) -> str:
    return " ".join(text.split()).casefold()


@settings(max_examples=300)
@given(any_menu())
def test_every_menu_renders_within_limits_and_reaches_every_option(menu: Menu) -> None:
    messages = render(menu)
    check_sendable(menu, messages)
    count = len(menu.options)
    if count <= 3 and all(len(o.title) <= BUTTON_TITLE_MAX for o in menu.options):
        assert shape(messages) == [("buttons", count)]
    elif count <= 10:
        assert shape(messages) == [("list", count)]
    else:
        assert shape(messages) == [("list", 10), ("buttons", count - 10)]
    assert numbered_text(menu).startswith(menu.body)


@settings(max_examples=300)
@given(any_menu())
def test_every_option_is_matched_by_its_id_title_and_number(menu: Menu) -> None:
    numeric = has_numeric_titles(menu)
    for position, option in enumerate(menu.options, start=1):
        assert match(menu, "", option.id) is option
        assert match(menu, "anything", option.id) is option
        assert match(menu, option.title, None) is option
        typed = str(position)
        # a title typed exactly wins over a position (documented precedence)
        if not numeric and not any(_simple(o.title) == typed for o in menu.options):
            assert match(menu, typed, None) is option
            assert match(menu, f" opción {typed}. ", None) is option


@settings(max_examples=200)
@given(word_menu())
def test_every_option_is_matched_by_its_title_typed_loosely(menu: Menu) -> None:
    for option in menu.options:
        assert match(menu, f"  {option.title.upper()} !! ", None) is option
        assert match(menu, loose(option.title), None) is option  # no accents, lower case


@settings(max_examples=100)
@given(st.sampled_from(["csat", "nps"]))
def test_every_score_is_matched_by_its_number(kind: str) -> None:
    menu = score_menu(kind, "¿Nota?", "Ver")  # type: ignore[arg-type]
    for option in menu.options:
        found = match(menu, str(score_of(option)), None)
        assert found is option


@given(any_menu(), st.text(max_size=40), st.none() | st.text(max_size=10))
def test_match_never_fails(menu: Menu, text: str, reply_id: str | None) -> None:
    option = match(menu, text, reply_id)
    assert option is None or option in menu.options
