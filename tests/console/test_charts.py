"""The charts: pygal's SVG with nothing the CSP forbids, every label escaped, and pygal's
import hook gone (it would turn any missed optional import into an ImportWarning)."""

from __future__ import annotations

import sys
from xml.etree import ElementTree

from flow_engine.console.charts import charts_css, series_chart
from flow_engine.console.figures import Figures


def test_a_chart_is_svg_without_script_style_or_raw_labels() -> None:
    svg = str(
        series_chart(
            "<b>título</b>",
            ["2026-01-01", "<script>alert(1)</script>"],
            [("plantilla <i>x</i>", [1, None]), ("otra", [2, 3])],
            kind="line",
        )
    )
    root = ElementTree.fromstring(svg)  # well-formed XML
    tags = {el.tag.rsplit("}", 1)[-1] for el in root.iter() if isinstance(el.tag, str)}
    assert "script" not in tags and "style" not in tags
    assert all("style" not in el.attrib for el in root.iter())
    assert "<script>" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "<i>" not in svg and "plantilla &lt;i&gt;x&lt;/i&gt;" in svg
    assert root.get("role") == "img" and "fe-chart" in (root.get("class") or "")


def test_the_stylesheet_is_scoped_to_every_console_chart() -> None:
    css = charts_css()
    assert css.startswith("svg.fe-chart") and "#chart-" not in css
    assert "#0b5cad" in css  # the console's first series colour


def test_pygal_leaves_no_legacy_import_hook() -> None:
    assert [f for f in sys.meta_path if type(f).__module__ == "pygal"] == []


def test_figures_in_each_language() -> None:
    es, en = Figures("es"), Figures("en")
    assert es.show("count", 12345) == "12.345" and en.show("count", 12345) == "12,345"
    assert es.show("percent", 66.666) == "66,67 %" and en.show("decimal", 4.5) == "4.50"
    assert es.show("signed_percent", 5) == "+5,00 %" and es.show("percent", None) == "—"
    assert es.show("duration", 3725) == "1 h 02 min" and es.show("duration", 65) == "1 min 05 s"


def test_every_row_of_the_legend_is_inside_the_chart() -> None:
    """pygal leaves room for one legend row: the sixth series of a three-column legend
    (the service report's ticket chart) was drawn under the bottom of the SVG."""
    names = ["Ofrecidos", "Cerrados", "Abandonados", "Perdidos", "Transferidos", "Otros"]
    for count in range(1, len(names) + 1):
        root = ElementTree.fromstring(
            str(series_chart("Tickets", ["2026-11-30"], [(n, [1]) for n in names[:count]]))
        )
        height = float((root.get("viewBox") or "").split()[3])
        legends = next(g for g in root.iter() if g.get("class") == "legends")
        top = float((legends.get("transform") or "").split(",")[1].rstrip(")"))
        texts = [el for el in legends.iter() if el.tag.endswith("text")]
        assert [t.text for t in texts] == names[:count]
        font_px = 14  # the console's legend font: the text's bottom is at most this below
        assert all(top + float(t.get("y") or 0) + font_px / 3 <= height for t in texts), count
