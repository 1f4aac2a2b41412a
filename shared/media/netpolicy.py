"""Where the media fetcher may connect: ``NetPolicy``, ``Target`` and ``check_url``.

Server-side request forgery is stopped here, before any socket is opened:

- ``check_url`` accepts only ``http``/``https`` URLs whose host is a DNS name or an IP
  literal, and canonicalises the legacy IPv4 spellings (``2130706433``, ``0177.0.0.1``,
  ``0x7f.1``) the way ``inet_aton`` and browsers read them, so they are judged as the
  addresses they really are;
- ``NetPolicy.resolve`` resolves the host and checks *every* address: one non-public answer
  refuses the URL (a name with a public and a private record is how DNS rebinding starts).
  The fetcher then connects to the checked address itself, never re-resolving the name.

Public means globally routable unicast: loopback, private, link-local (the metadata server
``169.254.169.254``), CGNAT, multicast, reserved, unspecified, documentation and benchmark
ranges are refused, and so are IPv6 forms that embed an IPv4 address (IPv4-mapped,
IPv4-compatible, NAT64, 6to4, Teredo), since they can route to a private IPv4 host.

``NetPolicy.for_tests`` allows named loopback socket addresses for local test servers. It is
not reachable from settings or the environment, and refuses to exist in a deployed function
(``K_SERVICE`` set).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from shared.errors import BadRequest, ConfigError, Forbidden, UpstreamError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

MAX_URL_CHARS = 8192
_HOST_RE = re.compile(r"[A-Za-z0-9._-]{1,253}")
_LEGACY_IPV4_RE = re.compile(r"[0-9A-Fa-fXx.]+")
# IPv6 ranges that carry an IPv4 address or are otherwise not plain global unicast.
_BLOCKED_V6 = tuple(ipaddress.ip_network(net) for net in (
    "::/96",            # IPv4-compatible (deprecated) and ::, ::1
    "::ffff:0:0/96",    # IPv4-mapped
    "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
    "64:ff9b::/96",     # NAT64 well-known prefix
    "64:ff9b:1::/48",   # NAT64 local-use prefix
    "100::/64",         # discard-only
    "2001::/32",        # Teredo (embeds an IPv4 server and client)
    "2001:db8::/32",    # documentation
    "2002::/16",        # 6to4 (embeds an IPv4 address)
    "fc00::/7",         # unique local
    "fe80::/10",        # link-local
    "fec0::/10",        # site-local (deprecated)
    "ff00::/8",         # multicast
))
_BLOCKED_V4 = tuple(ipaddress.ip_network(net) for net in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
))


def is_public(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses (see the module docstring)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id or any(address in net for net in _BLOCKED_V6):
            return False
    elif any(address in net for net in _BLOCKED_V4):
        return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_loopback
        or address.is_link_local or address.is_private or address.is_unspecified)


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a URL host denotes when it is an IP literal, in any legacy spelling.

    ``inet_aton`` accepts what browsers and libc resolvers accept for IPv4: one to four
    parts, each decimal, octal (leading 0) or hex (0x), so ``http://2130706433/`` and
    ``http://0x7f.1/`` are both 127.0.0.1 and are judged as such.
    """
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.IPv6Address(host[1:-1])
        except ValueError as exc:
            raise BadRequest("the URL's IPv6 host is malformed") from exc
    if _LEGACY_IPV4_RE.fullmatch(host) and any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class Target:
    """One checked URL: where to connect and what to ask for."""

    scheme: str
    host: str              # lower-case DNS name (IDNA) or the canonical IP text
    port: int
    request_target: str    # path and query, as sent on the request line
    userinfo: tuple[str, str] | None = None
    ip_literal: IPAddress | None = None

    @property
    def origin(self) -> tuple[str, str, int]:
        """Scheme, host and port: credentials never cross from one origin to another."""
        return self.scheme, self.host, self.port

    @property
    def host_header(self) -> str:
        """The ``Host`` header (and TLS name) for this target."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def display(self) -> str:
        """``scheme://host`` for logs: never the path or query (they may hold tokens)."""
        return f"{self.scheme}://{self.host_header}"


def check_url(url: str) -> Target:
    """Parse and check a URL the caller gave; 400 for anything but a clean http(s) URL."""
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise BadRequest(f"the URL must be a string of at most {MAX_URL_CHARS} characters")
    if not url.isascii() or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise BadRequest("the URL must be ASCII without spaces or control characters")
    if "\\" in url:
        raise BadRequest("the URL must not contain backslashes")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise BadRequest("the URL is malformed") from exc
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise BadRequest("only http and https URLs can be fetched")
    netloc = parts.netloc
    userinfo: tuple[str, str] | None = None
    if "@" in netloc:
        raw_user, _, netloc = netloc.rpartition("@")
        user, _, password = raw_user.partition(":")
        userinfo = (unquote(user), unquote(password))
    host, port = _split_host_port(netloc, scheme)
    literal = parse_ip_literal(host)
    if literal is not None:
        host = str(literal)
    else:
        host = host.rstrip(".").lower()
        if not _HOST_RE.fullmatch(host) or ".." in host or host.startswith(("-", ".")):
            raise BadRequest("the URL's host is not a valid name")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port, target, userinfo, literal)


def _split_host_port(netloc: str, scheme: str) -> tuple[str, int]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise BadRequest("the URL's IPv6 host is malformed")
        host, rest = netloc[: end + 1], netloc[end + 1:]
    else:
        host, colon, port_text = netloc.partition(":")
        rest = f":{port_text}" if colon else ""
    if not host or host == "[]":
        raise BadRequest("the URL has no host")
    if rest and not re.fullmatch(r":[0-9]{1,5}", rest):
        raise BadRequest("the URL's port is malformed")
    port = int(rest[1:]) if rest else (443 if scheme == "https" else 80)
    if not 0 < port < 65536:
        raise BadRequest("the URL's port is out of range")
    if host.startswith("[") and "%" in host:
        raise Forbidden("the URL's address is not allowed (scoped IPv6 address)")
    return host, port


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _in_deployed_function() -> bool:
    """Cloud Run and Cloud Functions (every current runtime) set ``K_SERVICE``.

    ``FUNCTION_TARGET`` cannot tell: functions-framework sets it in any process that builds
    an app, the local server and the tests included.
    """
    return bool(os.environ.get("K_SERVICE"))


@dataclass(frozen=True)
class NetPolicy:
    """Which addresses may be fetched; ``resolve`` returns the checked ones to pin to."""

    resolver: Resolver = system_resolver
    allowed_test_sockets: frozenset[tuple[str, int]] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.allowed_test_sockets and _in_deployed_function():
            raise ConfigError("test-only fetch allowances are refused in a deployed function")

    @classmethod
    def for_tests(cls, allow: Iterable[tuple[str, int]] = (),
                  resolver: Resolver | None = None) -> NetPolicy:
        """A policy that also allows these exact loopback ``(ip, port)`` pairs.

        Only code can build this (tests and benchmarks); no setting or variable reaches it,
        and it raises ``ConfigError`` inside a deployed function.
        """
        pairs = frozenset((str(ipaddress.ip_address(ip)), int(port)) for ip, port in allow)
        for ip, _port in pairs:
            if not ipaddress.ip_address(ip).is_loopback:
                raise ConfigError("test allowances are for loopback test servers only")
        return cls(resolver or system_resolver, pairs)

    def allows(self, address: IPAddress, port: int) -> bool:
        """True when a connection to ``address:port`` is permitted."""
        return is_public(address) or (str(address), port) in self.allowed_test_sockets

    def resolve(self, target: Target) -> list[IPAddress]:
        """The addresses to connect to, every one checked; 403 if any is not allowed."""
        if target.ip_literal is not None:
            addresses = [target.ip_literal]
        else:
            try:
                raw = self.resolver(target.host, target.port)
            except (OSError, UnicodeError) as exc:
                raise UpstreamError("could not resolve the URL's host") from exc
            addresses = []
            for text in raw:
                try:
                    addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
                except ValueError as exc:
                    raise UpstreamError("the resolver gave an invalid address") from exc
                if "%" in text:
                    raise Forbidden("the URL's host resolves to a scoped address")
            if not addresses:
                raise UpstreamError("could not resolve the URL's host")
        for address in addresses:
            if not self.allows(address, target.port):
                raise Forbidden("the URL's host resolves to an address that is not allowed "
                                "(loopback, private, link-local or reserved)")
        return addresses
