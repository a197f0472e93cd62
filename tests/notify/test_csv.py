"""The CSV rules of a campaign (R-NOTIFY-2/3): every separator, BOM, quotes, CRLF, Excel's
scientific notation, impossible and empty phones, duplicates, 100,000 rows."""

from __future__ import annotations

import pytest

from flow_engine.domain.campaigns import CsvError, parse_csv

NUMBER = "100000000000001"


def parse(data: bytes | str, sep: str = ",", columns: list[str] | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return parse_csv(
        data,
        separator=sep,
        phone_column=str(kw.get("phone_column", "phone")),
        columns=columns or [],
        sender_column=kw.get("sender_column"),  # type: ignore[arg-type]
        sender_of=lambda cell: {"15550000001": NUMBER, NUMBER: NUMBER}.get(cell),
        region_of=lambda _s: "AR",
        default_sender=None if kw.get("sender_column") else NUMBER,
    )


@pytest.mark.parametrize("sep", [",", ";", "|"])
def test_every_separator_with_bom_quotes_and_crlf(sep: str) -> None:
    text = (
        f"\ufeffphone{sep}name\r\n"
        f'"+54 9 11 1234-5601"{sep}"Ana {sep} la primera"\r\n'
        f'5491112345602{sep}"Bruno ""el segundo"""\r\n'
        f'"011 15 1234-5603"{sep}"Carla\r\nen dos líneas"\r\n'
    )
    rows, report = parse(text.encode("utf-8"), sep, ["name"])
    assert [r.phone for r in rows] == ["5491112345601", "5491112345602", "5491112345603"]
    assert [r.values for r in rows] == [
        (f"Ana {sep} la primera",),
        ('Bruno "el segundo"',),
        ("Carla\r\nen dos líneas",),
    ]
    assert report.rows == 3 and report.accepted == 3 and report.rejected == []


def test_rejected_rows_name_their_row_column_and_reason_duplicates_count() -> None:
    text = (
        "phone;name\n"
        "+5491112345601;Ana\n"  # row 2
        "5.49112E+12;Excel\n"  # row 3: scientific notation
        ";Nadie\n"  # row 4: empty phone
        "12;Corto\n"  # row 5: impossible
        "+54 9 11 1234-5601;Ana otra vez\n"  # row 6: duplicate of row 2
        "5491112345607;\n"  # row 7: empty value of a named column
        "\n"  # a blank line is not a row
    )
    rows, report = parse(text, ";", ["name"])
    assert [r.row for r in rows] == [2]
    assert report.duplicates == 1 and report.accepted == 1 and report.rows == 6
    assert [(r["row"], r["column"]) for r in report.rejected] == [
        (3, "phone"),
        (4, "phone"),
        (5, "phone"),
        (7, "name"),
    ]
    reasons = [r["reason"] for r in report.rejected]
    assert "scientific notation" in reasons[0] and reasons[1] == "empty phone"
    assert "not a possible phone number" in reasons[2] and reasons[3] == "empty value"


def test_each_rejected_row_has_the_code_of_its_reason() -> None:
    """A face words the reason by its code (the console, in the member's language)."""
    text = "remitente,phone,name\n" + "\n".join(
        [
            "15550000001,5.49112E+12,Ana",
            "15550000001,,Ana",
            "15550000001,abc,Ana",
            "15550000001,12,Ana",
            "19999999999,5491112345601,Ana",
            ",5491112345601,Ana",
            "15550000001,5491112345601,",
        ]
    )
    _rows, report = parse(text, columns=["name"], sender_column="remitente")
    assert [(r["code"], r["reason"]) for r in report.rejected] == [
        (
            "scientific_notation",
            "'5.49112E+12' is in scientific notation (Excel): format the column as text",
        ),
        ("empty_phone", "empty phone"),
        ("not_a_phone", "'abc' is not a phone number"),
        ("impossible_phone", "'12' is not a possible phone number"),
        ("unknown_sender", "'19999999999' is not a configured number"),
        ("empty_sender", "empty sender"),
        ("empty_value", "empty value"),
    ]


def test_a_missing_column_refuses_the_file() -> None:
    with pytest.raises(CsvError) as exc:
        parse("telefono,name\n5491112345601,Ana\n")
    assert exc.value.field == "phone_column" and "'phone'" in str(exc.value)
    with pytest.raises(CsvError):
        parse("phone\n5491112345601\n", columns=["descuento"])
    with pytest.raises(CsvError):
        parse(b"\xff\xfephone\n")  # not UTF-8
    with pytest.raises(CsvError):
        parse("")
    with pytest.raises(CsvError) as exc:  # every column it lacks, by the field naming it
        parse("telefono,name\n5491112345601,Ana\n", columns=["descuento"])
    assert [f for f, _m in exc.value.problems] == ["phone_column", "columns"]
    assert "'phone'" in exc.value.problems[0][1] and "'descuento'" in exc.value.problems[1][1]


def test_the_words_of_a_refused_file_are_the_apis() -> None:
    # the API's English words; the console says them by their kind (console/validation.py)
    words = []
    for data, columns in [
        (b"phone\n\xff\n", []),
        ("", []),
        ("telefono,name\n1,a\n", ["descuento"]),
        ("phone,name,name\n1,a,b\n", ["name"]),
    ]:
        with pytest.raises(CsvError) as exc:
            parse(data, columns=columns)
        words += [m for _f, m in exc.value.problems]
    assert words == [
        "the CSV is not UTF-8 (byte 6)",
        "the CSV is empty: it needs a header row",
        "the CSV has no column 'phone' (columns: telefono, name)",
        "the CSV has no column 'descuento' (columns: telefono, name)",
        "the CSV header has column 'name' more than once: rename the copies so each column "
        "the campaign reads is one",
    ]


def test_a_column_read_twice_refuses_the_file_and_unused_columns_are_reported() -> None:
    with pytest.raises(CsvError) as exc:
        parse("phone,name,name\n5491112345601,Ana,Bea\n", columns=["name"])
    assert exc.value.field == "columns" and "'name'" in str(exc.value)
    with pytest.raises(CsvError) as exc:
        parse("phone,phone\n5491112345601,5491112345602\n")
    assert exc.value.field == "phone_column"

    rows, report = parse("phone,nmae,notes,notes,\n5491112345601,Ana,x,y,\n")  # a trailing ,
    assert [r.phone for r in rows] == ["5491112345601"]
    assert report.unused_columns == ["nmae", "notes"]
    assert report.as_dict()["unused_columns"] == ["nmae", "notes"]


def test_sender_column_unknown_sender_rejects_the_row() -> None:
    text = (
        "remitente,phone\n15550000001,5491112345601\n19999999999,5491112345602\n,5491112345603\n"
    )
    rows, report = parse(text, sender_column="remitente")
    assert [(r.sender, r.phone) for r in rows] == [(NUMBER, "5491112345601")]
    assert [(r["row"], r["column"]) for r in report.rejected] == [
        (3, "remitente"),
        (4, "remitente"),
    ]


def test_100000_rows() -> None:
    lines = ["phone,name,code"] + [f"+54911{i:08d},n{i},c{i}" for i in range(100_000)]
    lines.append("+5491100000007,dup,dup")  # one duplicate at the very end
    rows, report = parse("\n".join(lines) + "\n", ",", ["name", "code"])
    assert report.rows == 100_001 and report.accepted == 100_000 and report.duplicates == 1
    assert rows[99_999].phone == "5491100099999" and rows[99_999].values == ("n99999", "c99999")
