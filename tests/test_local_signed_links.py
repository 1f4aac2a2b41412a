"""HMAC-signed links of the local blob store (GCS links are GCS's own V4 signatures)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from shared import factory
from tests.contract.test_files_api import PNG
from tests.contract.test_isolation import ALICE_BYTES, BOB_BYTES, _not_found


def test_signed_link_serves_without_token_and_expires(api, monkeypatch):
    file_id = api.upload(b"signed bytes", "s.txt").json["id"]
    link = api.get(f"/files/{file_id}/content?redirect=false")
    assert link.status_code == 200
    assert set(link.json) == {"url", "expires_at"}
    url = link.json["url"].split("localhost", 1)[1]
    plain = api.client.get(url)
    assert plain.status_code == 200 and plain.data == b"signed bytes"
    tampered = url.replace("v=1", "v=2")
    assert api.client.get(tampered).status_code == 404
    other = url.replace(file_id, "file_999999")
    assert api.client.get(other).status_code == 404
    redirected = api.get(f"/files/{file_id}/content?redirect=true")
    assert redirected.status_code == 302 and "/signed?" in redirected.headers["Location"]
    # A link names one version: after an overwrite it still serves that version's bytes
    # (kept until retention, as ?version=1 is), never the new ones; deleting ends it.
    api.upload(b"v2", "s.txt", overwrite="true")
    old = api.client.get(url)
    assert old.status_code == 200 and old.data == b"signed bytes"
    assert api.delete(f"/files/{file_id}").status_code == 200
    assert api.client.get(url).status_code == 404


def test_signed_link_carries_inline_and_public_base_url(api, monkeypatch):


    monkeypatch.setenv("PUBLIC_BASE_URL", "https://files.example.com/")
    factory.reset()
    png_id = api.upload(PNG, "p.png").json["id"]
    link = api.get(f"/files/{png_id}/content?redirect=false&inline=true").json["url"]
    assert link.startswith("https://files.example.com/api/assistant/workspace/files/")
    served = api.client.get(link.removeprefix("https://files.example.com"))
    assert served.status_code == 200
    assert served.headers["Content-Disposition"].startswith("inline")


def test_a_signed_link_cannot_be_bent_to_another_file_or_workspace(api):
    alice_file = api.upload(ALICE_BYTES, "zebra_plan.txt").json
    api.get(f"/files/{alice_file['id']}/content")
    file_id = alice_file["id"]
    other_alice = api.upload(b"alice's other file\n", "other.txt").json["id"]
    bob_first = api.upload(BOB_BYTES, "bob.txt", user="bob").json["id"]
    assert bob_first == file_id == "file_000001"
    bob_ws = api.get("", user="bob").json["workspace_id"]

    link = api.get(f"/files/{file_id}/content?redirect=false", user="alice")
    assert link.status_code == 200
    parts = urlsplit(link.json["url"])
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert set(params) == {"ws", "v", "expires", "sig"}

    def fetch(fid: str = file_id, **changes: str | None):
        query = {**params, **changes}
        query = {k: v for k, v in query.items() if v is not None}
        return api.client.get(f"{parts.path.rsplit('/', 2)[0]}/{fid}/signed?{urlencode(query)}")

    good = fetch()
    assert good.status_code == 200 and good.data == ALICE_BYTES
    # Bob's file has the same id: pointing the link at Bob's workspace must not serve it.
    _not_found(fetch(ws=bob_ws))
    _not_found(fetch(other_alice))
    _not_found(fetch("file_000003"))
    _not_found(fetch(v="2"))
    _not_found(fetch(expires=str(int(params["expires"]) + 3600)))
    _not_found(fetch(sig=params["sig"][:-1] + ("0" if params["sig"][-1] != "0" else "1")))
    _not_found(fetch(sig=params["sig"].upper()))
    _not_found(fetch(sig=None))
    _not_found(fetch(ws=None))
    # Bob's own link for his file_000001 does not open Alice's file_000001 either.
    bob_link = api.get(f"/files/{bob_first}/content?redirect=false", user="bob").json["url"]
    bob_params = {k: v[0] for k, v in parse_qs(urlsplit(bob_link).query).items()}
    assert api.client.get(urlsplit(bob_link).path + "?" + urlencode(bob_params)).data == BOB_BYTES
    _not_found(fetch(**{**bob_params, "ws": params["ws"]}))
    _not_found(fetch(sig=bob_params["sig"]))
    # Signed reads are logged in the owner's workspace only.
    assert [e["details"].get("via") for e in api.get(
        "/logs?operation_type=read", user="alice").json] == ["signed_url", "api"]


def test_signed_link_expires_after_its_ttl(api, monkeypatch):
    """A short TTL: the link serves at first, then 404s once its expiry has passed."""
    import time

    monkeypatch.setenv("DOWNLOAD_URL_TTL_SECONDS", "2")
    factory.reset()
    file_id = api.upload(b"short-lived", "s.txt").json["id"]
    link = api.get(f"/files/{file_id}/content?redirect=false").json
    url = link["url"].split("localhost", 1)[1]
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    assert expires - time.time() <= 2
    fresh = api.client.get(url)
    assert fresh.status_code == 200 and fresh.data == b"short-lived"
    time.sleep(max(0.0, expires - time.time()) + 0.2)
    _not_found(api.client.get(url))


def test_an_expired_signature_is_refused_even_when_genuine():
    """No clock games: a correctly signed link whose expiry is in the past is a 404."""
    import pytest

    from shared.errors import NotFound
    from shared.signing import UrlSigner

    signer = UrlSigner(b"k" * 64)
    live = {k: v[0] for k, v in parse_qs(signer.sign("ws_1", "file_000001", 1, 60)[0]).items()}
    assert signer.verify("ws_1", "file_000001", live["v"], live["expires"], live["sig"]) == 1
    dead = {k: v[0] for k, v in parse_qs(signer.sign("ws_1", "file_000001", 1, -1)[0]).items()}
    with pytest.raises(NotFound):
        signer.verify("ws_1", "file_000001", dead["v"], dead["expires"], dead["sig"])
