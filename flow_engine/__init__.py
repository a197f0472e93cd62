"""flow-engine: a conversational flow engine runtime for WhatsApp business numbers."""

from __future__ import annotations

__version__ = "0.1.0"
