"""Length and count limits that number configurations must respect.

The WhatsApp numbers come from ``spec/WHATSAPP.md`` (Cloud API Send limits);
they are repeated here on purpose so configuration validation does not depend on
the outbound message models. The product numbers come from ``spec/PRODUCT.md``.
"""

from __future__ import annotations

# WhatsApp Cloud API (spec/WHATSAPP.md, "Sending").
TEXT_MAX = 4096  # text message body
INTERACTIVE_BODY_MAX = 1024  # body of a list or reply-buttons message
HEADER_FOOTER_MAX = 60  # header / footer of an interactive message
LIST_BUTTON_MAX = 20  # label of the button that opens a list
LIST_ROWS_MAX = 10  # rows in one list message, all sections together
ROW_TITLE_MAX = 24  # list row title
ROW_DESCRIPTION_MAX = 72  # list row description
BUTTONS_MAX = 3  # reply buttons in one message
BUTTON_TITLE_MAX = 20  # reply button title
PHONE_DIGITS_MIN = 6
PHONE_DIGITS_MAX = 15  # E.164
SEND_RATE_MAX = 1000.0  # messages/second of an upgraded number

# Product (spec/PRODUCT.md §1 and §3).
FAQ_QUESTIONS_MAX = 10
QUEUES_MAX = 10  # besides the fixed default queue
INTERVALS_PER_DAY_MAX = 3
DEFAULT_QUEUE_NAME = "Otros asuntos"  # fixed, the same in every locale
MAX_INVALID_RETRIES_MAX = 5
NAME_MAX = 100  # bot / agent name
ATTENDANTS_MAX = 200  # e-mails in one list
HOLIDAYS_MAX = 366
URL_MAX = 2000
EMAIL_MAX = 254
TEMPLATE_NAME_MAX = 512  # WhatsApp template name
TEMPLATES_MAX = 6000  # templates of a verified WABA
TAG_MAX = 50
TAGS_MAX = 100

# Inbound webhooks (the Cloud API's own ids are well under these; docs/api.md#limits).
WEBHOOK_ID_MAX = 256  # message, status, media, reply and entry ids
WEBHOOK_CONTACT_MAX = 64  # wa_id / from / recipient_id (phone digits, or a user id)
WEBHOOK_NAME_MAX = 256  # a contact's profile name
WEBHOOK_TEXT_MAX = 65536  # a text body, a caption (WhatsApp lets users type 65,536)
WEBHOOK_TITLE_MAX = 1024  # a reply title, a button text, an error title or message
WEBHOOK_LABEL_MAX = 64  # a message type, an interactive kind, a status, a field name
WEBHOOK_CONTENT_MAX = 131072  # one message content object (media, location, order…) as JSON
WEBHOOK_EVENT_MAX = 65536  # one non-message change (account update…) as JSON
