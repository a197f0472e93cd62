"""Default messages of the base flow, per locale.

A number's configuration may replace most of these texts; when it does not,
the flow uses the default of the number's locale. The Spanish texts are the
manual's own suggestions (``spec/000_…txt``, PRODUCT §1); ``pt-BR`` and ``en``
are translations of the same. Texts are templates for
:func:`flow_engine.domain.templating.render` (``{{contact.name}}`` …).

The name of the default queue, ``Otros asuntos``, is fixed by the product and is
the same in every locale.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Literal, get_args

from flow_engine.domain import limits

Locale = Literal["es", "pt-BR", "en"]
LOCALES: tuple[str, ...] = get_args(Locale)
DEFAULT_LOCALE: Locale = "es"

MessageKey = Literal[
    "initial_greeting",  # R-FLOW-2, first contact ever
    "return_greeting",  # R-FLOW-2, a returning contact
    "faq_intro",  # R-FLOW-4, body of the FAQ menu
    "service_button",  # R-FLOW-4, FAQ menu row leading to human service
    "queue_message",  # R-FLOW-7, body of the queue menu
    "pre_service",  # R-FLOW-8
    "post_service",  # R-FLOW-10
    "absence",  # R-FLOW-3
    "unavailable",  # R-FLOW-6, body of the Yes/No question
    "unavailable_yes",  # R-FLOW-6, button
    "unavailable_no",  # R-FLOW-6, button
    "notify_confirmation",  # R-FLOW-6, after Yes
    "notify_declined",  # R-FLOW-6, after No
    "next_opening",  # flow version 2: closed, unavailable off; {{opening.*}} names the opening
    "survey_csat",  # R-FLOW-11, 1–5
    "survey_nps",  # R-FLOW-11, 0–10
    "survey_thanks",  # R-FLOW-11, after a valid answer
    "invalid_option",  # any menu, re-ask after an answer that matches no option
    "social_networks",  # R-FLOW-12, text before the links
    "list_button",  # label of the button that opens any list menu
    "default_queue",  # R-FLOW-7, fixed name of the default queue
]
MESSAGE_KEYS: tuple[str, ...] = get_args(MessageKey)

#: Longest text WhatsApp accepts where each message is used (templates are checked
#: before rendering; the base flow fits rendered texts into the same limits).
MESSAGE_LIMITS: Mapping[str, int] = MappingProxyType(
    {key: limits.TEXT_MAX for key in MESSAGE_KEYS}
    | {
        "faq_intro": limits.INTERACTIVE_BODY_MAX,
        "queue_message": limits.INTERACTIVE_BODY_MAX,
        "unavailable": limits.INTERACTIVE_BODY_MAX,
        "survey_csat": limits.INTERACTIVE_BODY_MAX,
        "survey_nps": limits.INTERACTIVE_BODY_MAX,
        "invalid_option": limits.INTERACTIVE_BODY_MAX,
        "service_button": limits.ROW_TITLE_MAX,
        "default_queue": limits.ROW_TITLE_MAX,
        "list_button": limits.LIST_BUTTON_MAX,
        "unavailable_yes": limits.BUTTON_TITLE_MAX,
        "unavailable_no": limits.BUTTON_TITLE_MAX,
    }
)

_ES: dict[str, str] = {
    "initial_greeting": "Hola {{contact.name}}, ¡espero que estés bien! 😃",
    "return_greeting": "Hola {{contact.name}}, ¡qué bueno verte de nuevo! 😃",
    "faq_intro": (
        "Estas son las preguntas más frecuentes. Elija una opción o hable con nuestro equipo:"
    ),
    "service_button": "Hablar con un asistente",
    "queue_message": (
        "Para dirigir su servicio correctamente, elija una de las siguientes opciones:"
    ),
    "pre_service": (
        "*En un tiempo* estaré disponible para hablar contigo. 💬 Mientras tanto, siéntase "
        "libre de avanzar en el tema que le gustaría discutir"
    ),
    "post_service": (
        "Gracias por comunicarse. Estoy disponible si necesita ocuparse de más asuntos. "
        "¡Nos vemos luego! 👋"
    ),
    "absence": "En este momento no estoy disponible. Le responderé lo antes posible. 🙏",
    "unavailable": (
        "En este momento estamos fuera del horario de atención. ¿Quiere que le avisemos "
        "cuando el servicio vuelva a estar disponible?"
    ),
    "unavailable_yes": "Sí",
    "unavailable_no": "No",
    "notify_confirmation": (
        "¡Perfecto! Le avisaremos por aquí cuando el servicio vuelva a estar disponible. 🔔"
    ),
    "notify_declined": "Entendido. Puede escribirnos de nuevo cuando quiera. 👋",
    "next_opening": (
        "El servicio humano vuelve a estar disponible el {{opening.weekday}} {{opening.date}} "
        "a las {{opening.time}}."
    ),
    "survey_csat": (
        "¿Cómo calificaría la atención que recibió? Elija una nota de 1 (muy insatisfecho) "
        "a 5 (muy satisfecho)."
    ),
    "survey_nps": (
        "En una escala de 0 a 10, ¿qué tan probable es que nos recomiende a un amigo o colega?"
    ),
    "survey_thanks": "¡Gracias por su evaluación! 💙",
    "invalid_option": (
        "No entendí su respuesta. 🤔 Por favor, elija una de las opciones o escriba su número."
    ),
    "social_networks": "¡Síganos en nuestras redes sociales! 📲",
    "list_button": "Ver opciones",
    "default_queue": limits.DEFAULT_QUEUE_NAME,
}

_PT_BR: dict[str, str] = {
    "initial_greeting": "Olá {{contact.name}}, espero que você esteja bem! 😃",
    "return_greeting": "Olá {{contact.name}}, que bom ter você de volta! 😃",
    "faq_intro": (
        "Estas são as perguntas mais frequentes. Escolha uma opção ou fale com nossa equipe:"
    ),
    "service_button": "Falar com um atendente",
    "queue_message": (
        "Para direcionar seu atendimento corretamente, escolha uma das opções a seguir:"
    ),
    "pre_service": (
        "*Em breve* estarei disponível para falar com você. 💬 Enquanto isso, fique à vontade "
        "para adiantar o assunto que gostaria de tratar"
    ),
    "post_service": (
        "Obrigado pelo contato. Estou à disposição se precisar tratar de outros assuntos. "
        "Até logo! 👋"
    ),
    "absence": "No momento não estou disponível. Responderei assim que possível. 🙏",
    "unavailable": (
        "No momento estamos fora do horário de atendimento. Quer que avisemos você quando o "
        "atendimento estiver disponível novamente?"
    ),
    "unavailable_yes": "Sim",
    "unavailable_no": "Não",
    "notify_confirmation": (
        "Perfeito! Avisaremos você por aqui quando o atendimento estiver disponível novamente. 🔔"
    ),
    "notify_declined": "Entendido. Pode nos escrever novamente quando quiser. 👋",
    "next_opening": (
        "O atendimento humano estará disponível novamente {{opening.weekday}}, "
        "{{opening.date}}, às {{opening.time}}."
    ),
    "survey_csat": (
        "Como você avalia o atendimento que recebeu? Escolha uma nota de 1 (muito "
        "insatisfeito) a 5 (muito satisfeito)."
    ),
    "survey_nps": (
        "Em uma escala de 0 a 10, qual a probabilidade de você nos recomendar a um amigo ou "
        "colega?"
    ),
    "survey_thanks": "Obrigado pela sua avaliação! 💙",
    "invalid_option": (
        "Não entendi sua resposta. 🤔 Por favor, escolha uma das opções ou digite o número dela."
    ),
    "social_networks": "Siga-nos nas redes sociais! 📲",
    "list_button": "Ver opções",
    "default_queue": limits.DEFAULT_QUEUE_NAME,
}

_EN: dict[str, str] = {
    "initial_greeting": "Hello {{contact.name}}, I hope you are well! 😃",
    "return_greeting": "Hello {{contact.name}}, great to have you back! 😃",
    "faq_intro": (
        "Here are our most frequently asked questions. Choose an option or talk to our team:"
    ),
    "service_button": "Talk to an agent",
    "queue_message": (
        "To direct your request correctly, please choose one of the following options:"
    ),
    "pre_service": (
        "*In a moment* I will be available to talk to you. 💬 Meanwhile, feel free to go "
        "ahead with the subject you would like to discuss"
    ),
    "post_service": (
        "Thank you for getting in touch. I am available if you need help with anything "
        "else. See you soon! 👋"
    ),
    "absence": "I am not available at the moment. I will answer you as soon as possible. 🙏",
    "unavailable": (
        "We are outside our service hours right now. Would you like us to let you know when "
        "service is available again?"
    ),
    "unavailable_yes": "Yes",
    "unavailable_no": "No",
    "notify_confirmation": "Great! We will let you know here when service is available again. 🔔",
    "notify_declined": "Understood. Feel free to write to us again at any time. 👋",
    "next_opening": (
        "Human service is available again on {{opening.weekday}} {{opening.date}} at "
        "{{opening.time}}."
    ),
    "survey_csat": (
        "How would you rate the service you received? Choose a score from 1 (very "
        "dissatisfied) to 5 (very satisfied)."
    ),
    "survey_nps": (
        "On a scale of 0 to 10, how likely are you to recommend us to a friend or colleague?"
    ),
    "survey_thanks": "Thank you for your feedback! 💙",
    "invalid_option": (
        "Sorry, I did not understand. 🤔 Please choose one of the options or type its number."
    ),
    "social_networks": "Follow us on social media! 📲",
    "list_button": "See options",
    "default_queue": limits.DEFAULT_QUEUE_NAME,
}

DEFAULT_MESSAGES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "es": MappingProxyType(_ES),
        "pt-BR": MappingProxyType(_PT_BR),
        "en": MappingProxyType(_EN),
    }
)


#: Day names, Monday first (as :meth:`datetime.date.weekday`), for messages that name a day.
WEEKDAY_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
        "pt-BR": (
            "segunda-feira",
            "terça-feira",
            "quarta-feira",
            "quinta-feira",
            "sexta-feira",
            "sábado",
            "domingo",
        ),
        "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    }
)
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def moment_context(locale: str, local: datetime) -> dict[str, str]:
    """A local date and time as placeholder values in ``locale``: ``weekday`` (``lunes``),
    ``date`` (``25/11``; ``25 Nov`` in ``en``) and ``time`` (``09:00``, 24-hour).

    ``local`` is already in the number's time zone. Raises :class:`KeyError` for an
    unknown locale.
    """
    names = WEEKDAY_NAMES.get(locale)
    if names is None:
        raise KeyError(f"unknown locale {locale!r} (known: {', '.join(LOCALES)})")
    if locale == "en":
        day = f"{local.day} {_EN_MONTHS[local.month - 1]}"
    else:
        day = f"{local.day:02d}/{local.month:02d}"
    return {"weekday": names[local.weekday()], "date": day, "time": f"{local:%H:%M}"}


def default_message(locale: str, key: str) -> str:
    """The default text of ``key`` in ``locale``.

    Raises :class:`KeyError` naming the locale or the key when either is unknown.
    """
    messages = DEFAULT_MESSAGES.get(locale)
    if messages is None:
        raise KeyError(f"unknown locale {locale!r} (known: {', '.join(LOCALES)})")
    try:
        return messages[key]
    except KeyError:
        raise KeyError(f"unknown message key {key!r}") from None
