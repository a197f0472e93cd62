"""FLOW_ENGINE_SKILL_URL_ALLOW: which URLs an HTTP skill may have, which addresses they
may reach (issue 10.5)."""

from __future__ import annotations

import ipaddress

import pytest

from flow_engine.domain.skill_urls import UrlAllowList, UrlRefused, ip_of


def allowed(allow: str, url: str) -> bool:
    try:
        UrlAllowList.parse(allow).check_url(url)
    except UrlRefused:
        return False
    return True


def test_an_empty_list_allows_nothing() -> None:
    assert not allowed("", "https://skills.example.com/x")
    assert not allowed("", "http://127.0.0.1:8090/skill")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://skills.example.com/v1", True),
        ("https://skills.example.com/v1/poll", True),
        ("https://skills.example.com/v1x", False),  # not below the prefix
        ("https://skills.example.com/", False),
        ("http://skills.example.com/v1/poll", False),  # another scheme
        ("https://skills.example.com:8443/v1/poll", False),  # another port
        ("https://skills.example.com:443/v1/poll", True),  # the default port, written
        ("https://skills.example.com.evil.net/v1/poll", False),  # a prefix of the host
        ("https://evil.net/skills.example.com/v1", False),
        ("https://user:pw@skills.example.com/v1", False),  # credentials
    ],
)
def test_a_url_prefix_matches_scheme_host_port_and_path(url: str, ok: bool) -> None:
    assert allowed("https://skills.example.com/v1/", url) is ok


def test_a_host_entry_allows_any_path_and_a_port_pins_it() -> None:
    assert allowed("skills.example.com", "http://skills.example.com:9000/a")
    assert allowed("skills.example.com", "https://SKILLS.example.com/b")
    assert not allowed("skills.example.com", "https://api.skills.example.com/b")
    assert allowed("skills.example.com:8443", "https://skills.example.com:8443/b")
    assert not allowed("skills.example.com:8443", "https://skills.example.com/b")


def test_loopback_literals_need_an_entry_naming_them() -> None:
    assert allowed("127.0.0.1", "http://127.0.0.1:8090/skill")
    assert allowed("127.0.0.1:8090", "http://127.0.0.1:8090/skill")
    assert not allowed("127.0.0.1:8090", "http://127.0.0.1:8091/skill")
    assert allowed("::1", "http://[::1]:8090/skill")
    assert allowed("[::1]", "http://[::1]:8090/skill")
    assert not allowed("127.0.0.1", "http://[::1]:8090/skill")
    assert not allowed("127.0.0.1", "http://127.0.0.2/skill")
    assert allowed("127.0.0.0/8", "http://127.0.0.2/skill")
    assert not allowed("localhost", "http://127.0.0.1/skill")  # a name is not its address
    # an IPv4-mapped IPv6 literal is the IPv4 address
    assert not allowed("127.0.0.1", "http://[::ffff:127.0.0.2]/skill")
    assert allowed("127.0.0.1", "http://[::ffff:127.0.0.1]/skill")


def test_a_public_literal_needs_an_entry_too() -> None:
    assert not allowed("skills.example.com", "http://93.184.215.14/skill")
    assert allowed("93.184.215.14", "http://93.184.215.14/skill")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
    ],
)
def test_names_resolving_to_non_public_addresses_are_refused(address: str) -> None:
    allow = UrlAllowList.parse("skills.example.com")
    found = ip_of(address)
    assert found is not None
    with pytest.raises(UrlRefused, match="FLOW_ENGINE_SKILL_URL_ALLOW explicitly"):
        allow.check_address("skills.example.com", found)


def test_a_public_address_is_fine_and_listed_networks_are_allowed_explicitly() -> None:
    allow = UrlAllowList.parse("skills.example.com, 10.20.0.0/16")
    allow.check_address("skills.example.com", ipaddress.ip_address("93.184.215.14"))
    allow.check_address("skills.example.com", ipaddress.ip_address("10.20.3.4"))
    with pytest.raises(UrlRefused):
        allow.check_address("skills.example.com", ipaddress.ip_address("10.21.3.4"))


def test_localhost_listed_lets_the_name_localhost_reach_loopback_only() -> None:
    allow = UrlAllowList.parse("localhost skills.example.com")
    allow.check_address("localhost", ipaddress.ip_address("127.0.0.1"))
    allow.check_address("localhost", ipaddress.ip_address("::1"))
    with pytest.raises(UrlRefused):  # another name rebinding to loopback is not localhost
        allow.check_address("skills.example.com", ipaddress.ip_address("127.0.0.1"))
    with pytest.raises(UrlRefused):
        allow.check_address("localhost", ipaddress.ip_address("10.0.0.1"))


@pytest.mark.parametrize(
    "entry", ["ftp://x.example.com", "10.0.0.0/33", "exa_mple!", "host:99999", "http://"]
)
def test_bad_entries_are_named(entry: str) -> None:
    with pytest.raises(ValueError, match="'"):
        UrlAllowList.parse(entry)


def test_bad_urls_are_refused() -> None:
    for url in ["ftp://skills.example.com/x", "skills.example.com/x", "http://[::1/x"]:
        assert not allowed("skills.example.com", url)
