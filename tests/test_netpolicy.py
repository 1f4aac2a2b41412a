"""The SSRF network policy below the fetcher: ``is_public``, ``parse_ip_literal``, ``check_url``
and ``NetPolicy``, as plain functions (no sockets, no servers).

``test_media_ssrf.py`` proves the same rules hold through real fetches; this file pins each
rule on its own, message included, so that loosening any single one fails a test.
"""

from __future__ import annotations

import ipaddress
import re

import pytest

from shared.errors import BadRequest, ConfigError, Forbidden, UpstreamError
from shared.media import netpolicy
from shared.media.netpolicy import (
    MAX_URL_CHARS,
    NetPolicy,
    Target,
    check_url,
    is_public,
    parse_ip_literal,
    system_resolver,
)

PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0",
          "172.15.255.255", "172.32.0.0", "192.167.255.255", "192.169.0.0",
          "2606:4700:4700::1111", "2a00:1450:4001:81c::200e"]


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def ends_of(network: str) -> list[str]:
    net = ipaddress.ip_network(network)
    return [str(net[0]), str(net[1]), str(net[-1])]


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize("network", [str(n) for n in netpolicy._BLOCKED_V4 + netpolicy._BLOCKED_V6])
def test_every_blocked_range_is_refused_at_both_ends(network: str) -> None:
    for address in ends_of(network):
        assert is_public(ipaddress.ip_address(address)) is False, address


@pytest.mark.parametrize("address", [
    "255.255.255.255", "::", "::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
    "2001:0:4136:e378::1", "fe80::1%eth0", "ff02::1",
    "4000::1"])  # reserved, although Python calls it global
def test_special_forms_are_refused(address: str) -> None:
    assert is_public(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize("host,expected", [
    ("[::1]", "::1"), ("[2606:4700::1111]", "2606:4700::1111"), ("127.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"),
    ("0X7F.0.0.1", "127.0.0.1"), ("10.1", "10.0.0.1"), ("8.8.8.8", "8.8.8.8"),
])
def test_ip_literals_in_every_spelling(host: str, expected: str) -> None:
    assert parse_ip_literal(host) == ipaddress.ip_address(expected)


@pytest.mark.parametrize("host", ["example.com", "a.test", "1.2.3.4.5", "0x", "abc.def",
                                  "99999999999", "-", "x1", "h]", "[h",
                                  "127.0.0.1 x"])  # inet_aton would take this one
def test_names_are_not_literals(host: str) -> None:
    assert parse_ip_literal(host) is None


def test_a_malformed_ipv6_literal_is_400() -> None:
    with pytest.raises(BadRequest, match=exactly("the URL's IPv6 host is malformed")):
        parse_ip_literal("[zz::1]")


def test_a_clean_url_is_parsed_into_its_target() -> None:
    target = check_url("HTTP://Media.Example.COM./path/a.png?x=1&y=%20")
    assert target == Target("http", "media.example.com", 80, "/path/a.png?x=1&y=%20")
    assert target.origin == ("http", "media.example.com", 80)
    assert target.host_header == "media.example.com"
    assert target.display == "http://media.example.com"
    assert check_url("https://h.example").request_target == "/"
    assert check_url("https://h.example").port == 443
    assert check_url("https://h.example:443/").host_header == "h.example"
    assert check_url("http://h.example:8080").host_header == "h.example:8080"
    assert check_url("https://h.example:80/").host_header == "h.example:80"
    assert check_url("http://MAX./").host == "max"  # the root dot goes, nothing else
    assert [check_url(f"http://h.example:{p}/").port for p in (1, 65535)] == [1, 65535]


def test_credentials_and_ip_literals_are_kept_apart() -> None:
    target = check_url("http://us%40er:p%3Ass@h.example/")
    assert target.userinfo == ("us@er", "p:ss") and target.host == "h.example"
    assert check_url("http://a@b@c.example/").userinfo == ("a@b", "")
    assert check_url("http://user@h.example/").userinfo == ("user", "")
    assert check_url("http://h.example/").userinfo is None
    v6 = check_url("http://[::1]:8080/x")
    assert (v6.host, v6.port, v6.ip_literal) == ("::1", 8080, ipaddress.ip_address("::1"))
    assert v6.host_header == "[::1]:8080" and v6.display == "http://[::1]:8080"
    legacy = check_url("http://0x7f.1/")
    assert legacy.host == "127.0.0.1" and legacy.ip_literal == ipaddress.ip_address("127.0.0.1")
    assert check_url("http://h.example/").ip_literal is None


@pytest.mark.parametrize("url,message", [
    ("ftp://h.example/", "only http and https URLs can be fetched"),
    ("file:///etc/passwd", "only http and https URLs can be fetched"),
    ("http://h.exämple/", "the URL must be ASCII without spaces or control characters"),
    ("http://h.example/a b", "the URL must be ASCII without spaces or control characters"),
    ("http://h.example/\x01", "the URL must be ASCII without spaces or control characters"),
    ("http://h.example/\x7f", "the URL must be ASCII without spaces or control characters"),
    ("http://h.example\\@evil.example/", "the URL must not contain backslashes"),
    ("http://[::1/", "the URL is malformed"),
    ("http:///path", "the URL has no host"),
    ("http://[]/", "the URL is malformed"),
    ("http://:80/", "the URL has no host"),
    ("http://h.example:99999/", "the URL's port is out of range"),
    ("http://h.example:0/", "the URL's port is out of range"),
    ("http://h.example:65536/", "the URL's port is out of range"),
    ("http://[::1]:80]/", "the URL's port is malformed"),
    ("http://h.example:123456/", "the URL's port is malformed"),
    ("http://h.example:8o/", "the URL's port is malformed"),
    ("http://h.example:/", "the URL's port is malformed"),
    ("http://-h.example/", "the URL's host is not a valid name"),
    ("http://.h.example/", "the URL's host is not a valid name"),
    ("http://h..example/", "the URL's host is not a valid name"),
    ("http://h_ex!ample/", "the URL's host is not a valid name"),
    ("http://" + "a" * 254 + "/", "the URL's host is not a valid name"),
    ("http://[::1]x/", "the URL's port is malformed"),
    ("http://h.example:80:80/", "the URL's port is malformed"),
])
def test_bad_urls_are_400_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(BadRequest, match=exactly(message)):
        check_url(url)


def test_url_length_and_type() -> None:
    longest = "http://h.example/" + "a" * (MAX_URL_CHARS - len("http://h.example/"))
    assert len(longest) == MAX_URL_CHARS == 8192
    assert check_url(longest).host == "h.example"
    message = exactly(f"the URL must be a string of at most {MAX_URL_CHARS} characters")
    with pytest.raises(BadRequest, match=message):
        check_url(longest + "a")
    with pytest.raises(BadRequest, match=message):
        check_url(b"http://h.example/")  # type: ignore[arg-type]


def test_a_scoped_ipv6_literal_is_forbidden() -> None:
    with pytest.raises(Forbidden, match=exactly(
            "the URL's address is not allowed (scoped IPv6 address)")):
        check_url("http://[fe80::1%25eth0]/")


class Resolver:
    def __init__(self, answers: list[str] | Exception) -> None:
        self.answers, self.calls = answers, []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if isinstance(self.answers, Exception):
            raise self.answers
        return list(self.answers)


NOT_ALLOWED = exactly("the URL's host resolves to an address that is not allowed "
                      "(loopback, private, link-local or reserved)")


def test_every_resolved_address_is_checked() -> None:
    names = Resolver(["93.184.216.34", "2606:4700::1111"])
    policy = NetPolicy(names)
    addresses = policy.resolve(check_url("https://media.example:8443/a"))
    assert addresses == [ipaddress.ip_address("93.184.216.34"),
                         ipaddress.ip_address("2606:4700::1111")]
    assert names.calls == [("media.example", 8443)]
    for answers in (["93.184.216.34", "10.0.0.1"], ["169.254.169.254"], ["::1"]):
        with pytest.raises(Forbidden, match=NOT_ALLOWED):
            NetPolicy(Resolver(answers)).resolve(check_url("http://rebind.example/"))


def test_ip_literals_are_checked_without_resolving() -> None:
    names = Resolver(["93.184.216.34"])
    policy = NetPolicy(names)
    assert policy.resolve(check_url("http://8.8.8.8/")) == [ipaddress.ip_address("8.8.8.8")]
    with pytest.raises(Forbidden, match=NOT_ALLOWED):
        policy.resolve(check_url("http://2130706433/"))
    assert names.calls == []


@pytest.mark.parametrize("answers,error,message", [
    (OSError("no such name"), UpstreamError, "could not resolve the URL's host"),
    (UnicodeError("bad label"), UpstreamError, "could not resolve the URL's host"),
    ([], UpstreamError, "could not resolve the URL's host"),
    (["not-an-address"], UpstreamError, "the resolver gave an invalid address"),
    (["fe80::1%eth0"], Forbidden, "the URL's host resolves to a scoped address"),
    (["2606:4700::1111%eth0"], Forbidden, "the URL's host resolves to a scoped address"),
    (["93.184.216.34%eth0"], Forbidden, "the URL's host resolves to a scoped address"),
    (["93.184.216.34%a%b"], Forbidden, "the URL's host resolves to a scoped address"),
])
def test_resolver_failures(answers: list[str] | Exception, error: type[Exception],
                           message: str) -> None:
    with pytest.raises(error, match=exactly(message)):
        NetPolicy(Resolver(answers)).resolve(check_url("http://media.example/"))


def test_test_allowances_are_exact_loopback_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("K_SERVICE", raising=False)
    policy = NetPolicy.for_tests([("127.0.0.1", 8080), ("::1", 9090)],
                                 resolver=Resolver(["127.0.0.1"]))
    assert policy.allowed_test_sockets == frozenset({("127.0.0.1", 8080), ("::1", 9090)})
    assert policy.allows(ipaddress.ip_address("127.0.0.1"), 8080)
    assert not policy.allows(ipaddress.ip_address("127.0.0.1"), 8081)
    assert not policy.allows(ipaddress.ip_address("127.0.0.2"), 8080)
    assert policy.allows(ipaddress.ip_address("8.8.8.8"), 1)
    assert policy.resolve(check_url("http://a.test:8080/")) == [
        ipaddress.ip_address("127.0.0.1")]
    with pytest.raises(Forbidden, match=NOT_ALLOWED):
        policy.resolve(check_url("http://a.test:8081/"))
    assert NetPolicy.for_tests().allowed_test_sockets == frozenset()
    assert NetPolicy.for_tests().resolver is system_resolver
    with pytest.raises(ConfigError, match=exactly(
            "test allowances are for loopback test servers only")):
        NetPolicy.for_tests([("10.0.0.1", 80)])
    monkeypatch.setenv("K_SERVICE", "media")
    with pytest.raises(ConfigError, match=exactly(
            "test-only fetch allowances are refused in a deployed function")):
        NetPolicy.for_tests([("127.0.0.1", 8080)])
    assert NetPolicy().allowed_test_sockets == frozenset()  # production's policy still builds
    monkeypatch.setenv("K_SERVICE", "")
    assert NetPolicy.for_tests([("127.0.0.1", 1)]).allows(ipaddress.ip_address("127.0.0.1"), 1)


def test_the_system_resolver_answers_every_address() -> None:
    answers = system_resolver("localhost", 80)
    assert answers and set(answers) <= {"127.0.0.1", "::1"}
    assert system_resolver("127.0.0.2", 80) == ["127.0.0.2"]  # that name, one stream answer
