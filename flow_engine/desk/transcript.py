"""A ticket's PDF transcript (R-DESK-3), made with fpdf2: the number, the contact, the
queue, the attendants, the status and every timestamp in the number's time zone, then
every message with its time and sender; media as links to the media route.

Text is set in DejaVu Sans (Debian's ``fonts-dejavu-core``: Spanish, Portuguese and most
scripts) with Noto Color Emoji (``fonts-noto-color-emoji``) as the fallback for emoji.
Without the emoji font the PDF still renders: a character no font has is written as
``[U+1F600]``, visibly; without DejaVu the core Helvetica font is used (Latin-1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF

from flow_engine.desk.history import acted_by
from flow_engine.desk.status_names import status_name
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.facts import zone_of
from flow_engine.domain.tickets import Ticket, TicketMessage

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
)
EMOJI_FONTS = (
    Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"),
    Path("/usr/share/fonts/noto/NotoColorEmoji.ttf"),
    Path("/usr/share/fonts/google-noto-emoji/NotoColorEmoji.ttf"),
)
#: invisible joiners and selectors: dropped when no font has them
INVISIBLE = frozenset({0x200D, 0xFE0E, 0xFE0F})

LABELS = {
    "es": {
        "title": "Transcripción del ticket",
        "number": "Número",
        "contact": "Contacto",
        "queue": "Cola",
        "status": "Estado",
        "attendants": "Agentes",
        "opened": "Abierto",
        "assigned": "Asignado",
        "closed": "Cerrado",
        "from": "Transferido desde",
        "to": "Transferido a",
        "history": "Estados",
        "messages": "Mensajes",
        "bot": "Bot",
        "media": "Archivo",
        "none": "(sin mensajes)",
    },
    "pt-BR": {
        "title": "Transcrição do ticket",
        "number": "Número",
        "contact": "Contato",
        "queue": "Fila",
        "status": "Status",
        "attendants": "Atendentes",
        "opened": "Aberto",
        "assigned": "Atribuído",
        "closed": "Fechado",
        "from": "Transferido de",
        "to": "Transferido para",
        "history": "Status",
        "messages": "Mensagens",
        "bot": "Bot",
        "media": "Arquivo",
        "none": "(sem mensagens)",
    },
    "en": {
        "title": "Ticket transcript",
        "number": "Number",
        "contact": "Contact",
        "queue": "Queue",
        "status": "Status",
        "attendants": "Attendants",
        "opened": "Opened",
        "assigned": "Assigned",
        "closed": "Closed",
        "from": "Transferred from",
        "to": "Transferred to",
        "history": "Statuses",
        "messages": "Messages",
        "bot": "Bot",
        "media": "File",
        "none": "(no messages)",
    },
}


@dataclass(frozen=True)
class Fonts:
    """The font files found on this machine (None: not installed)."""

    regular: Path | None
    bold: Path | None
    emoji: Path | None


@lru_cache(maxsize=1)
def installed_fonts() -> Fonts:
    for d in FONT_DIRS:
        if (d / "DejaVuSans.ttf").is_file():
            bold = d / "DejaVuSans-Bold.ttf"
            emoji = next((p for p in EMOJI_FONTS if p.is_file()), None)
            return Fonts(d / "DejaVuSans.ttf", bold if bold.is_file() else None, emoji)
    return Fonts(None, None, None)


@lru_cache(maxsize=8)
def covered(paths: tuple[Path, ...]) -> frozenset[int]:
    """The code points the fonts of ``paths`` have a glyph for."""
    points: set[int] = set()
    for path in paths:
        font = TTFont(str(path), lazy=True)
        points.update(font.getBestCmap() or {})
        font.close()
    return frozenset(points)


@dataclass(frozen=True)
class Header:
    """What the transcript says about the number, beside the ticket."""

    number: str
    name: str
    display_phone: str
    timezone: str
    locale: str = "es"

    @classmethod
    def of(cls, ticket: Ticket, config: NumberConfig | None) -> Header:
        """The header of ``ticket`` from its number's configuration (None: the number has
        none any more, so the ticket's own number and time zone)."""
        if config is None:
            return cls(ticket.number, ticket.number, "", ticket.timezone)
        return cls(
            number=ticket.number,
            name=config.name,
            display_phone=config.display_phone_number,
            timezone=config.timezone,
            locale=config.locale,
        )


class TranscriptPdf:
    """Renders one ticket; a media item links to ``<media_base>/<media id>``."""

    def __init__(self, fonts: Fonts | None = None) -> None:
        self.fonts = fonts or installed_fonts()

    def render(self, ticket: Ticket, head: Header, media_base: str) -> bytes:
        labels = LABELS.get(head.locale, LABELS["es"])
        pdf = FPDF(format="A4")
        pdf.set_title(f"{labels['title']} {ticket.id}")
        pdf.set_creator("flow-engine")
        family, unicode = self._fonts(pdf)
        keep = self._keeper(unicode)

        def when(ts: float | None) -> str:
            if ts is None:
                return "—" if unicode else "-"
            moment = datetime.fromtimestamp(ts, zone_of(head.timezone))
            return moment.strftime("%Y-%m-%d %H:%M:%S %Z")

        pdf.add_page()
        pdf.set_font(family, "B" if self.fonts.bold or not unicode else "", 15)
        pdf.multi_cell(0, 8, keep(f"{labels['title']} {ticket.id}"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        rows = [
            (labels["number"], f"{head.name} ({head.display_phone or head.number})"),
            (labels["contact"], f"{ticket.contact_name} (+{ticket.contact})".strip()),
            (labels["queue"], ticket.queue),
            (labels["status"], status_name(ticket.status, head.locale)),
            (labels["attendants"], ", ".join(acted_by(ticket)) or "-"),
            (labels["opened"], when(ticket.created_at)),
            (labels["assigned"], when(ticket.assigned_at)),
            (labels["closed"], when(ticket.closed_at)),
        ]
        if ticket.transferred_from:
            rows.append((labels["from"], ticket.transferred_from))
        if ticket.transferred_to:
            rows.append((labels["to"], ticket.transferred_to))
        pdf.set_font(family, "", 10)
        for label, value in rows:
            pdf.multi_cell(0, 5.5, keep(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        self._heading(pdf, family, labels["history"], keep)
        for t in ticket.transitions:
            by = f" ({t.by})" if t.by else ""
            pdf.multi_cell(
                0,
                5.5,
                keep(f"{when(t.at)}  {status_name(t.status, head.locale)}{by}"),
                new_x="LMARGIN",
                new_y="NEXT",
            )
        pdf.ln(2)
        self._heading(pdf, family, labels["messages"], keep)
        if not ticket.transcript:
            pdf.multi_cell(0, 5.5, keep(labels["none"]), new_x="LMARGIN", new_y="NEXT")
        for m in ticket.transcript:
            self._message(pdf, family, m, ticket, labels, when(m.at), media_base, keep)
        try:
            return bytes(pdf.output())
        finally:  # fpdf2 reads fonts lazily and leaves their files open
            for font in pdf.fonts.values():
                ttfont = getattr(font, "ttfont", None)
                if ttfont is not None:
                    ttfont.close()

    def _fonts(self, pdf: FPDF) -> tuple[str, bool]:
        f = self.fonts
        if f.regular is None:
            return "helvetica", False
        pdf.add_font("dejavu", "", str(f.regular))
        if f.bold is not None:
            pdf.add_font("dejavu", "B", str(f.bold))
        if f.emoji is not None:
            pdf.add_font("emoji", "", str(f.emoji))
            pdf.set_fallback_fonts(["emoji"])
        return "dejavu", True

    def _keeper(self, unicode: bool) -> Callable[[str], str]:
        if not unicode:
            return lambda s: s.encode("latin-1", "replace").decode("latin-1")
        paths = tuple(p for p in (self.fonts.regular, self.fonts.emoji) if p is not None)
        have = covered(paths)

        def keep(text: str) -> str:
            return "".join(_char(c, have) for c in text)

        return keep

    def _heading(self, pdf: FPDF, family: str, text: str, keep: Callable[[str], str]) -> None:
        pdf.set_font(family, "B" if self.fonts.bold else "", 12)
        pdf.cell(0, 7, keep(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 10)

    def _message(
        self,
        pdf: FPDF,
        family: str,
        m: TicketMessage,
        ticket: Ticket,
        labels: dict[str, str],
        at: str,
        media_base: str,
        keep: Callable[[str], str],
    ) -> None:
        if m.sender == "contact":
            sender = ticket.contact_name or f"+{ticket.contact}"
        elif m.sender == "attendant":
            sender = m.attendant or labels["attendants"]
        else:
            sender = labels["bot"]
        pdf.set_font(family, "B" if self.fonts.bold else "", 9)
        pdf.cell(0, 5, keep(f"{at} · {sender}" if family != "helvetica" else f"{at} - {sender}"))
        pdf.ln(5)
        pdf.set_font(family, "", 10)
        if m.text:
            pdf.multi_cell(0, 5.5, keep(m.text), new_x="LMARGIN", new_y="NEXT")
        media_id = (m.media or {}).get("id")
        if media_id:
            url = f"{media_base.rstrip('/')}/{media_id}"
            kind = (m.media or {}).get("mime_type") or m.kind
            pdf.set_text_color(0, 0, 200)
            pdf.multi_cell(
                0,
                5.5,
                keep(f"{labels['media']} ({kind}): {url}"),
                link=url,
                new_x="LMARGIN",
                new_y="NEXT",
            )
            pdf.set_text_color(0, 0, 0)
        pdf.ln(1.5)


def _char(c: str, have: frozenset[int]) -> str:
    point = ord(c)
    if point in have or c in "\n\t" or point < 0x20:
        return c if point >= 0x20 or c in "\n\t" else ""
    if point in INVISIBLE:
        return ""
    return f"[U+{point:04X}]"


def media_ids(ticket: Ticket) -> Iterable[str]:
    for m in ticket.transcript:
        media_id = (m.media or {}).get("id")
        if media_id:
            yield str(media_id)
