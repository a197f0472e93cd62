"""Figures as a person reads them in the member's language: counts with the locale's
thousands separator, percents and means with two decimals, durations in h/min/s, and a
dash for a figure with nothing to average or divide by (the API's ``null``)."""

from __future__ import annotations

from dataclasses import dataclass

NONE = "—"
KINDS = frozenset({"count", "decimal", "percent", "signed_percent", "duration"})
#: (thousands separator, decimal separator) of each locale
SEPARATORS = {"es": (".", ","), "pt-BR": (".", ","), "en": (",", ".")}


@dataclass(frozen=True)
class Figures:
    locale: str

    def _seps(self) -> tuple[str, str]:
        return SEPARATORS.get(self.locale, SEPARATORS["es"])

    def _localized(self, text: str) -> str:
        thousands, decimal = self._seps()
        return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)

    def count(self, value: object) -> str:
        if not isinstance(value, int | float):
            return NONE
        return self._localized(f"{int(value):,}")

    def decimal(self, value: object) -> str:
        if not isinstance(value, int | float):
            return NONE
        return self._localized(f"{value:,.2f}")

    def number(self, value: object) -> str:
        """Up to two decimals, without trailing zeros (``2``, ``0,5``, ``1.234,25``)."""
        if not isinstance(value, int | float):
            return NONE
        return self._localized(f"{value:,.2f}".rstrip("0").rstrip("."))

    def percent(self, value: object) -> str:
        if not isinstance(value, int | float):
            return NONE
        return self.decimal(value) + " %"

    def signed_percent(self, value: object) -> str:
        if not isinstance(value, int | float):
            return NONE
        return ("+" if value > 0 else "") + self.percent(value)

    def duration(self, value: object) -> str:
        """Seconds as ``42 s``, ``3 min 05 s`` or ``1 h 02 min``."""
        if not isinstance(value, int | float):
            return NONE
        total = round(value)
        hours, rest = divmod(total, 3600)
        minutes, seconds = divmod(rest, 60)
        if hours:
            return f"{hours} h {minutes:02d} min"
        if minutes:
            return f"{minutes} min {seconds:02d} s"
        return f"{seconds} s"

    def show(self, kind: str, value: object) -> str:
        """``value`` as ``kind`` says: count, decimal, percent, signed_percent, duration."""
        if kind not in KINDS:
            raise ValueError(f"no such figure kind: {kind}")
        text: str = getattr(self, kind)(value)
        return text
