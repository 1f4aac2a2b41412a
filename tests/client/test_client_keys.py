"""API keys through the client, the ``ws`` command line and ``ws mcp``, on both real servers:
``make run`` (embedded SQLite) and the ``make dev`` stack (fake-gcs-server + the Firestore
emulator). Keys, scopes (403 naming the scope), revocation (401 on the next request), the
key's agent as the default creator, and the per-key rate limit (429, then the client's
retry honours ``Retry-After`` and succeeds).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from workspace_client import (
    Forbidden,
    RateLimited,
    RetryPolicy,
    Unauthorized,
    Workspace,
)

from localdev.process import LocalServer
from tests.client.conftest import KEY_RATE_PER_MINUTE, run_ws
from tests.client.test_mcp import speak, text_of


@pytest.fixture(params=["embedded", "dev"])
def stack(request: pytest.FixtureRequest) -> LocalServer:
    """The package's ``make run`` server, then its ``make dev`` stack."""
    return request.getfixturevalue("server" if request.param == "embedded" else "dev_server")


@pytest.fixture
def ws(stack: LocalServer, token: str) -> Iterator[Workspace]:
    """The client on the user's workspace (a user's token), on the stack under test."""
    with Workspace(stack.url, token, agent_id="tester") as client:
        yield client


def test_create_list_revoke_and_the_secret_is_shown_once(ws: Workspace) -> None:
    created = ws.keys.create("reader", ["files:read"], agent_id="ci", expires_in_days=1)
    assert created.key.startswith("wsk_") and created.info.prefix
    assert created.key.startswith(created.info.prefix)
    assert created.info.expires_at is not None and created.info.agent_id == "ci"
    listed = ws.keys.list()
    assert [k.id for k in listed] == [created.info.id]
    assert "key" not in listed[0].raw and listed[0].scopes == ("files:read",)
    ws.keys.revoke(created.info.id)
    assert ws.keys.list() == []


def test_a_files_read_key_lists_but_gets_403_on_writes(stack, ws: Workspace) -> None:
    ws.upload(b"visible", filename="v.txt")
    key = ws.keys.create("reader", ["files:read"]).key
    with Workspace(stack.url, key) as reader:
        assert [f.filename for f in reader.files()] == ["v.txt"]
        with pytest.raises(Forbidden) as upload:
            reader.upload(b"nope", filename="n.txt")
        assert upload.value.scope == "files:write"
        with pytest.raises(Forbidden) as memory:
            reader.memory.append("nope")
        assert memory.value.scope == "memory:write"
        with pytest.raises(Forbidden) as child:  # a key cannot create keys
            reader.keys.create("child", ["files:read"])
        assert child.value.scope is None
    assert [f.filename for f in ws.files()] == ["v.txt"] and ws.memory.get().content == ""


def test_a_revoked_key_gets_401_on_its_next_request(stack, ws: Workspace) -> None:
    created = ws.keys.create("short", ["files:read"])
    with Workspace(stack.url, created.key) as holder:
        assert holder.count_files() == 0
        ws.keys.revoke(created.info.id)
        with pytest.raises(Unauthorized):
            holder.count_files()


def test_a_key_s_agent_id_is_the_default_creator(stack, ws: Workspace) -> None:
    created = ws.keys.create("writer", ["files:write", "files:read", "logs:read"],
                             agent_id="ingest_bot")
    with Workspace(stack.url, created.key) as writer:
        record = writer.upload(b"by key", filename="k.txt")
        assert record.created_by == "ingest_bot"
        entry = next(writer.logs(resource_id=record.id))
        assert entry.agent_id == "ingest_bot" and entry.details["api_key"] == created.info.id
    ops = [(e.operation_type, e.resource_type, e.resource_id) for e in ws.logs()]
    assert ("create", "key", created.info.id) in ops


def test_a_key_s_direct_upload_names_the_key_in_the_log(dev_server, token) -> None:
    with Workspace(dev_server.url, token) as owner:
        created = owner.keys.create("bulk", ["files:write", "files:read", "logs:read"],
                                    agent_id="bulk_bot")
    with Workspace(dev_server.url, created.key) as writer:
        record = writer.upload(b"direct by key\n", filename="d.txt", method="direct")
        assert (record.status, record.created_by) == ("ready", "bulk_bot")
        made = next(writer.logs(resource_id=record.id, operation_type="create"))
    assert made.details["via"] == "upload_url" and made.details["api_key"] == created.info.id
    assert made.agent_id == "bulk_bot"


def test_rate_limited_key_gets_429_and_the_client_s_retry_succeeds(stack, ws) -> None:
    key = ws.keys.create("busy", ["files:read"]).key
    with Workspace(stack.url, key, retry=RetryPolicy(attempts=1)) as impatient:
        answered = 0
        with pytest.raises(RateLimited) as caught:
            for _ in range(3 * KEY_RATE_PER_MINUTE):
                impatient.count_files()
                answered += 1
        assert KEY_RATE_PER_MINUTE <= answered <= KEY_RATE_PER_MINUTE + 2
        assert caught.value.retry_after is not None and caught.value.retry_after >= 1
        waits: list[float | None] = []
        patient_policy = _RecordingPolicy(attempts=10, max_retry_after=120, waits=waits)
        with Workspace(stack.url, key, retry=patient_policy) as patient:
            # The bucket refills a request every 2 s: if one came back between the refusal
            # and this call, the call is not refused; drain again and repeat.
            for _ in range(3):
                started = time.monotonic()
                assert patient.count_files() == 0  # waited for Retry-After, then succeeded
                if any(wait is not None for wait in waits):  # refused with a Retry-After
                    break
                with pytest.raises(RateLimited):
                    for _ in range(3 * KEY_RATE_PER_MINUTE):
                        impatient.count_files()
        assert min(wait for wait in waits if wait is not None) >= 1  # the server's Retry-After
        assert time.monotonic() - started >= 0.5


@dataclass(frozen=True)
class _RecordingPolicy(RetryPolicy):
    """The client's own policy, noting each Retry-After it waits for."""

    waits: list[float | None] = field(default_factory=list)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        self.waits.append(retry_after)
        return super().delay(attempt, retry_after)


def test_ws_keys_commands(stack, token) -> None:
    created = run_ws(stack.url, token, "keys", "create", "cli", "--scope", "files:read",
                     "--scope", "logs:read", "--agent", "cli_bot")
    assert created.returncode == 0 and created.stdout.strip().startswith("wsk_")
    listed = json.loads(run_ws(stack.url, token, "keys", "ls", "--json").stdout)
    assert [k["name"] for k in listed] == ["cli"] and "key" not in listed[0]
    assert listed[0]["agent_id"] == "cli_bot"
    denied = run_ws(stack.url, created.stdout.strip(), "mem", "append", "x")
    assert denied.returncode == 3 and "memory:write" in denied.stderr
    assert run_ws(stack.url, token, "keys", "revoke", listed[0]["id"]).returncode == 0
    assert run_ws(stack.url, created.stdout.strip(), "ls").returncode == 3


def test_mcp_missing_scope_is_a_clear_tool_error(stack, ws: Workspace) -> None:
    key = ws.keys.create("mcp-reader", ["files:read"]).key

    async def talk(session):
        return await session.call_tool("write_file", {"path": "/x.txt", "content": "x"})

    result = speak(stack.url, key, talk)
    assert result.is_error and text_of(result)["status"] == 403
    assert text_of(result)["missing_scope"] == "files:write"
