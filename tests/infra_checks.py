"""Checkers for the wiring of ``infra/``: each takes a parsed ``Config`` and returns problems.

An empty list means the configuration is right. The tests run every checker on the real
configuration (expecting ``[]``) and on deliberately broken copies (expecting the specific
problem), so a checker that stopped looking would fail its own test.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.infra_hcl import (
    FUNCTION,
    Config,
    FunctionInstance,
    block,
    blocks,
    for_each_keys,
    function_instances,
    ref,
    var_default,
)

FINALIZED = "google.cloud.storage.object.v1.finalized"
UPLOAD_BUCKET = "${google_storage_bucket.incoming.name}"
BUCKETS = {"incoming", "files", "quarantine", "source", "cvd_mirror"}
#: Buckets whose CORS the browser needs: signed PUT uploads, and following signed GETs.
CORS_METHODS = {"incoming": {"PUT", "GET", "HEAD"}, "files": {"GET", "HEAD"}}
ACL_TYPES = {"google_storage_bucket_acl", "google_storage_default_object_acl",
             "google_storage_object_acl"}
BROAD_ROLES = {"roles/owner", "roles/editor", "roles/storage.admin",
               "roles/storage.objectAdmin", "roles/run.admin", "roles/iam.serviceAccountUser"}
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}
METADATA_ONLY = {"logs", "memory", "search", "workspace"}
SCANNERS = {"files", "media", "scan_uploaded_file", "sweep", "rescan"}
#: Event functions besides the scan: the outbox publisher (Firestore trigger, events.tf).
EVENT_FUNCTIONS = {"scan_uploaded_file", "publish_events"}
#: Margin between the worst scan and the scan function's timeout: copy, hash, Firestore.
SCAN_MARGIN_SECONDS = 120


# -- functions -------------------------------------------------------------------------------
def check_entry_points_have_functions(config: Config, entry_points: list[str]) -> list[str]:
    """Every entry point in main.py is deployed as a function."""
    instances, problems = function_instances(config)
    deployed = {inst.entry_point for inst in instances}
    return problems + [f"entry point {name!r} in main.py has no {FUNCTION} resource"
                       for name in entry_points if name not in deployed]


def check_functions_have_entry_points(config: Config, entry_points: list[str]) -> list[str]:
    """Every function resource deploys an entry point that main.py exports."""
    instances, problems = function_instances(config)
    return problems + [f"{inst.address}: entry point {inst.entry_point!r} is not in main.__all__"
                       for inst in instances if inst.entry_point not in entry_points]


def check_function_settings(config: Config) -> list[str]:
    """python311, sized memory and timeout, and a service account of its own for each."""
    instances, problems = function_instances(config)
    owners: dict[str, str] = {}
    for inst in instances:
        if inst.get("build_config", "runtime") != "python311":
            problems.append(f"{inst.address}: runtime is not python311")
        for attr in ("available_memory", "timeout_seconds"):
            if not isinstance(inst.get("service_config", attr), str | int) or ref(
                    inst.get("service_config", attr)):
                problems.append(f"{inst.address}: service_config.{attr} is not sized")
        identity = ref(inst.get("service_config", "service_account_email"))
        if not identity or not identity.startswith("google_service_account."):
            problems.append(f"{inst.address}: no service account of its own")
            continue
        sa_resource = identity.split(".")[1].split("[")[0]
        if sa_resource not in config.of_type("google_service_account"):
            problems.append(f"{inst.address}: {identity} does not exist")
        if identity in owners:
            problems.append(f"{inst.address} shares {identity} with {owners[identity]}")
        owners[identity] = inst.address
    return problems


def scan_function(config: Config) -> tuple[FunctionInstance | None, list[str]]:
    """The one function that deploys scan_uploaded_file."""
    instances, problems = function_instances(config)
    scans = [inst for inst in instances if inst.entry_point == "scan_uploaded_file"]
    if len(scans) != 1:
        return None, [*problems, f"{len(scans)} functions deploy scan_uploaded_file"]
    return scans[0], problems


def check_scan_trigger(config: Config) -> list[str]:
    """The scan runs on finalize events of the upload bucket, retried, and outlives a scan."""
    scan, problems = scan_function(config)
    if scan is None:
        return problems
    instances, _ = function_instances(config)
    problems += [f"{inst.address}: an HTTP function has an event_trigger"
                 for inst in instances
                 if inst.entry_point not in EVENT_FUNCTIONS and block(inst.body, "event_trigger")]
    trigger = block(scan.body, "event_trigger")
    if trigger is None:
        return [*problems, f"{scan.address}: no event_trigger"]
    if trigger.get("event_type") != FINALIZED:
        problems.append(f"{scan.address}: event_type {trigger.get('event_type')!r} is not "
                        f"{FINALIZED}")
    if trigger.get("retry_policy") != "RETRY_POLICY_RETRY":
        problems.append(f"{scan.address}: retry_policy is not RETRY_POLICY_RETRY")
    filters = blocks(trigger, "event_filters")
    buckets = [f.get("value") for f in filters if f.get("attribute") == "bucket"]
    if buckets != [UPLOAD_BUCKET] or len(filters) != 1:
        problems.append(f"{scan.address}: trigger filters {filters} are not the incoming bucket")
    if config.locals.get("common_env", {}).get("INCOMING_GCS_BUCKET_NAME") != UPLOAD_BUCKET:
        problems.append("INCOMING_GCS_BUCKET_NAME is not the bucket the trigger watches")
    timeout = scan.get("service_config", "timeout_seconds")
    worst = var_default(config, "clamav_timeout_seconds") + SCAN_MARGIN_SECONDS
    if not isinstance(timeout, int) or timeout < worst or timeout > 540:
        problems.append(f"{scan.address}: timeout {timeout} does not exceed the scanner's "
                        f"worst case ({worst} s) within the 540 s event limit")
    validation = str(config.variables["clamav_timeout_seconds"].get("validation"))
    if f"+ {SCAN_MARGIN_SECONDS} <= {timeout}" not in validation:
        problems.append("clamav_timeout_seconds is not capped below the scan timeout")
    return problems


# -- buckets ---------------------------------------------------------------------------------
def _rules(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [((block(rule, "action") or {}).get("type"), block(rule, "condition") or {})
            for rule in blocks(body, "lifecycle_rule")]


def check_buckets(config: Config) -> list[str]:
    """Uniform access and PAP everywhere, CORS only where the browser needs it, lifecycles."""
    problems = [f"{rtype} resources bypass uniform access" for rtype in ACL_TYPES
                if config.of_type(rtype)]
    found = config.of_type("google_storage_bucket")
    problems += [f"bucket {name!r} is missing" for name in sorted(BUCKETS - set(found))]
    for name, body in found.items():
        if body.get("uniform_bucket_level_access") is not True:
            problems.append(f"bucket {name}: uniform_bucket_level_access is not true")
        if body.get("public_access_prevention") != "enforced":
            problems.append(f"bucket {name}: public_access_prevention is not enforced")
        for cors in blocks(body, "cors"):
            methods = set(cors.get("method", []))
            if name not in CORS_METHODS:
                problems.append(f"bucket {name}: has CORS but is not an upload/download bucket")
            elif not methods <= CORS_METHODS[name]:
                problems.append(f"bucket {name}: CORS allows {sorted(methods)}")
            if cors.get("origin") != "${var.allowed_origins}":
                problems.append(f"bucket {name}: CORS origins are not var.allowed_origins")
    if "PUT" not in {m for c in blocks(found.get("incoming", {}), "cors")
                     for m in c.get("method", [])}:
        problems.append("bucket incoming: no CORS for the browser's signed PUT")
    incoming = _rules(found.get("incoming", {}))
    if ("Delete", {"age": 1}) not in incoming:
        problems.append("bucket incoming: objects do not expire after a day")
    quarantine = found.get("quarantine", {})
    if ("Delete", {"age": "${var.quarantine_retention_days}"}) not in _rules(quarantine) or (
            block(quarantine, "retention_policy") is None):
        problems.append("bucket quarantine: no retention period")
    for action, condition in _rules(found.get("files", {})):
        if action == "Delete" and condition.get("matches_prefix") != ["staging/"]:
            problems.append("bucket files: a lifecycle rule deletes live files "
                            "(soft-deleted blobs are the sweep's job)")
    return problems


# -- IAM -------------------------------------------------------------------------------------
def _roles(config: Config) -> list[tuple[str, Any]]:
    found = [(f"{rtype}.{name}", body.get("role")) for rtype, named in config.resources.items()
             for name, body in named.items() if rtype.endswith("_iam_member")]
    found += [(f"local.storage_roles.{k}", v)
              for k, v in config.locals.get("storage_roles", {}).items()]
    return found


def check_iam(config: Config) -> list[str]:
    """Additive members only, no broad roles, no public access but the routed functions."""
    problems = [f"{rtype}.{name} is authoritative (use *_iam_member)"
                for rtype, named in config.resources.items() for name in named
                if rtype.endswith(("_iam_binding", "_iam_policy"))]
    problems += [f"{where} grants {role}" for where, role in _roles(config) if role in BROAD_ROLES]
    for rtype, named in config.resources.items():
        for name, body in named.items():
            if rtype.endswith("_iam_member") and body.get("member") in PUBLIC_MEMBERS and not (
                    rtype == "google_cloud_run_v2_service_iam_member" and name == "routed_public"
                    and body.get("name") == "${google_cloudfunctions2_function.http[each.key].name}"
                    and body.get("for_each") == "${local.routed_functions}"):
                problems.append(f"{rtype}.{name} grants {body.get('member')}")
    grants = config.locals.get("bucket_grants", {})
    roles = config.locals.get("storage_roles", {})
    for key, grant in grants.items():
        if grant.get("role") not in roles:
            problems.append(f"bucket grant {key}: unknown role {grant.get('role')!r}")
        if grant.get("who") in METADATA_ONLY:
            problems.append(f"bucket grant {key}: {grant['who']} only needs metadata")
    expected = {("scan_uploaded_file", "incoming"): "read_delete",
                ("scan_uploaded_file", "quarantine"): "creator", ("files", "incoming"): "creator"}
    actual = {(g.get("who"), g.get("bucket")): g.get("role") for g in grants.values()}
    problems += [f"bucket grant {who}->{bucket} should be {role}, is {actual.get((who, bucket))}"
                 for (who, bucket), role in expected.items() if actual.get((who, bucket)) != role]
    problems += _check_signer(config) + _check_clamav_invokers(config)
    return problems + _check_event_plumbing(config)


def _check_event_plumbing(config: Config) -> list[str]:
    """GCS may publish its events; the trigger's identity may receive them."""
    members = {(b.get("role"), b.get("member"))
               for b in config.of_type("google_project_iam_member").values()}
    problems = []
    gcs_agent = ("roles/pubsub.publisher", "serviceAccount:${data.google_storage_project_"
                 "service_account.gcs_agent.email_address}")
    if gcs_agent not in members:
        problems.append("the GCS service agent cannot publish to Pub/Sub")
    scan, _ = scan_function(config)
    identity = scan.get("event_trigger", "service_account_email") if scan else None
    if ("roles/eventarc.eventReceiver", f"serviceAccount:{identity}") not in members:
        problems.append("the scan trigger's service account is not an Eventarc event receiver")
    return problems


def check_sweep_schedule(config: Config) -> list[str]:
    """Cloud Scheduler calls sweep with an OIDC token, and only it may."""
    job = config.of_type("google_cloud_scheduler_job").get("sweep")
    target = block(job or {}, "http_target") or {}
    oidc = block(target, "oidc_token") or {}
    sweep_uri = '${google_cloudfunctions2_function.http["sweep"].service_config[0].uri}'
    problems = []
    if target.get("uri") != sweep_uri:
        problems.append("no scheduler job calls the sweep function")
    if oidc.get("service_account_email") != "${google_service_account.scheduler.email}" or (
            oidc.get("audience") != sweep_uri):
        problems.append("the sweep job does not send an OIDC token for the sweep URL")
    invokers = [b for b in config.of_type("google_cloud_run_v2_service_iam_member").values()
                if b.get("name") == '${google_cloudfunctions2_function.http["sweep"].name}']
    if [b.get("member") for b in invokers] != [
            "serviceAccount:${google_service_account.scheduler.email}"]:
        problems.append("sweep is invocable by more than the scheduler's service account")
    return problems


def _check_signer(config: Config) -> list[str]:
    signers = config.of_type("google_service_account_iam_member")

    def on_itself(body: dict[str, Any]) -> bool:
        account = (ref(body.get("service_account_id")) or "").removesuffix(".name")
        member = ref(str(body.get("member", "")).removeprefix("serviceAccount:")) or ""
        return bool(account) and account == member.removesuffix(".email")

    good = [b for b in signers.values()
            if b.get("role") == "roles/iam.serviceAccountTokenCreator" and on_itself(b)]
    if len(good) != len(signers) or not good:
        return ["the API service account is not (only) a token creator on itself"]
    if "files" not in config.locals.get("signing_functions", []):
        return ["files does not sign its own URLs"]
    return []


def _check_clamav_invokers(config: Config) -> list[str]:
    problems = []
    on_clamav = {name: body for name, body in
                 config.of_type("google_cloud_run_v2_service_iam_member").items()
                 if body.get("name") == "${google_cloud_run_v2_service.clamav.name}"}
    if not on_clamav:
        problems.append("nobody may invoke the ClamAV service")
    for name, body in on_clamav.items():
        if not str(body.get("member", "")).startswith("serviceAccount:"):
            problems.append(f"ClamAV invoker {name} is not a service account")
        if body.get("role") != "roles/run.invoker":
            problems.append(f"ClamAV invoker {name} has {body.get('role')}")
        clients = set(for_each_keys(config, body) or [])
        if not {"scan_uploaded_file"} <= clients <= SCANNERS | {"workspace"}:
            problems.append(f"ClamAV invokers {sorted(clients)} are not the scanning accounts")
    return problems


# -- ClamAV ----------------------------------------------------------------------------------
def check_clamav(config: Config) -> list[str]:
    """1 vCPU / 4 GiB always allocated, a warm instance, probes on the front's endpoints."""
    service = config.of_type("google_cloud_run_v2_service").get("clamav")
    if service is None:
        return ["no google_cloud_run_v2_service.clamav"]
    template = block(service, "template") or {}
    container = block(template, "containers") or {}
    resources = block(container, "resources") or {}
    problems = []
    if container.get("image") != "${var.clamav_image}":
        problems.append("ClamAV image is not var.clamav_image")
    if resources.get("limits") != {"cpu": "1", "memory": "4Gi"}:
        problems.append(f"ClamAV limits {resources.get('limits')} are not 1 vCPU / 4 GiB")
    if resources.get("cpu_idle") is not False:
        problems.append("ClamAV CPU is not always allocated")
    if (block(template, "scaling") or {}).get("min_instance_count", 0) < 1:
        problems.append("ClamAV has no warm instance")
    for probe, path in (("startup_probe", "/readyz"), ("liveness_probe", "/healthz")):
        got = (block(block(container, probe) or {}, "http_get") or {}).get("path")
        if got != path:
            problems.append(f"ClamAV {probe} is {got!r}, not {path}")
    env = {e.get("name") for e in blocks(container, "env")}
    problems += [f"ClamAV lacks {name}" for name in ("CLAMAV_MIRROR_URL",
                 "CLAMAV_FRONT_ALLOWED_INVOKERS") if name not in env]
    return problems


# -- settings, source, skips ---------------------------------------------------------------
def check_env_names(config: Config, allowed: set[str]) -> list[str]:
    """Only setting names the code reads (a typo would be silently ignored at run time)."""
    names = set(config.locals.get("common_env", {}))
    for extra in config.locals.get("function_env", {}).values():
        names |= set(extra)
    container = block(block(config.of_type("google_cloud_run_v2_service").get(
        "clamav", {}), "template") or {}, "containers") or {}
    names |= {e.get("name") for e in blocks(container, "env")}
    return [f"environment variable {name} is not a setting" for name in sorted(names - allowed)]


def check_source(config: Config, root: Path) -> list[str]:
    """The zip's allow-list covers every runtime file and nothing outside the runtime."""
    patterns = config.locals.get("source_patterns", [])
    zipped = {p.relative_to(root).as_posix() for pattern in patterns for p in root.glob(pattern)}
    needed = {"main.py", "requirements.txt"} | {
        p.relative_to(root).as_posix() for top in ("functions", "shared")
        for p in (root / top).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    problems = [f"{name} is not in the function source" for name in sorted(needed - zipped)]
    return problems + [f"{name} should not be in the function source"
                       for name in sorted(zipped - needed)]


_SKIP = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def check_skips(paths: list[Path]) -> list[str]:
    """Every checkov skip names its check and says why, inline."""
    problems = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = _SKIP.search(line)
            if match and len((match.group(2) or "").strip()) < 30:
                problems.append(f"{path.name}:{number}: {match.group(1)} is skipped without "
                                "a reason")
    return problems
