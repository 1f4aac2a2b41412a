"""The Terraform in ``infra/`` is wired right: functions, trigger, buckets, IAM, ClamAV.

``terraform validate`` cannot run here (no providers), so each checker of
``tests/infra_checks.py`` runs on the parsed configuration and must find nothing, then on a
deliberately broken copy and must name the break.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.config import Settings
from tests import infra_checks as ic
from tests.infra_hcl import INFRA, ROOT, Config, exported_entry_points, load_config

FINAL_ENTRY_POINTS = ["files", "logs", "memory", "search", "workspace", "media",
                      "scan_uploaded_file", "sweep", "auth", "rescan", "publish_events"]
#: Names contract.md adds to shared/config.py (issues 5 and 6), plus names read outside
#: Settings (logging, the project) and by the ClamAV front.
CONTRACT_ENV = {"INCOMING_GCS_BUCKET_NAME", "QUARANTINE_GCS_BUCKET_NAME",
                "SCAN_EVENT_MAX_AGE_SECONDS", "UPLOAD_URL_TTL_SECONDS", "CLAMAV_SERVICE_URL",
                "CLAMAV_FRONT_ALLOWED_INVOKERS", "MEDIA_EXEC_ROOT", "MEDIA_GCS_ALLOWED_BUCKETS",
                "LOG_FORMAT", "LOG_LEVEL", "GOOGLE_CLOUD_PROJECT", "CLAMAV_MIRROR_URL"}
ALLOWED_ENV = {f.name.upper() for f in dataclasses.fields(Settings)} | CONTRACT_ENV


@pytest.fixture(scope="module")
def real() -> Config:
    return load_config()


@pytest.fixture
def cfg(real: Config) -> Config:
    """A private copy to break."""
    return real.copy()


def scan_body(cfg: Config) -> dict:
    return cfg.resource("google_cloudfunctions2_function", "scan")


def broken(cfg: Config, check: Callable[[Config], list[str]], expected: str) -> None:
    problems = check(cfg)
    assert any(expected in p for p in problems), f"expected {expected!r} in {problems}"


# -- every entry point is a function, and back ----------------------------------------------
def test_every_main_py_entry_point_has_a_function(real):
    assert ic.check_entry_points_have_functions(real, exported_entry_points()) == []
    assert ic.check_entry_points_have_functions(real, FINAL_ENTRY_POINTS) == []


def test_every_function_resource_has_an_entry_point_in_main_py(real):
    """Fails until the branches adding media, sweep and scan_uploaded_file are merged."""
    assert ic.check_functions_have_entry_points(real, exported_entry_points()) == []


def test_the_final_entry_points_match_the_function_resources_exactly(real):
    assert ic.check_functions_have_entry_points(real, FINAL_ENTRY_POINTS) == []


def test_a_missing_function_resource_is_reported(cfg):
    del cfg.locals["http_functions"]["logs"]
    broken(cfg, lambda c: ic.check_entry_points_have_functions(c, FINAL_ENTRY_POINTS),
           "entry point 'logs' in main.py has no google_cloudfunctions2_function")


def test_a_function_without_an_entry_point_is_reported(cfg):
    scan_body(cfg)["build_config"][0]["entry_point"] = "scan_upload"
    broken(cfg, lambda c: ic.check_functions_have_entry_points(c, FINAL_ENTRY_POINTS),
           "entry point 'scan_upload' is not in main.__all__")
    broken(cfg, lambda c: ic.check_entry_points_have_functions(c, FINAL_ENTRY_POINTS),
           "'scan_uploaded_file' in main.py has no")


def test_an_unexpandable_for_each_is_reported(cfg):
    cfg.resource("google_cloudfunctions2_function", "http")["for_each"] = "${var.functions}"
    broken(cfg, lambda c: ic.check_entry_points_have_functions(c, FINAL_ENTRY_POINTS),
           "is not a literal local")


# -- runtime, sizing, identities ---------------------------------------------------------------
def test_each_function_is_python311_sized_with_its_own_account(real):
    assert ic.check_function_settings(real) == []


def test_wrong_runtime_is_reported(cfg):
    scan_body(cfg)["build_config"][0]["runtime"] = "python310"
    broken(cfg, ic.check_function_settings, "scan: runtime is not python311")


def test_unsized_function_is_reported(cfg):
    del cfg.locals["http_functions"]["media"]["timeout"]
    broken(cfg, ic.check_function_settings, 'http["media"]: service_config.timeout_seconds')


def test_shared_service_account_is_reported(cfg):
    scan_body(cfg)["service_config"][0]["service_account_email"] = (
        '${google_service_account.fn["files"].email}')
    broken(cfg, ic.check_function_settings, 'shares google_service_account.fn["files"].email')


# -- the scan trigger --------------------------------------------------------------------------
def test_scan_runs_on_finalize_of_the_incoming_bucket_with_retries(real):
    assert ic.check_scan_trigger(real) == []


@pytest.mark.parametrize(("change", "expected"), [
    (lambda t: t["event_filters"][0].update(value="${google_storage_bucket.files.name}"),
     "are not the incoming bucket"),
    (lambda t: t.update(event_type="google.cloud.storage.object.v1.deleted"),
     "is not google.cloud.storage.object.v1.finalized"),
    (lambda t: t.update(retry_policy="RETRY_POLICY_DO_NOT_RETRY"),
     "retry_policy is not RETRY_POLICY_RETRY"),
    (lambda t: t["event_filters"].append({"attribute": "contentType", "value": "x"}),
     "are not the incoming bucket"),
])
def test_a_wrong_trigger_is_reported(cfg, change, expected):
    change(scan_body(cfg)["event_trigger"][0])
    broken(cfg, ic.check_scan_trigger, expected)


def test_a_scan_timeout_under_the_scanners_worst_case_is_reported(cfg):
    scan_body(cfg)["service_config"][0]["timeout_seconds"] = 300
    broken(cfg, ic.check_scan_trigger, "does not exceed the scanner's worst case")


def test_a_trigger_on_an_http_function_is_reported(cfg):
    http = cfg.resource("google_cloudfunctions2_function", "http")
    http["event_trigger"] = scan_body(cfg)["event_trigger"]
    broken(cfg, ic.check_scan_trigger, "an HTTP function has an event_trigger")


def test_an_upload_bucket_setting_that_differs_from_the_trigger_is_reported(cfg):
    cfg.locals["common_env"]["INCOMING_GCS_BUCKET_NAME"] = "${google_storage_bucket.files.name}"
    broken(cfg, ic.check_scan_trigger, "INCOMING_GCS_BUCKET_NAME is not the bucket")


# -- buckets -----------------------------------------------------------------------------------
def test_buckets_are_private_uniform_and_have_their_lifecycles(real):
    assert ic.check_buckets(real) == []


def bucket(cfg: Config, name: str) -> dict:
    return cfg.resource("google_storage_bucket", name)


def test_a_bucket_without_public_access_prevention_is_reported(cfg):
    del bucket(cfg, "cvd_mirror")["public_access_prevention"]
    broken(cfg, ic.check_buckets, "bucket cvd_mirror: public_access_prevention is not enforced")
    bucket(cfg, "files")["public_access_prevention"] = "inherited"
    broken(cfg, ic.check_buckets, "bucket files: public_access_prevention is not enforced")


def test_a_bucket_without_uniform_access_is_reported(cfg):
    bucket(cfg, "quarantine")["uniform_bucket_level_access"] = False
    broken(cfg, ic.check_buckets, "bucket quarantine: uniform_bucket_level_access")
    cfg.resources["google_storage_bucket_acl"] = {"x": {"bucket": "b"}}
    broken(cfg, ic.check_buckets, "google_storage_bucket_acl resources bypass uniform access")


def test_cors_on_a_non_upload_bucket_is_reported(cfg):
    bucket(cfg, "quarantine")["cors"] = bucket(cfg, "incoming")["cors"]
    broken(cfg, ic.check_buckets, "bucket quarantine: has CORS but is not an upload")


def test_upload_cors_on_the_files_bucket_is_reported(cfg):
    bucket(cfg, "files")["cors"][0]["method"] = ["GET", "PUT"]
    broken(cfg, ic.check_buckets, "bucket files: CORS allows ['GET', 'PUT']")
    bucket(cfg, "incoming")["cors"][0]["origin"] = ["*"]
    broken(cfg, ic.check_buckets, "bucket incoming: CORS origins are not var.allowed_origins")


def test_missing_lifecycles_are_reported(cfg):
    bucket(cfg, "incoming")["lifecycle_rule"][0]["condition"][0]["age"] = 30
    broken(cfg, ic.check_buckets, "bucket incoming: objects do not expire after a day")
    del bucket(cfg, "quarantine")["retention_policy"]
    broken(cfg, ic.check_buckets, "bucket quarantine: no retention period")
    del bucket(cfg, "files")["lifecycle_rule"][0]["condition"][0]["matches_prefix"]
    broken(cfg, ic.check_buckets, "bucket files: a lifecycle rule deletes live files")


def test_a_missing_bucket_is_reported(cfg):
    del cfg.resources["google_storage_bucket"]["source"]
    broken(cfg, ic.check_buckets, "bucket 'source' is missing")


# -- IAM ---------------------------------------------------------------------------------------
def test_iam_is_additive_and_least_privilege(real):
    assert ic.check_iam(real) == []


@pytest.mark.parametrize("rtype", ["google_project_iam_binding", "google_storage_bucket_iam_policy",
                                   "google_cloud_run_v2_service_iam_binding"])
def test_an_authoritative_iam_resource_is_reported(cfg, rtype):
    cfg.resources[rtype] = {"x": {"role": "roles/viewer", "members": ["user:a@example.com"]}}
    broken(cfg, ic.check_iam, f"{rtype}.x is authoritative")


def test_storage_admin_is_reported(cfg):
    cfg.locals["storage_roles"]["user"] = "roles/storage.admin"
    broken(cfg, ic.check_iam, "local.storage_roles.user grants roles/storage.admin")
    member = cfg.resource("google_project_iam_member", "build_log_writer")
    member["role"] = "roles/editor"
    broken(cfg, ic.check_iam, "google_project_iam_member.build_log_writer grants roles/editor")


def test_public_clamav_is_reported(cfg):
    invokers = cfg.resource("google_cloud_run_v2_service_iam_member", "clamav_invokers")
    invokers["member"] = "allUsers"
    broken(cfg, ic.check_iam, "clamav_invokers grants allUsers")
    broken(cfg, ic.check_iam, "ClamAV invoker clamav_invokers is not a service account")


def test_public_access_to_a_non_routed_function_is_reported(cfg):
    cfg.resource("google_cloud_run_v2_service_iam_member", "sweep_scheduler")["member"] = "allUsers"
    broken(cfg, ic.check_iam, "sweep_scheduler grants allUsers")


def test_clamav_invokers_beyond_the_scanners_are_reported(cfg):
    cfg.locals["scanner_clients"].append("logs")
    broken(cfg, ic.check_iam, "are not the scanning accounts")


def test_wrong_bucket_grants_are_reported(cfg):
    cfg.locals["bucket_grants"]["logs:files"] = {"who": "logs", "bucket": "files", "role": "viewer"}
    broken(cfg, ic.check_iam, "logs only needs metadata")
    cfg.locals["bucket_grants"]["scan_uploaded_file:incoming"]["role"] = "user"
    broken(cfg, ic.check_iam, "scan_uploaded_file->incoming should be read_delete, is user")


def test_token_creator_on_another_account_is_reported(cfg):
    signer = cfg.resource("google_service_account_iam_member", "signer_self")
    signer["member"] = "serviceAccount:${google_service_account.scheduler.email}"
    broken(cfg, ic.check_iam, "not (only) a token creator on itself")


def test_event_plumbing_grants_are_reported_when_missing(cfg):
    del cfg.resources["google_project_iam_member"]["gcs_agent_pubsub_publisher"]
    broken(cfg, ic.check_iam, "the GCS service agent cannot publish to Pub/Sub")
    scan_body(cfg)["event_trigger"][0]["service_account_email"] = (
        '${google_service_account.fn["files"].email}')
    broken(cfg, ic.check_iam, "is not an Eventarc event receiver")


# -- the sweep schedule ------------------------------------------------------------------------
def test_sweep_runs_on_a_schedule_with_oidc(real):
    assert ic.check_sweep_schedule(real) == []


def test_a_sweep_schedule_without_oidc_or_with_extra_invokers_is_reported(cfg):
    target = cfg.resource("google_cloud_scheduler_job", "sweep")["http_target"][0]
    target["oauth_token"] = target.pop("oidc_token")
    broken(cfg, ic.check_sweep_schedule, "does not send an OIDC token")
    cfg.resources["google_cloud_run_v2_service_iam_member"]["sweep_public"] = {
        "name": '${google_cloudfunctions2_function.http["sweep"].name}', "member": "allUsers"}
    broken(cfg, ic.check_sweep_schedule, "invocable by more than the scheduler")


# -- ClamAV ------------------------------------------------------------------------------------
def clamav_container(cfg: Config) -> dict:
    return cfg.resource("google_cloud_run_v2_service", "clamav")["template"][0]["containers"][0]


def test_clamav_service_is_sized_warm_and_probed(real):
    assert ic.check_clamav(real) == []


def test_clamav_misconfigurations_are_reported(cfg):
    container = clamav_container(cfg)
    container["resources"][0]["limits"]["memory"] = "2Gi"
    container["resources"][0]["cpu_idle"] = True
    container["startup_probe"][0]["http_get"][0]["path"] = "/"
    cfg.resource("google_cloud_run_v2_service", "clamav")["template"][0]["scaling"][0][
        "min_instance_count"] = 0
    problems = ic.check_clamav(cfg)
    for expected in ("are not 1 vCPU / 4 GiB", "CPU is not always allocated",
                     "startup_probe is '/'", "no warm instance"):
        assert any(expected in p for p in problems), (expected, problems)


# -- settings, source zip, skips -----------------------------------------------------------------
def test_environment_variables_are_settings_the_code_reads(real):
    assert ic.check_env_names(real, ALLOWED_ENV) == []


def test_a_misspelt_setting_is_reported(cfg):
    cfg.locals["function_env"]["files"]["GCS_SIGNING_ACCOUNT"] = "x"
    broken(cfg, lambda c: ic.check_env_names(c, ALLOWED_ENV),
           "GCS_SIGNING_ACCOUNT is not a setting")


def test_the_source_zip_holds_exactly_the_runtime(real):
    assert ic.check_source(real, ROOT) == []


def test_a_source_allow_list_gap_or_leak_is_reported(cfg):
    cfg.locals["source_patterns"].remove("shared/**/*.json")
    cfg.locals["source_patterns"].append("tests/*.py")
    problems = ic.check_source(cfg, ROOT)
    assert "shared/metadata/firestore/indexes.json is not in the function source" in problems
    assert "tests/conftest.py should not be in the function source" in problems


def test_every_checkov_skip_is_justified_inline():
    assert ic.check_skips(sorted(INFRA.glob("*.tf"))) == []


def test_an_unjustified_skip_is_reported(tmp_path: Path):
    bad = tmp_path / "bad.tf"
    bad.write_text('resource "x" "y" {\n  # checkov:skip=CKV_GCP_62\n}\n', encoding="utf-8")
    assert ic.check_skips([bad]) == ["bad.tf:2: CKV_GCP_62 is skipped without a reason"]
