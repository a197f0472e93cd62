"""The "Servicio" and "Redes sociales" tabs: messages around human service."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StrictBool, model_validator

from flow_engine.domain import limits
from flow_engine.domain.config_base import ButtonsMessage, ConfigModel, Message, Name
from flow_engine.domain.error_kinds import ErrorKind

NOT_A_LINK = ErrorKind("url", "must be an absolute https:// or http:// URL")
NOT_THE_NETWORK = ErrorKind("url_host", "must be a link to {network} ({hosts})")
NO_SOCIAL_LINK = ErrorKind(
    "social_link", "enabled social networks need at least one link", "value_error"
)

#: Hosts accepted for each network (the host itself or any subdomain of it).
SOCIAL_HOSTS: dict[str, tuple[str, ...]] = {
    "instagram": ("instagram.com", "instagr.am"),
    "facebook": ("facebook.com", "fb.com", "fb.me"),
    "linkedin": ("linkedin.com", "lnkd.in"),
    "youtube": ("youtube.com", "youtu.be"),
}


def _url_of(network: str) -> AfterValidator:
    hosts = SOCIAL_HOSTS[network]

    def check(url: str) -> str:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
            raise NOT_A_LINK.error()
        if parts.username is not None or not any(
            host == h or host.endswith("." + h) for h in hosts
        ):
            raise NOT_THE_NETWORK.error(network=network, hosts=", ".join(hosts))
        return url

    return AfterValidator(check)


InstagramUrl = Annotated[str, Field(max_length=limits.URL_MAX), _url_of("instagram")]
FacebookUrl = Annotated[str, Field(max_length=limits.URL_MAX), _url_of("facebook")]
LinkedinUrl = Annotated[str, Field(max_length=limits.URL_MAX), _url_of("linkedin")]
YoutubeUrl = Annotated[str, Field(max_length=limits.URL_MAX), _url_of("youtube")]


class ContactCard(ConfigModel):
    """A WhatsApp contact sent after the absence message."""

    name: Name = Field(min_length=1, max_length=256, description="Name shown on the card.")
    phone: str = Field(
        pattern=rf"^[0-9]{{{limits.PHONE_DIGITS_MIN},{limits.PHONE_DIGITS_MAX}}}$",
        coerce_numbers_to_str=True,
        description="WhatsApp number of the contact: country code and number, digits only.",
        examples=["5511999998888"],
    )


class AbsenceMessage(Message):
    """While enabled, sent on every contact, and the conversation goes no further."""

    enabled: StrictBool = Field(
        False,
        description=(
            "On: every contact gets this message (and the card) and nothing else (R-FLOW-3)."
        ),
    )
    contact_card: ContactCard | None = Field(
        None, description="Optional contact card sent after the absence message."
    )


class SocialNetworks(Message):
    """Message with links to the company's social networks (R-FLOW-12)."""

    enabled: StrictBool = Field(
        False, description="On: sent at the end of the journey, with the links below."
    )
    instagram: InstagramUrl | None = Field(
        None,
        description="Instagram profile link (instagram.com).",
        examples=["https://www.instagram.com/example"],
    )
    facebook: FacebookUrl | None = Field(
        None,
        description="Facebook page link (facebook.com, fb.com or fb.me).",
        examples=["https://www.facebook.com/example"],
    )
    linkedin: LinkedinUrl | None = Field(
        None,
        description="LinkedIn page link (linkedin.com or lnkd.in).",
        examples=["https://www.linkedin.com/company/example"],
    )
    youtube: YoutubeUrl | None = Field(
        None,
        description="YouTube channel link (youtube.com or youtu.be).",
        examples=["https://www.youtube.com/@example"],
    )

    def links(self) -> dict[str, str]:
        """The configured links, by network, in a fixed order."""
        urls = {n: getattr(self, n) for n in SOCIAL_HOSTS}
        return {n: u for n, u in urls.items() if u is not None}

    @model_validator(mode="after")
    def _needs_a_link(self) -> SocialNetworks:
        if self.enabled and not self.links():
            raise ValueError(NO_SOCIAL_LINK.text())
        return self


class ServiceTab(ConfigModel):
    """Messages before, after and instead of human service."""

    pre_service: Message = Field(
        Message(), description="Sent before the human answers (R-FLOW-8)."
    )
    post_service: Message = Field(
        Message(), description="Sent when the human service ends (R-FLOW-10)."
    )
    absence: AbsenceMessage = Field(
        AbsenceMessage(), description="Absence message, e.g. during holidays (R-FLOW-3)."
    )
    social_networks: SocialNetworks = Field(
        SocialNetworks(), description="Links to social networks at the end (R-FLOW-12)."
    )
    unavailable: ButtonsMessage = Field(
        ButtonsMessage(),
        description=(
            "Sent outside service hours, asking with Yes/No buttons whether the contact wants "
            "to be told when service is back (R-FLOW-6). A Yes needs the WhatsApp template "
            "'atendimento_esta_disponivel' approved on the number's account. Off: outside "
            "hours the conversation ends without a message."
        ),
    )
