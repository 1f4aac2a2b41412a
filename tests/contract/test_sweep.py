"""The maintenance sweep: crashed uploads never hold a path or leave bytes behind."""

from __future__ import annotations

from shared import factory
from shared.models import FileDraft


def _draft(path: str) -> FileDraft:
    return FileDraft(filename=path.rsplit("/", 1)[1], path=path, session_id=None,
                     description="", tags=(), created_by=None, metadata={})


def test_abandoned_reservation_is_released_and_path_freed(api):
    service = factory.file_service()
    ws = service.meta.get_or_create_workspace("alice")
    # A process that reserved the path and died before finalizing.
    service.meta.reserve_file(ws.id, _draft("/crash.txt"), overwrite=False)
    assert api.upload(b"x", "crash.txt").status_code == 409
    listed = api.get("/files").json
    assert [(f["path"], f["status"]) for f in listed] == [("/crash.txt", "pending")]
    assert api.get(f"/files/{listed[0]['id']}/content").status_code == 409
    assert factory.maintenance().files.sweep(stale_after_seconds=3600)["reservations_released"] == 0
    assert factory.maintenance().files.sweep(stale_after_seconds=-1)["reservations_released"] == 1
    assert api.get("/files").json == []
    assert api.upload(b"x", "crash.txt").status_code == 201
