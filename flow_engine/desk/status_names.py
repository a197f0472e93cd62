"""What a ticket's statuses are called, in each language: one list for the console's
pages and the PDF transcript alike."""

from __future__ import annotations

from flow_engine.domain.tickets import TicketStatus

#: the languages of the names, in this order
LANGUAGES = ("en", "es", "pt-BR")

STATUS_NAMES: dict[TicketStatus, tuple[str, str, str]] = {
    TicketStatus.WAITING: ("Waiting", "En espera", "Aguardando"),
    TicketStatus.ASSIGNED: ("Assigned", "Asignado", "Atribuído"),
    TicketStatus.CLOSED_BY_ATTENDANT: (
        "Closed by the attendant",
        "Cerrado por el asistente",
        "Encerrado pelo atendente",
    ),
    TicketStatus.CLOSED_BY_CONTACT: (
        "Closed by the contact",
        "Cerrado por el contacto",
        "Encerrado pelo contato",
    ),
    TicketStatus.CLOSED_BY_INACTIVITY: (
        "Closed by inactivity",
        "Cerrado por inactividad",
        "Encerrado por inatividade",
    ),
    TicketStatus.TRANSFERRED: ("Transferred", "Transferido", "Transferido"),
}


def status_name(status: TicketStatus, locale: str) -> str:
    """The status's name in ``locale`` (Spanish for a language it does not have)."""
    index = LANGUAGES.index(locale) if locale in LANGUAGES else LANGUAGES.index("es")
    return STATUS_NAMES[status][index]
