"""Events end to end on the emulators, as ``make dev`` runs them (``tests.cloud_stack``).

A subscriber on the events topic (Pub/Sub emulator) receives what the outbox publisher
(``localdev.publisher``, a process of its own) drains from Firestore: exactly one ``ready``
for a direct upload and one ``infected`` for EICAR, with their versions and stable ids; a
redelivered finalize changes nothing and emits nothing; a rescan after a signature reload
emits ``infected`` and the content becomes a 409; and a publisher killed mid-drain loses
nothing: the next one resumes (at least once, in order per file, deduplicated by id).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from localdev.publisher import PublisherProcess
from shared import factory
from shared.events import event_id
from tests.cloud_stack import EVENTS_TOPIC, INCOMING, PROJECT, Stack
from tests.conftest import EICAR, Api, post_json
from tests.test_direct_upload_e2e import (
    _generation_from_quarantine_or_lock,
    _publish_finalize,
    ask,
    put,
    record,
    wait_for,
)


class Subscriber:
    """A pull subscription (ordered) on the events topic, created for one test."""

    def __init__(self, stack: Stack) -> None:
        from google.cloud import pubsub_v1

        self.client = pubsub_v1.SubscriberClient()
        self.path = self.client.subscription_path(PROJECT, f"test-{uuid.uuid4().hex[:8]}")
        self.client.create_subscription(request={
            "name": self.path, "topic": f"projects/{PROJECT}/topics/{EVENTS_TOPIC}",
            "enable_message_ordering": True, "ack_deadline_seconds": 10})
        self.received: list[dict[str, Any]] = []

    def pull(self) -> list[dict[str, Any]]:
        """Everything delivered so far (acknowledged as it comes)."""
        from google.api_core.exceptions import DeadlineExceeded

        try:
            reply = self.client.pull(request={"subscription": self.path, "max_messages": 500},
                                     timeout=1)
        except DeadlineExceeded:
            return self.received
        if reply.received_messages:
            self.client.acknowledge(request={"subscription": self.path, "ack_ids": [
                m.ack_id for m in reply.received_messages]})
        for message in reply.received_messages:
            event = json.loads(message.message.data)
            assert message.message.attributes["ce-id"] == event["id"]
            assert message.message.ordering_key == f"{event['workspaceid']}/{event['subject']}"
            self.received.append(event)
        return self.received

    def of(self, workspace_id: str) -> list[dict[str, Any]]:
        return [e for e in self.pull() if e["workspaceid"] == workspace_id]

    def close(self) -> None:
        self.client.delete_subscription(request={"subscription": self.path})
        self.client.close()


@pytest.fixture
def subscriber(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Subscriber]:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", stack.pubsub.host_port)
    sub = Subscriber(stack)
    yield sub
    sub.close()


@pytest.fixture
def user() -> str:
    return f"u{uuid.uuid4().hex[:10]}"


def workspace_of(api: Api, user: str) -> str:
    return factory.metadata_store().get_or_create_workspace(user).id


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(e["type"].rsplit(".", 1)[1], e["subject"], e["data"]["version"]) for e in events]


def arrived(sub: Subscriber, ws: str, count: int) -> Callable[[], list[dict[str, Any]]]:
    return lambda: (lambda got: got if len(got) >= count else None)(sub.of(ws))


def test_one_ready_and_one_infected_event_for_direct_uploads(cloud_api, stack, subscriber,
                                                             user):
    api = cloud_api
    clean = b"direct upload, clean\n"
    good, bad = ask(api, user, clean), ask(api, user, EICAR, filename="eicar.txt")
    assert put(good, clean).status_code == 200 and put(bad, EICAR).status_code == 200
    ws = workspace_of(api, user)
    events = wait_for(arrived(subscriber, ws, 2), "the two events")
    time.sleep(3)  # anything extra would arrive by now
    events = subscriber.of(ws)
    assert sorted(kinds(events)) == sorted([("ready", good["file_id"], 1),
                                            ("infected", bad["file_id"], 1)])
    ready = next(e for e in events if e["subject"] == good["file_id"])
    assert ready["specversion"] == "1.0" and ready["type"] == "workspace.file.ready"
    assert ready["id"] == event_id(ws, good["file_id"], record(api, user, good["file_id"])[
        "revision"])
    assert ready["data"]["checksum"] == record(api, user, good["file_id"])["checksum"]
    assert ready["data"]["verdict"] == "clean"
    infected = next(e for e in events if e["subject"] == bad["file_id"])
    assert infected["data"]["verdict"] == "infected" and infected["data"]["checksum"]
    assert "url" not in json.dumps(events).lower()  # never a signed URL, never content
    feed = api.get("/events", user=user).get_json()["events"]
    assert sorted(e["id"] for e in feed) == sorted(e["id"] for e in events)

    # The same finalize delivered again: no state change, so no event.
    name = good["upload_url"].split(f"/{INCOMING}/")[1].split("?")[0]
    generation = wait_for(lambda: _generation_from_quarantine_or_lock(stack, name),
                          "the processed generation")
    _publish_finalize(stack, INCOMING, name, generation, len(clean))
    time.sleep(4)
    assert len(subscriber.of(ws)) == 2
    assert len(api.get("/events", user=user).get_json()["events"]) == 2


def test_a_rescan_after_a_signature_reload_emits_infected(cloud_api, stack, subscriber, user):
    api = cloud_api
    marker = f"e2e-rescan-{uuid.uuid4().hex}".encode()
    stored = api.upload(b"clean until today " + marker, "report.txt", user=user).get_json()
    assert stored["status"] == "ready"
    ws = workspace_of(api, user)
    wait_for(arrived(subscriber, ws, 1), "the ready event")
    stack.clamd.add_signature(f"Workspace.Test.E2E{uuid.uuid4().hex[:6]}", marker)
    report = factory.rescan_job().run()
    assert report["this_run"]["infected"] >= 1 and report["remaining"] == 0
    events = wait_for(arrived(subscriber, ws, 2), "the infected event")
    assert kinds(events) == [("ready", stored["id"], 1), ("infected", stored["id"], 1)]
    assert api.get(f"/files/{stored['id']}/content?redirect=false",
                   user=user).status_code == 409
    assert post_json(api, f"/files/{stored['id']}/rescan", {}, user=user).status_code == 409


def test_a_publisher_killed_mid_drain_loses_no_event(cloud_api, stack, subscriber, user,
                                                     tmp_path):
    api = cloud_api
    stack.publisher.stop()  # its lease (2 s here) outlives it: the next one waits it out
    try:
        for n in range(30):
            body = {"content": f"line {n}\n", "append": True}
            assert post_json(api, "/memory", body, user=user).status_code == 200
        ws = workspace_of(api, user)
        first = PublisherProcess(tmp_path / "p1", stack.env, batch=1).start()
        try:
            wait_for(arrived(subscriber, ws, 3), "the first events", timeout=30)
        finally:
            first.kill()  # SIGKILL, mid-drain: no clean-up at all
        assert len(subscriber.of(ws)) < 30, "the drain finished before the kill"
        second = PublisherProcess(tmp_path / "p2", stack.env).start()
        try:
            wait_for(lambda: len({e["id"] for e in subscriber.of(ws)}) >= 30,
                     "every event, from the second publisher", timeout=60)
        finally:
            second.stop()
    finally:
        stack.publisher.start()
    events = subscriber.of(ws)
    feed = api.get("/events?limit=1000", user=user).get_json()["events"]
    assert {e["id"] for e in events} == {e["id"] for e in feed} and len(feed) == 30
    versions = [e["data"]["version"] for e in events]
    firsts = sorted(set(versions), key=versions.index)
    assert firsts == list(range(1, 31))  # in order (a redelivered one may repeat)
