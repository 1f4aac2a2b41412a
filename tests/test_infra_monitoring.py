"""The Terraform of events, rescans and observability is wired to what the code does.

Offline (no providers here): ``infra/`` is parsed with python-hcl2 (``tests.infra_hcl``).
The events topic has its dead-letter topic and the service agent's grants, the publisher
runs on new outbox documents with retries and may publish to the topic its setting names,
the rescan job runs on a schedule with OIDC; every log-based metric filters on a structured
line the code really writes, every alert policy watches a metric that exists, and the
dashboard charts each metric.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra_hcl import block, blocks, load_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def code_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for top in ("shared", "functions")
                     for p in (ROOT / top).rglob("*.py"))


def test_events_topic_dead_letters_and_grants(cfg):
    topics = cfg.of_type("google_pubsub_topic")
    assert {"events", "events_dead_letter"} <= set(topics)
    sub = cfg.resource("google_pubsub_subscription", "events")
    assert sub["topic"] == "${google_pubsub_topic.events.id}"
    assert sub["enable_message_ordering"] is True
    policy = block(sub, "dead_letter_policy")
    assert policy["dead_letter_topic"] == "${google_pubsub_topic.events_dead_letter.id}"
    assert 5 <= policy["max_delivery_attempts"] <= 100
    agent = "gcp-sa-pubsub.iam.gserviceaccount.com"
    dlq = cfg.resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert agent in dlq["member"] and dlq["role"] == "roles/pubsub.publisher"
    assert agent in cfg.resource("google_pubsub_subscription_iam_member",
                                 "dead_letter_subscriber")["member"]
    publishers = cfg.resource("google_pubsub_topic_iam_member", "events_publishers")
    assert publishers["topic"] == "${google_pubsub_topic.events.id}"
    assert publishers["role"] == "roles/pubsub.publisher"


def test_the_publisher_runs_on_new_outbox_documents(cfg):
    fn = cfg.resource("google_cloudfunctions2_function", "publish")
    assert block(fn, "build_config")["entry_point"] == "publish_events"
    trigger = block(fn, "event_trigger")
    assert trigger["event_type"] == "google.cloud.firestore.document.v1.created"
    assert trigger["retry_policy"] == "RETRY_POLICY_RETRY"
    paths = [f["value"] for f in blocks(trigger, "event_filters")
             if f.get("attribute") == "document"]
    assert paths == ["workspaces/{workspace}/events/{event}"]  # shared.metadata.firestore
    assert "collection(\"events\")" in (ROOT / "shared/metadata/firestore/refs.py").read_text()
    env = cfg.locals["function_env"]
    assert env["publish_events"]["EVENTS_TOPIC"] == "${google_pubsub_topic.events.id}"
    assert env["sweep"]["EVENTS_TOPIC"] == "${google_pubsub_topic.events.id}"  # the backstop
    receiver = cfg.resource("google_project_iam_member", "publish_event_receiver")
    assert receiver["role"] == "roles/eventarc.eventReceiver"
    invoker = cfg.resource("google_cloud_run_v2_service_iam_member", "publish_trigger")
    assert invoker["member"] == trigger["service_account_email"].join(("serviceAccount:", ""))
    ttl = [b for b in cfg.of_type("google_firestore_field").values()
           if b.get("collection") == "events" and b.get("field") == "expire_at"]
    assert len(ttl) == 1 and block(ttl[0], "ttl_config") is not None


def test_the_rescan_job_runs_on_a_schedule_with_oidc(cfg):
    job = cfg.resource("google_cloud_scheduler_job", "rescan")
    target = block(job, "http_target")
    uri = '${google_cloudfunctions2_function.http["rescan"].service_config[0].uri}'
    assert target["uri"] == uri and block(target, "oidc_token")["audience"] == uri
    assert "rescan" in cfg.locals["http_functions"]
    invoker = cfg.resource("google_cloud_run_v2_service_iam_member", "rescan_scheduler")
    assert invoker["member"] == "serviceAccount:${google_service_account.scheduler.email}"
    grants = {(g["who"], g["bucket"]): g["role"] for g in cfg.locals["bucket_grants"].values()}
    assert grants[("rescan", "quarantine")] == "creator"
    assert grants[("clamav", "files")] == "viewer"  # the front reads the stored generation


def test_every_log_metric_filters_on_lines_the_code_writes(cfg):
    code = code_text()
    filters = [cfg.locals["scan_lines"]] + [m["filter"] for m in
                                            cfg.locals["log_metrics"].values()]
    for text in filters:
        for field, value in re.findall(r'jsonPayload\.(\w+)="([^"]+)"', text):
            assert f'"{field}": "{value}"' in code or (
                field == "error_class" and f"class {value}(" in code), (field, value)
    scans = cfg.resource("google_logging_metric", "scans")
    assert scans["label_extractors"]["verdict"] == "EXTRACT(jsonPayload.verdict)"
    latency = cfg.resource("google_logging_metric", "scan_latency")
    assert latency["value_extractor"] == "EXTRACT(jsonPayload.duration_ms)"
    assert block(latency, "metric_descriptor")["value_type"] == "DISTRIBUTION"
    for name in ("verdict", "bytes", "duration_ms", "engine", "db_version", "ingress"):
        assert f'"{name}"' in (ROOT / "shared/scanning/base.py").read_text()
    assert set(cfg.locals["log_metrics"]) == {"scanner_unavailable", "finalize_retries",
                                              "finalize_dead_letters"}


def test_alerts_watch_metrics_that_exist_and_the_dashboard_charts_them(cfg):
    policies = cfg.of_type("google_monitoring_alert_policy")
    assert set(policies) == {"infected_file", "scanner_unavailable", "dead_letters"}
    filters = {name: [block(c, "condition_threshold")["filter"]
                      for c in blocks(body, "conditions")] for name, body in policies.items()}
    assert "google_logging_metric.scans.name" in filters["infected_file"][0]
    assert 'verdict=\\"infected\\"' in filters["infected_file"][0] or \
        'verdict="infected"' in filters["infected_file"][0]
    unavailable = block(blocks(policies["scanner_unavailable"], "conditions")[0],
                        "condition_threshold")
    assert 'counters["scanner_unavailable"]' in unavailable["filter"]
    assert unavailable["duration"] == "300s"
    assert any("events_dead_letter.name" in f and "num_undelivered_messages" in f
               for f in filters["dead_letters"])
    dashboard = cfg.resource("google_monitoring_dashboard", "workspace")["dashboard_json"]
    for metric in ("scans.name", "scan_latency.name", '"scanner_unavailable"',
                   '"finalize_retries"', '"finalize_dead_letters"'):
        assert metric in str(dashboard), metric
