"""Where HTTP skills may be reached (``FLOW_ENGINE_SKILL_URL_ALLOW``, issue 10.5).

The allow list holds entries separated by commas or white space, of three shapes:

- a URL prefix, ``https://skills.example.com/v1/``: same scheme, host and port (the
  scheme's default when none is written), and a path that is the prefix's path or goes
  on below it (``/v1`` allows ``/v1`` and ``/v1/x``, not ``/v1x``);
- a host, ``skills.example.com`` or ``skills.example.com:8443`` (``[::1]`` or ``::1``
  for IPv6): any ``http``/``https`` URL on that host (and port, when given);
- an address or network, ``10.20.0.0/16`` or ``127.0.0.1``: URLs whose host is an
  address inside it, and names that resolve inside it.

A URL is allowed when an entry matches it. Then every address its host resolves to
must be public (``ipaddress``'s *is_global*): loopback, link-local, private, shared,
reserved, multicast and unspecified addresses are refused, unless the allow list names
them explicitly — an address or network entry containing the address, an entry whose
host is that very address, or an entry naming ``localhost`` for the loopback addresses.
The engine checks the addresses when a configuration is written and again on every call
(the resolver of the skills' HTTP client), so a name that starts resolving elsewhere
(DNS rebinding) is refused at its next call. Pure: no I/O here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"http": 80, "https": 443}
LOCALHOST = "localhost"


class UrlRefused(ValueError):
    """A URL (or an address it resolves to) the allow list does not let through."""


def ip_of(host: str) -> Address | None:
    """``host`` as an address (brackets of IPv6 removed), or None for a name."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: Address) -> bool:
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class Target:
    """The parts of a URL the allow list looks at."""

    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int
    path: str

    @classmethod
    def of(cls, url: str) -> Target:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UrlRefused(f"not a valid URL: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise UrlRefused("must be an absolute http:// or https:// URL")
        if parts.username is not None or parts.password is not None:
            raise UrlRefused("credentials in the URL are refused")
        return cls(scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme], parts.path)


@dataclass(frozen=True)
class Entry:
    """One entry of the allow list, as written (``text``) and parsed."""

    text: str
    scheme: str | None = None  # URL prefixes only
    host: str | None = None  # URL prefixes and hosts
    port: int | None = None
    path: str = ""
    network: Network | None = None  # addresses and networks

    def matches(self, target: Target) -> bool:
        if self.network is not None:
            address = ip_of(target.host)
            return address is not None and address in self.network
        if self.host != target.host:
            return False
        if self.scheme is not None and self.scheme != target.scheme:
            return False
        if self.port is not None and self.port != target.port:
            return False
        prefix = self.path.rstrip("/")
        return not prefix or target.path == prefix or target.path.startswith(prefix + "/")

    def names_address(self, host: str, address: Address) -> bool:
        """Whether this entry lets ``host`` reach the non-public ``address``."""
        if self.network is not None:
            return address in self.network
        if self.host == LOCALHOST:
            return host == LOCALHOST and address.is_loopback
        return self.host is not None and ip_of(self.host) == address


def parse_entry(text: str) -> Entry:
    """One entry of ``FLOW_ENGINE_SKILL_URL_ALLOW``; ``ValueError`` when it is none."""
    if "://" in text:
        try:
            target = Target.of(text)
        except UrlRefused as exc:
            raise ValueError(f"{text!r}: {exc}") from None
        return Entry(
            text, scheme=target.scheme, host=target.host, port=target.port, path=target.path
        )
    if "/" in text:
        try:
            return Entry(text, network=ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"{text!r}: not an address network such as 10.0.0.0/8") from None
    address = ip_of(text)
    if address is not None and not text.startswith("["):
        return Entry(text, network=ipaddress.ip_network(address))
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?", text)
    if match is None:
        raise ValueError(f"{text!r}: not a URL prefix, a host[:port] or an address")
    host = match.group(1).strip("[]").lower()
    port = int(match.group(2)) if match.group(2) else None
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{text!r}: port out of range")
    return Entry(text, host=host, port=port)


@dataclass(frozen=True)
class UrlAllowList:
    """The parsed ``FLOW_ENGINE_SKILL_URL_ALLOW``; empty allows no URL at all."""

    entries: tuple[Entry, ...] = ()

    @classmethod
    def parse(cls, text: str) -> UrlAllowList:
        return cls(tuple(parse_entry(t) for t in re.split(r"[\s,]+", text) if t))

    def __str__(self) -> str:
        return ",".join(e.text for e in self.entries) or "(empty)"

    def check_url(self, url: str) -> Target:
        """The target of ``url`` if an entry matches it (and a literal address in it is
        allowed); :class:`UrlRefused` saying why not."""
        target = Target.of(url)
        if not any(e.matches(target) for e in self.entries):
            raise UrlRefused(
                f"{target.scheme}://{target.host}:{target.port} is not in "
                f"FLOW_ENGINE_SKILL_URL_ALLOW ({self})"
            )
        address = ip_of(target.host)
        if address is not None:
            self.check_address(target.host, address)
        return target

    def check_address(self, host: str, address: Address) -> None:
        """:class:`UrlRefused` unless ``host`` may reach ``address``."""
        if is_public(address):
            return
        if any(e.names_address(host.lower(), address) for e in self.entries):
            return
        raise UrlRefused(
            f"{host} resolves to {address}, a {describe(address)} address; list it in "
            "FLOW_ENGINE_SKILL_URL_ALLOW explicitly to allow it"
        )


def describe(address: Address) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    return "non-public"
