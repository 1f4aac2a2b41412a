"""The web app in a real browser (Debian's Chromium through Playwright), on both backends.

One long scenario per backend, on one shared server each: sign in, upload three files with
progress, a 409 answered by an overwrite, a 413, an EICAR upload, search, an image preview
through a signed link, a download, a delete, the
memory (save, a conflict made by a second client, revert), the logs filtered by operation
and the combined search. Every view is screenshotted and checked with axe-core, and at the
end no request URL carried the token and the CSP was never violated. On ``make dev`` the
uploads take the direct path (a PUT to fake-gcs-server) and their status goes from
``pending`` to ``ready`` or ``infected`` as the finalize scan decides. A last test signs in
with Firebase Auth on the emulator.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from localdev.process import LocalServer
from tests.conftest import API, EICAR
from tests.web.browser_helpers import Watched, check_view, png
from tests.web.conftest import emulator_users

SCAN_WAIT_MS = 60_000
FILES = [("notes.md", "text/markdown", b"# Notes\n\nfog in frame 1\n"),
         ("photo.png", "image/png", png(6, 4)),
         ("data.csv", "text/csv", b"a,b\n" + b"1,2\n" * 40_000)]


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def row(page: Any, name: str, status: str | None = None) -> Any:
    found = page.get_by_role("row").filter(has_text=name)
    return found.filter(has_text=status) if status else found


def sign_in(watched: Watched, server: LocalServer, user: str, output: Path, prefix: str) -> str:
    page = watched.page
    response = page.goto(server.url + "/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp
    page.get_by_label("User").wait_for()
    check_view(watched, output, f"{prefix}-sign-in")
    page.get_by_label("User").fill(user)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Files")).to_have_attribute("aria-current", "page")
    for name in ("Memory", "Logs", "Search"):
        expect(page.get_by_role("link", name=name)).to_be_visible()
    return watched.token()


def upload_three(page: Any) -> None:
    page.get_by_label("Upload files").set_input_files(
        [{"name": n, "mimeType": m, "buffer": b} for n, m, b in FILES])
    for name, _mime, _body in FILES:
        bar = page.get_by_role("progressbar", name=f"Upload of {name}")
        expect(bar).to_be_visible()
        expect(row(page, name, "ready")).to_be_visible(timeout=SCAN_WAIT_MS)
        assert bar.evaluate("b => b.value / b.max") == 1


def conflict_then_overwrite(page: Any) -> None:
    """A second upload to a taken path is a 409; the offered overwrite makes version 2."""
    page.get_by_label("Upload files").set_input_files(
        [{"name": "notes.md", "mimeType": "text/markdown", "buffer": b"# Notes\n\nv2\n"}])
    item = page.get_by_role("listitem").filter(has_text="notes.md").first
    expect(item).to_contain_text("A file already exists at /notes.md.")
    expect(item).to_contain_text("conflict")
    page.get_by_role("button", name="Overwrite /notes.md").click()
    expect(item.filter(has_text="ready")).to_be_visible(timeout=SCAN_WAIT_MS)
    page.get_by_role("button", name="Details of notes.md").click()
    expect(page.locator(".meta dt:text-is('Version') + dd")).to_have_text("2")
    page.get_by_role("button", name="Close details").click()


def too_large(page: Any) -> None:
    """The servers run with MAX_FILE_SIZE_MB=1: a 413 names the limit, and nothing is listed."""
    page.get_by_label("Upload files").set_input_files(
        [{"name": "big.bin", "mimeType": "application/octet-stream",
          "buffer": b"\0" * (1024 * 1024 + 4096)}])
    item = page.get_by_role("listitem").filter(has_text="big.bin")
    expect(item).to_contain_text("Too large: the limit is 1 MiB.")
    expect(row(page, "big.bin")).to_have_count(0)


def download(page: Any) -> None:
    with page.expect_download() as info:
        page.get_by_role("button", name="Download data.csv").click()
    assert info.value.suggested_filename == "data.csv"
    assert Path(info.value.path()).read_bytes() == FILES[2][2]


def upload_eicar(page: Any, direct: bool) -> None:
    page.get_by_label("Upload files").set_input_files(
        [{"name": "eicar.txt", "mimeType": "text/plain", "buffer": EICAR}])
    item = page.get_by_role("listitem").filter(has_text="eicar.txt")
    expect(item.filter(has_text="infected")).to_be_visible(timeout=SCAN_WAIT_MS)
    if direct:  # a pending record that the finalize scan marks infected
        expect(row(page, "eicar.txt", "infected")).to_be_visible(timeout=SCAN_WAIT_MS)
    else:  # refused inline with a 422: nothing stored, no row
        expect(item).to_contain_text("Workspace.Test.EICAR")
        expect(row(page, "eicar.txt")).to_have_count(0)


def search_and_preview(page: Any, storage_origin: str) -> None:
    page.get_by_label("Search files").fill("photo")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(row(page, "photo.png", "ready")).to_be_visible()
    expect(row(page, "notes.md")).to_have_count(0)
    page.get_by_role("button", name="Details of photo.png").click()
    image = page.get_by_role("img", name="Preview of photo.png")
    expect(image).to_be_visible()
    page.wait_for_function("i => i.complete && i.naturalWidth === 6", arg=image.element_handle())
    assert image.get_attribute("src").startswith(storage_origin)
    expect(page.get_by_text(re.compile(r"^[0-9a-f]{64}$"))).to_be_visible()  # the checksum
    expect(page.locator(".file-log")).to_contain_text("create")
    # PATCH /files/{id} exists (its probe with a wrong content type is a 415, not a 405):
    # the edit control is shown.
    expect(page.get_by_role("button", name="Save changes")).to_have_count(1)
    page.get_by_role("button", name="Clear search").click()


def folders(page: Any, server: LocalServer, token: str) -> None:
    """The tree comes from GET /folders (sub-folders with their file counts); a folder
    filters the list."""
    sent = requests.post(f"{server.url}{API}/files", data={"path": "/docs/"},
                         files={"file": ("spec.txt", b"the spec\n", "text/plain")},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert sent.status_code == 201, sent.text
    page.get_by_role("button", name="All files").click()
    tree = page.get_by_role("navigation", name="Folders")
    expect(tree.get_by_role("button", name="docs/ (1)")).to_be_visible()  # the served count
    tree.get_by_role("button", name="docs/").click()
    expect(row(page, "spec.txt", "ready")).to_be_visible()
    expect(row(page, "data.csv")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="1 file in /docs/")).to_be_visible()
    page.get_by_role("button", name="All files").click()
    expect(row(page, "data.csv", "ready")).to_be_visible()


def delete_notes(page: Any) -> None:
    page.get_by_role("button", name="Delete notes.md").click()
    page.get_by_role("button", name="Confirm delete notes.md").click()
    expect(row(page, "notes.md")).to_have_count(0)
    expect(row(page, "data.csv", "ready")).to_be_visible()


def memory(page: Any, server: LocalServer, token: str) -> None:
    page.get_by_role("link", name="Memory").click()
    editor = page.get_by_role("textbox", name="Global memory")
    editor.fill("# Plan\n\nThe storyboard needs fog.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Saved as version 1")).to_be_visible()
    expect(page.get_by_text("33 / 100,000 characters")).to_be_visible()
    other = requests.post(f"{server.url}{API}/memory", json={"content": "# Plan\n\nby agent"},
                          headers={"Authorization": f"Bearer {token}", "If-Match": '"1"',
                                   "X-Agent-Id": "second_client"}, timeout=10)
    assert other.status_code == 200 and other.json()["version"] == 2
    editor.fill("# Plan\n\nmine, written on version 1")
    page.get_by_role("button", name="Save", exact=True).click()
    conflict = page.get_by_role("alert").filter(has_text="Conflict")
    expect(conflict).to_contain_text("version 2")
    page.get_by_role("button", name="Overwrite with mine").click()
    expect(page.get_by_role("status").filter(has_text="Saved as version 3")).to_be_visible()
    page.get_by_role("button", name="Revert to version 1").click()
    expect(page.get_by_role("status").filter(has_text="Reverted to version 1")).to_be_visible()
    expect(editor).to_have_value("# Plan\n\nThe storyboard needs fog.")
    expect(page.get_by_role("row").filter(has_text="second_client")).to_have_count(1)


def logs_by_operation(page: Any) -> None:
    page.get_by_role("link", name="Logs").click()
    page.get_by_label("Operation").select_option("delete")
    page.get_by_role("button", name="Apply filters").click()
    body = page.locator(".log-table tbody tr")
    expect(body.first).to_contain_text("delete")
    ops = page.locator(".log-table tbody td:nth-child(2)").all_inner_texts()
    assert ops and set(ops) == {"delete"}, ops
    with page.expect_download() as info:  # fetched with the token in a header, saved as a blob
        page.get_by_role("button", name="Export JSONL").click()
    lines = Path(info.value.path()).read_text().splitlines()
    assert info.value.suggested_filename == "logs.jsonl"
    assert lines and {json.loads(line)["operation_type"] for line in lines} == {"delete"}


def combined_search(page: Any) -> None:
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Search the workspace").fill("fog")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("1 memory match")


def scenario(watched: Watched, server: LocalServer, output: Path, prefix: str,
             direct: bool, storage_origin: str) -> None:
    page = watched.page
    token = sign_in(watched, server, f"web-{uuid.uuid4().hex[:8]}", output, prefix)
    upload_three(page)
    conflict_then_overwrite(page)
    too_large(page)
    upload_eicar(page, direct)
    search_and_preview(page, storage_origin)
    check_view(watched, output, f"{prefix}-files")
    download(page)
    folders(page, server, token)
    delete_notes(page)
    memory(page, server, token)
    check_view(watched, output, f"{prefix}-memory")
    logs_by_operation(page)
    check_view(watched, output, f"{prefix}-logs")
    combined_search(page)
    check_view(watched, output, f"{prefix}-search")
    watched.assert_clean(token)


def test_make_run(browser, embedded_server, output_dir):
    context = browser.new_context()
    try:
        watched = Watched.open(context)
        scenario(watched, embedded_server, output_dir, "run", direct=False,
                 storage_origin=f"{embedded_server.url}{API}/files/")
        puts = [url for method, url in watched.requests if method == "PUT"]
        assert not puts, "the embedded backend has no direct uploads"
    finally:
        context.close()


def test_make_dev(browser, cloud_server, stack, output_dir):
    context = browser.new_context()
    try:
        watched = Watched.open(context)
        scenario(watched, cloud_server, output_dir, "dev", direct=True,
                 storage_origin=stack.gcs.url)
        puts = [url for method, url in watched.requests
                if method == "PUT" and url.startswith(stack.gcs.url)]
        assert len(puts) == 5, puts  # three files, an overwrite and EICAR, straight to storage
        multipart = [url for method, url in watched.requests
                     if method == "POST" and url.endswith(f"{API}/files")]
        assert not multipart
    finally:
        context.close()


def test_firebase_sign_in_on_the_emulator(browser, firebase_server, auth_emulator, output_dir):
    context = browser.new_context()
    try:
        watched = Watched.open(context)
        page = watched.page
        page.goto(firebase_server.url + "/")
        email = f"web-{uuid.uuid4().hex[:8]}@example.com"
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("correct horse")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()
        assert any(u.get("email") == email for u in emulator_users(auth_emulator))
        page.get_by_role("button", name="Sign out").click()
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("correct horse")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("Upload files").set_input_files(
            [{"name": "firebase.txt", "mimeType": "text/plain", "buffer": b"signed in\n"}])
        expect(row(page, "firebase.txt", "ready")).to_be_visible(timeout=SCAN_WAIT_MS)
        check_view(watched, output_dir, "dev-firebase")
        assert not [u for u in watched.urls if "eyJ" in u]
    finally:
        context.close()


@pytest.fixture(autouse=True)
def _fail_fast_timeouts() -> None:
    """Playwright's expect waits 5 s by default; the scenarios name longer waits explicitly."""
    from playwright.sync_api import expect as _expect

    _expect.set_options(timeout=15_000)
