"""The data dashboards' charts, drawn on the server as SVG by ``pygal``, safe under the
console's Content-Security-Policy (no inline script, no inline style).

pygal writes each chart with a ``<script>`` (its interactive tooltips) and a ``<style>``
(its stylesheet, scoped to the chart's ``#chart-<uuid>``). Here every chart is built
without JavaScript (``js=[]``), its tree is cleaned by an XML filter (the ``<script>``,
the ``<style>`` and the tooltip layer with its ``style`` attribute go), and the chart is
inlined in the page. pygal's stylesheet is served once, from the console's own origin,
by ``charts.css``: it is the stylesheet pygal writes for the console's style, its
selectors rescoped from one chart's id to every chart (``svg.fe-chart``). So the page
needs nothing the CSP forbids, and the charts still carry pygal's colours and fonts.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from xml.etree import ElementTree

import pygal
from markupsafe import Markup
from pygal.style import Style

# pygal appends to ``sys.meta_path`` a finder for its map plugins (``pygal.maps.*``, not
# used here) that has only the legacy ``find_module``: every import that other finders
# miss (an optional dependency tried and absent) then raises an ImportWarning, an error
# under the test suite's warning filter. The console draws no maps: the finder goes.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__module__ != "pygal"]

#: the most series one chart shows (pygal's stylesheet colours this many)
MAX_SERIES = 8
SCOPE = "svg.fe-chart"
STYLE = Style(
    background="transparent",
    plot_background="#ffffff",
    foreground="#1d2330",
    foreground_strong="#1d2330",
    foreground_subtle="#9aa1ad",
    opacity=".9",
    opacity_hover="1",
    transition="0ms",
    font_family='system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    title_font_size=16,
    value_font_size=13,
    colors=(
        "#0b5cad",
        "#1b6e3a",
        "#c25e00",
        "#a4161a",
        "#6b3fa0",
        "#00838f",
        "#8a5a00",
        "#5a6170",
    ),
)
#: the height of one row of the legend (its font size, 14, and the space between rows)
LEGEND_ROW = 21
CHART_ID = re.compile(r"#chart-[0-9a-f-]{36}")
SVG = "{http://www.w3.org/2000/svg}"


def _common(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "style": STYLE,
        "js": [],  # no interactive script: the CSP allows none inline
        "disable_xml_declaration": True,
        "classes": ("pygal-chart", "fe-chart"),
        "width": 860,
        "height": 400,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 4,
        "x_label_rotation": 30,
        "truncate_label": -1,
        "truncate_legend": -1,
        "show_minor_x_labels": True,
        "print_values": False,
        "margin": 16,
        "no_data_text": "—",
    }


def _strip(root: ElementTree.Element) -> ElementTree.Element:
    """What the CSP would block, out: scripts, the stylesheet (served as charts.css) and
    the tooltip layer (it needs pygal's script, and carries a ``style`` attribute)."""
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag if isinstance(child.tag, str) else ""
            classes = child.get("class", "").split()
            if tag.endswith("script") or tag.endswith("style") or "tooltip-overlay" in classes:
                parent.remove(child)
            elif isinstance(child.tag, str) and "style" in child.attrib:
                del child.attrib["style"]
    root.set("role", "img")
    return root


def _grab_style(into: list[str]) -> Any:
    def grab(root: ElementTree.Element) -> ElementTree.Element:
        for el in root.iter():
            if isinstance(el.tag, str) and el.tag.endswith("style") and el.text:
                into.append(el.text)
        return root

    return grab


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def series_chart(
    title: str,
    labels: Sequence[str],
    lines: Sequence[tuple[str, Sequence[Any]]],
    *,
    kind: str = "bar",
) -> Markup:
    """A chart of ``lines`` (a name and one value per label; None: no value), as inline
    SVG. ``kind``: ``bar``, ``stacked`` (bars stacked) or ``line``."""
    classes = {"bar": pygal.Bar, "stacked": pygal.StackedBar, "line": pygal.Line}
    shown = list(lines[:MAX_SERIES])
    options = _common(title)
    columns = max(1, min(3, len(shown)))  # long names fit
    options["legend_at_bottom_columns"] = columns
    # pygal leaves room for one row of the legend under the plot: each further row (of
    # LEGEND_ROW px at the console's legend font) would fall off the bottom of the SVG
    rows = -(-len(shown) // columns)
    options["margin_bottom"] = options["margin"] + LEGEND_ROW * (rows - 1)
    chart = classes[kind](**options)
    chart.x_labels = list(labels)
    for name, values in shown:
        chart.add(name, [_number(v) for v in values])
    if len(labels) > 16:  # a long period: every label would overlap
        chart.x_labels_major_every = max(1, len(labels) // 8)
        chart.show_minor_x_labels = False
    chart.add_xml_filter(_strip)
    svg = chart.render(is_unicode=True)
    # pygal builds the SVG with ElementTree, which escapes every text and attribute
    return Markup(svg)


@lru_cache(maxsize=1)
def charts_css() -> str:
    """pygal's stylesheet for :data:`STYLE` with :data:`MAX_SERIES` colours, its
    selectors rescoped from one chart's id to every chart of the console."""
    found: list[str] = []
    chart = pygal.Bar(**_common("css"))
    chart.x_labels = ["a"]
    for i in range(MAX_SERIES):
        chart.add(str(i), [i + 1])
    chart.add_xml_filter(_grab_style(found))
    chart.render(is_unicode=True)
    css = "\n".join(found)
    return CHART_ID.sub(SCOPE, css)
