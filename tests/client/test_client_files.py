"""The client's files API against a real embedded server: uploads (path, file object, stream,
progress, multipart fallback), conflicts, malware, paging, lookups, downloads and errors."""

from __future__ import annotations

import hashlib
import io

import pytest
import requests
from workspace_client import (
    BadRequest,
    Conflict,
    Infected,
    NotFound,
    NotSupported,
    Unauthorized,
    Workspace,
)

from tests.conftest import EICAR


class OneWayStream(io.RawIOBase):
    """A readable stream that cannot seek or tell (a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_upload_from_a_path_streams_with_progress(ws: Workspace, tmp_path) -> None:
    local = tmp_path / "report.txt"
    content = b"quarterly numbers\n" * 200_000  # 3.6 MB: several chunks
    local.write_bytes(content)
    seen: list[tuple[int, int | None]] = []
    record = ws.upload(local, path="/reports/", description="Q3 report", tags=["q3", "finance"],
                       metadata={"draft": True}, progress=lambda s, t: seen.append((s, t)))
    assert record.status == "ready" and record.id.startswith("file_")
    assert record.path == "/reports/report.txt" and record.filename == "report.txt"
    assert record.size_bytes == len(content)
    assert record.checksum == hashlib.sha256(content).hexdigest()
    assert record.tags == ("q3", "finance") and record.metadata == {"draft": True}
    assert record.created_by == "tester"  # X-Agent-Id became the creator
    assert len(seen) > 1 and seen[-1] == (len(content), len(content))
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)


def test_upload_from_file_objects(ws: Workspace) -> None:
    buffer = io.BytesIO(b"HEADERbody bytes")
    buffer.seek(6)  # only what is left from the current position is sent
    record = ws.upload(buffer, path="/in/body.txt")
    assert record.path == "/in/body.txt" and record.filename == "body.txt"
    assert ws.read_bytes(record.id) == b"body bytes"
    piped = ws.upload(OneWayStream(b"from a pipe\n" * 1000), filename="pipe.txt")
    assert piped.size_bytes == 12_000 and ws.read_bytes(piped.id) == b"from a pipe\n" * 1000


def test_auto_falls_back_to_multipart_where_direct_uploads_are_not_offered(server, token) -> None:
    with Workspace(server.url, token, direct_threshold=0) as client:
        assert client.direct_uploads is None
        record = client.upload(b"small but eligible\n", filename="a.txt")
        assert record.status == "ready"
        assert client.direct_uploads is False  # the 501 was remembered
        with pytest.raises(NotSupported):
            client.upload(b"x", filename="b.txt", method="direct")
        created = [e for e in client.logs(resource_id=record.id, operation_type="create")]
        assert len(created) == 1 and created[0].details.get("via") != "upload_url"


def test_conflict_then_overwrite_keeps_the_id(ws: Workspace) -> None:
    first = ws.upload(b"v1", path="/notes/plan.md")
    with pytest.raises(Conflict) as caught:
        ws.upload(b"v2", path="/notes/plan.md")
    assert caught.value.status == 409
    assert caught.value.path == "/notes/plan.md" and caught.value.file_id == first.id
    second = ws.upload(b"v2", path="/notes/plan.md", overwrite=True)
    assert (second.id, second.version) == (first.id, 2)
    assert ws.read_bytes(first.id) == b"v2"


def test_malware_raises_infected_with_the_signature(ws: Workspace) -> None:
    with pytest.raises(Infected) as caught:
        ws.upload(EICAR, filename="eicar.txt")
    assert caught.value.signature == "Workspace.Test.EICAR.UNOFFICIAL"
    assert "malware" in str(caught.value)
    assert list(ws.files()) == []


def test_paging_iterates_every_page_with_filters(ws: Workspace) -> None:
    ids = [ws.upload(f"file {n}\n".encode(), path=f"/batch/f{n}.txt",
                     tags=["even"] if n % 2 == 0 else []).id for n in range(5)]
    ws.upload(b"elsewhere", path="/other/x.txt")
    assert [f.id for f in ws.files(path="/batch/", page_size=2)] == ids
    first = ws.files_page(path="/batch/", limit=2)
    assert [f.id for f in first.items] == ids[:2] and first.next_cursor
    second = ws.files_page(path="/batch/", limit=2, cursor=first.next_cursor)
    assert [f.id for f in second.items] == ids[2:4]
    assert [f.id for f in ws.files(tag="even", page_size=1)] == ids[0::2]
    assert [f.id for f in ws.files(page_size=2, limit=3)] == ids[:3]
    assert ws.count_files(path="/batch/") == 5 and ws.count_files(tag="even") == 3


def test_find_resolve_search_and_delete(ws: Workspace) -> None:
    record = ws.upload(b"# Lighthouse\n", path="/story/lighthouse.md", description="Frame one")
    ws.upload(b"decoy", path="/story/lighthouse.md.bak")
    assert ws.find("/story/lighthouse.md").id == record.id
    assert ws.resolve(record.id).path == "/story/lighthouse.md"
    assert ws.search_files("lighthouse")[0].id == record.id
    hits = ws.search("frame", types=["files"])
    assert [h.id for h in hits.files] == [record.id] and hits.logs == ()
    deleted = ws.delete_file(record.id)
    assert deleted.is_deleted
    with pytest.raises(NotFound):
        ws.get_file(record.id)
    with pytest.raises(LookupError):  # NotFound is a LookupError too
        ws.find("/story/lighthouse.md")


def test_download_to_a_file_and_through_a_link(ws: Workspace, tmp_path) -> None:
    content = bytes(range(256)) * 8000
    record = ws.upload(content, filename="blob.bin")
    target = tmp_path / "copy.bin"
    seen: list[int] = []
    assert ws.download(record.id, target, progress=lambda s, t: seen.append(s)) == len(content)
    assert target.read_bytes() == content and seen[-1] == len(content)
    sink = io.BytesIO()
    ws.download(record.id, sink)
    assert sink.getvalue() == content
    link = ws.download_link(record.id)
    fetched = requests.get(link.url, timeout=30)  # no token: the link is the credential
    assert fetched.status_code == 200 and fetched.content == content
    assert link.expires_at is not None


def test_errors_are_typed(server, ws: Workspace) -> None:
    with Workspace(server.url, "not-a-token") as stranger, pytest.raises(Unauthorized) as caught:
        stranger.info()
    assert caught.value.status == 401 and caught.value.message
    with pytest.raises(BadRequest):
        ws.files_page(limit=0)
    with pytest.raises(ValueError):  # BadRequest is a ValueError
        ws.count_files(file_type="spreadsheet")
    with pytest.raises(NotFound):
        ws.download(f"file_{999999:06d}", io.BytesIO())


def test_info_summary_and_health(ws: Workspace) -> None:
    ws.upload(b"one", filename="one.txt")
    info = ws.info()
    assert info.workspace_id.startswith("ws_") and info.file_count == 1
    summary = ws.summary()
    assert summary.workspace_id == info.workspace_id
    assert summary.raw["statistics"]["memory_max_length"] == 100000
    assert ws.health()["status"] == "ok"
