"""SSRF-safe fetching: hostile URLs, redirects, pinning, TLS names, credentials, limits.

Every hostile URL goes through the real ``media`` function and must be refused with a 4xx
JSON error, leave nothing in the exec dir, and reach no server. Loopback test origins are
reachable only through ``NetPolicy.for_tests``' exact (ip, port) allowances, which no setting
can turn on (proved at the bottom).
"""

from __future__ import annotations

import ipaddress
import time

import pytest

from localdev.origin import Origin, Route, self_signed
from shared import factory
from shared.errors import ConfigError, Forbidden, PayloadTooLarge, UpstreamError
from shared.media.fetch import Fetcher, FetchLimits
from shared.media.netpolicy import NetPolicy, check_url, is_public
from tests.media_fixtures import Names, build_service, exec_files, install, post_media

MiB = 1024 * 1024

# (url, expected status). Names ending in .test resolve through the test hook below.
HOSTILE = [
    ("http://127.0.0.1/", 403),
    ("http://localhost/", 403),
    ("http://2130706433/", 403),                         # decimal 127.0.0.1
    ("http://0177.0.0.1/", 403),                         # octal
    ("http://0x7f.0.0.1/", 403),                         # hex octet
    ("http://0x7f000001/", 403),                         # hex integer
    ("http://017700000001/", 403),                       # octal integer
    ("http://127.1/", 403),                              # short form
    ("http://0/", 403),                                  # 0.0.0.0
    ("http://0.0.0.0/", 403),
    ("http://[::]/", 403),
    ("http://[::1]/", 403),
    ("http://[::ffff:127.0.0.1]/", 403),                 # IPv4-mapped
    ("http://[::ffff:7f00:1]/", 403),
    ("http://[0:0:0:0:0:ffff:169.254.169.254]/", 403),
    ("http://[::127.0.0.1]/", 403),                      # IPv4-compatible
    ("http://169.254.169.254/latest/meta-data/", 403),   # the metadata server
    ("http://metadata.google.internal/computeMetadata/v1/", 403),
    ("http://10.0.0.1/", 403),
    ("http://172.16.0.1/", 403),
    ("http://192.168.1.1/", 403),
    ("http://100.64.0.1/", 403),                         # CGNAT
    ("http://198.18.0.1/", 403),                         # benchmarking
    ("http://192.0.0.170/", 403),
    ("http://224.0.0.1/", 403),                          # multicast
    ("http://240.0.0.1/", 403),                          # reserved
    ("http://255.255.255.255/", 403),
    ("http://[fe80::1]/", 403),                          # link-local
    ("http://[fe80::1%25eth0]/", 403),                   # scoped
    ("http://[fc00::1]/", 403),                          # unique local
    ("http://[ff02::1]/", 403),                          # multicast
    ("http://[64:ff9b::7f00:1]/", 403),                  # NAT64 of 127.0.0.1
    ("http://[64:ff9b::a9fe:a9fe]/", 403),               # NAT64 of the metadata server
    ("http://[2002:7f00:1::1]/", 403),                   # 6to4 of 127.0.0.1
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", 403),  # Teredo
    ("http://user@127.0.0.1/", 403),
    ("http://public.test@10.1.2.3/", 403),               # userinfo confusion
    ("http://private.test/x.png", 403),                  # a name resolving to 192.168.0.10
    ("http://rebind.test/", 403),                        # one public, one private record
    ("http://v6private.test/", 403),                     # resolves to fd00::1
    ("https://internal.test/", 403),                     # resolves to 10.0.0.7
    ("file:///etc/passwd", 400),
    ("ftp://example.com/x", 400),
    ("gopher://127.0.0.1:70/_", 400),
    ("dict://127.0.0.1:11211/", 400),
    ("http:///etc/passwd", 400),
    ("http://127.0.0.1:80\\@example.com/", 400),
    ("http://[::1/", 400),
    ("http://127.0.0.1:99999/", 400),
    ("http://exa mple.com/", 400),
]
RESOLVES = {
    "localhost": ["127.0.0.1", "::1"],
    "metadata.google.internal": ["169.254.169.254"],
    "private.test": ["192.168.0.10"],
    "rebind.test": ["93.184.216.34", "10.0.0.5"],
    "v6private.test": ["fd00::1"],
    "internal.test": ["10.0.0.7"],
    "public.test": ["93.184.216.34"],
}


@pytest.mark.parametrize(("url", "status"), HOSTILE)
def test_hostile_urls_are_refused(api, env, media, names, origin, url, status):
    names.table.update(RESOLVES)
    response = post_media(api, {"file": url, "return_format": "for_local_processing",
                                "graph_exec_id": "exec-ssrf"})
    assert response.status_code == status, response.data
    assert response.get_json()["error"]
    assert exec_files(env) == []
    assert origin.seen == []


def test_the_table_is_big_enough():
    assert len(HOSTILE) >= 25
    assert sum(1 for _, status in HOSTILE if status == 403) >= 25


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34",
                                     "2606:4700:4700::1111", "2a00:1450:4001:82b::200e"])
def test_public_addresses_are_allowed(address):
    assert is_public(ipaddress.ip_address(address))


def test_legacy_ipv4_spellings_are_canonicalised():
    for spelling in ("2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7F000001"):
        assert check_url(f"http://{spelling}/").host == "127.0.0.1"
    assert check_url("http://[::FFFF:127.0.0.1]:8080/a?b").host == "::ffff:7f00:1"
    assert check_url("HTTP://Example.COM./p").host == "example.com"


def test_redirect_from_an_allowed_host_to_a_private_one_is_refused(api, env, media, names,
                                                                   origin, other_origin):
    names.table["private.test"] = ["192.168.0.10"]
    origin.routes["/to-metadata"] = Route(302, headers={
        "Location": "http://169.254.169.254/latest/meta-data/"})
    origin.routes["/to-loopback"] = Route(302, headers={
        "Location": other_origin.url("/secret")})  # loopback, but not an allowed socket
    origin.routes["/to-name"] = Route(307, headers={"Location": "http://private.test/x"})
    origin.routes["/to-file"] = Route(301, headers={"Location": "file:///etc/passwd"})
    for path, status in (("/to-metadata", 403), ("/to-loopback", 403), ("/to-name", 403),
                         ("/to-file", 403)):
        response = post_media(api, {"file": origin.url(path), "graph_exec_id": "exec-r",
                                    "return_format": "for_local_processing"})
        assert response.status_code == status, (path, response.data)
    assert [seen.path for seen in origin.seen] == ["/to-metadata", "/to-loopback", "/to-name",
                                                   "/to-file"]
    assert other_origin.seen == []
    assert exec_files(env) == []


def test_allowed_redirects_are_followed_up_to_the_cap(api, env, media, origin):
    origin.routes["/file.txt"] = Route(body=b"redirected content\n")
    origin.routes["/hop"] = Route(302, headers={"Location": "/file.txt"})
    response = post_media(api, {"file": origin.url("/hop"), "graph_exec_id": "exec-h",
                                "return_format": "for_local_processing"})
    assert response.status_code == 200, response.data
    assert response.get_json()["result"] == "file.txt"
    origin.routes["/loop"] = Route(302, headers={"Location": "/loop"})
    origin.seen.clear()
    response = post_media(api, {"file": origin.url("/loop"), "graph_exec_id": "exec-h",
                                "return_format": "for_local_processing"})
    assert response.status_code == 502
    assert "redirected more than 5 times" in response.get_json()["error"]
    assert len(origin.seen) == 6  # the first request and five redirects, then it stops


def test_credentials_are_dropped_across_hosts(env, names, origin, other_origin):
    names.table.update({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    fetcher = Fetcher(NetPolicy.for_tests([("127.0.0.1", origin.port),
                                           ("127.0.0.1", other_origin.port)], names),
                      FetchLimits())
    other_origin.routes["/f"] = Route(body=b"x")
    origin.routes["/f"] = Route(body=b"y")
    origin.routes["/same"] = Route(302, headers={"Location": "/f"})
    origin.routes["/cross"] = Route(302, headers={"Location": other_origin.url("/f", "b.test")})
    for path in ("/same", "/cross"):
        with fetcher.open(origin.url(path, "user:secret@a.test"), MiB) as download:
            assert b"".join(download.chunks()) in {b"x", b"y"}
    auth = {seen.path: seen.headers.get("authorization") for seen in origin.seen}
    assert auth["/same"] and auth["/f"] and auth["/cross"]  # same origin: kept
    assert [seen.headers.get("authorization") for seen in other_origin.seen] == [None]
    assert other_origin.seen[0].headers["host"] == f"b.test:{other_origin.port}"


def test_the_connection_is_pinned_to_the_checked_address(env, names, origin):
    """The name is resolved once per hop; a second answer (a rebinding attack) is never used."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])
    resolver = Names()
    resolver.table = {}

    def flipping(host: str, port: int) -> list[str]:
        resolver.calls.append(host)
        return next(answers)

    origin.routes["/pinned"] = Route(body=b"pinned")
    fetcher = Fetcher(NetPolicy.for_tests([("127.0.0.1", origin.port)], flipping),
                      FetchLimits())
    with fetcher.open(origin.url("/pinned", "flip.test"), MiB) as download:
        assert b"".join(download.chunks()) == b"pinned"
    assert resolver.calls == ["flip.test"]
    assert origin.seen[0].headers["host"] == f"flip.test:{origin.port}"
    with pytest.raises(Forbidden):
        fetcher.open(origin.url("/pinned", "flip.test"), MiB)  # now it answers 10.0.0.1


def test_tls_is_verified_against_the_name_while_pinned_to_the_address(tmp_path, names):
    cert, key = self_signed(tmp_path, ["media.test"])
    server = Origin(tls=(cert, key)).start()
    try:
        server.routes["/secure.txt"] = Route(body=b"over tls")
        names.table.update({"media.test": ["127.0.0.1"], "wrong.test": ["127.0.0.1"]})
        fetcher = Fetcher(NetPolicy.for_tests([("127.0.0.1", server.port)], names),
                          FetchLimits(), ca_certs=str(cert))
        with fetcher.open(server.url("/secure.txt", "media.test"), MiB) as download:
            assert b"".join(download.chunks()) == b"over tls"
        with pytest.raises(UpstreamError, match="TLS"):
            fetcher.open(server.url("/secure.txt", "wrong.test"), MiB)  # name mismatch
        untrusted = Fetcher(NetPolicy.for_tests([("127.0.0.1", server.port)], names),
                            FetchLimits())
        with pytest.raises(UpstreamError, match="TLS"):
            untrusted.open(server.url("/secure.txt", "media.test"), MiB)  # unknown CA
    finally:
        server.stop()


def test_timeouts(env, names, origin):
    origin.routes["/stall"] = Route(stream_bytes=4 * 65536, delay=2.0)
    origin.routes["/drip"] = Route(stream_bytes=600 * 65536, delay=0.1, body=b"d")  # 60 s
    policy = NetPolicy.for_tests([("127.0.0.1", origin.port)], names)
    slow_read = Fetcher(policy, FetchLimits(read_timeout=0.5))
    with slow_read.open(origin.url("/stall"), MiB) as download, pytest.raises(
            UpstreamError, match="stopped sending"):
        b"".join(download.chunks())
    deadline = Fetcher(policy, FetchLimits(read_timeout=5, total_timeout=1.0))
    start = time.monotonic()
    with deadline.open(origin.url("/drip"), 64 * MiB) as download, pytest.raises(
            UpstreamError, match="too long"):
        b"".join(download.chunks())
    # The whole drip takes a minute; the 1 s total deadline ends it far sooner (the bound
    # is loose so a loaded 2-core machine cannot make it flake).
    assert time.monotonic() - start < 20


def test_byte_cap_while_reading(env, names, origin):
    origin.routes["/declared"] = Route(stream_bytes=8 * MiB)
    origin.routes["/undeclared"] = Route(stream_bytes=64 * MiB, send_length=False)
    fetcher = Fetcher(NetPolicy.for_tests([("127.0.0.1", origin.port)], names), FetchLimits())
    with fetcher.open(origin.url("/declared"), MiB) as download, pytest.raises(
            PayloadTooLarge):
        next(download.chunks())  # refused from Content-Length before any body is read
    seen = 0
    with fetcher.open(origin.url("/undeclared"), MiB) as download, pytest.raises(
            PayloadTooLarge):
        for chunk in download.chunks():
            seen += len(chunk)
    assert seen <= MiB


def test_error_statuses_are_502(api, env, media, origin):
    origin.routes["/gone"] = Route(404, b"nope")
    response = post_media(api, {"file": origin.url("/gone"), "graph_exec_id": "exec-e",
                                "return_format": "for_external_api"})
    assert response.status_code == 502
    assert response.get_json() == {"error": "the URL answered HTTP 404", "upstream_status": 404}
    unresolvable = post_media(api, {"file": "http://nowhere.test/x", "graph_exec_id": "e",
                                    "return_format": "for_external_api"})
    assert unresolvable.status_code == 502


# -- the test allowances cannot be switched on in production ---------------------------------
def test_no_setting_opens_loopback(env, origin, monkeypatch):
    """The factory's policy has no allowances, whatever the environment says."""
    for name, value in (("MEDIA_FETCH_ALLOW_LOOPBACK", "true"),
                        ("MEDIA_FETCH_TEST_ALLOW", f"127.0.0.1:{origin.port}"),
                        ("MEDIA_FETCH_ALLOWED_SOCKETS", f"127.0.0.1:{origin.port}")):
        monkeypatch.setenv(name, value)
    factory.reset()
    service = factory.media_service()
    assert service.sources.fetcher.policy.allowed_test_sockets == frozenset()
    origin.routes["/x"] = Route(body=b"x")
    with pytest.raises(Forbidden):
        service.sources.fetcher.open(origin.url("/x"), MiB)
    assert origin.seen == []


def test_test_allowances_are_refused_in_a_deployed_function(monkeypatch):
    monkeypatch.setenv("K_SERVICE", "media")  # set by Cloud Run and Cloud Functions
    with pytest.raises(ConfigError, match="deployed function"):
        NetPolicy.for_tests([("127.0.0.1", 8080)])
    with pytest.raises(ConfigError):
        NetPolicy(allowed_test_sockets=frozenset({("127.0.0.1", 8080)}))
    assert NetPolicy().allowed_test_sockets == frozenset()  # production's policy still builds


def test_test_allowances_are_loopback_only():
    with pytest.raises(ConfigError, match="loopback"):
        NetPolicy.for_tests([("10.0.0.1", 80)])


def test_build_service_helper_uses_the_test_policy(env, names, origin):
    service = build_service([("127.0.0.1", origin.port)], names)
    assert service.sources.fetcher.policy.allowed_test_sockets == {("127.0.0.1", origin.port)}
    assert install  # the helper the HTTP tests use to put it behind the function


def test_hostile_upstream_headers_are_never_a_500(api, env, media, origin):
    """What the remote server sends is its fault: an unparseable Location is a 502, and a
    Content-Length that ``str.isdigit`` accepts but ``int`` refuses ('¹') is ignored."""
    origin.routes["/odd-length"] = Route(body=b"odd length\n", send_length=False,
                                         headers={"Content-Length": "\xb9"})
    response = post_media(api, {"file": origin.url("/odd-length"), "graph_exec_id": "exec-o",
                                "return_format": "for_local_processing"})
    assert response.status_code == 200, response.data
    for location in ("http://[::1/", "http://exa mple.com/", "file:///etc/passwd"):
        origin.routes["/bad-hop"] = Route(302, headers={"Location": location})
        response = post_media(api, {"file": origin.url("/bad-hop"), "graph_exec_id": "exec-o",
                                    "return_format": "for_local_processing"})
        expected = 403 if location.startswith("file:") else 502
        assert response.status_code == expected, (location, response.data)
        assert "error" in response.get_json()
