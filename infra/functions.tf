# The Cloud Functions (2nd gen): one per entry point in main.py, each with its own service
# account, sized memory and timeout, and the settings of shared/config.py as environment
# variables (names exactly as contract.md lists them).
#
# Source: Terraform zips exactly the files the runtime needs (an allow-list, so .venv/,
# Runtime/ user data, tests or credentials can never leak into the upload) and names the
# object by its hash, so any source change redeploys every function and nothing else does.

locals {
  repo_root = abspath("${path.module}/..")
  source_patterns = [
    "main.py",
    "requirements.txt",
    "functions/**/*.py",
    "shared/**/*.py",
    "shared/**/*.json",
  ]
  source_files = sort(distinct(flatten([
    for pattern in local.source_patterns : tolist(fileset(local.repo_root, pattern))
  ])))

  # HTTP entry points and their sizing. Memory is per instance; one request per instance
  # (the platform default) keeps the streaming code's memory bound per request.
  http_functions = {
    # uploads (inline, up to Cloud Run's 32 MiB request cap) stream through hashing + scan.
    files = { memory = "1Gi", cpu = "1", timeout = 300, max_instances = 20 }
    # JSONL export streams pages of the log.
    logs      = { memory = "512Mi", cpu = null, timeout = 120, max_instances = 10 }
    memory    = { memory = "256Mi", cpu = null, timeout = 60, max_instances = 10 }
    search    = { memory = "512Mi", cpu = null, timeout = 60, max_instances = 10 }
    workspace = { memory = "256Mi", cpu = null, timeout = 60, max_instances = 10 }
    # POST /auth/dev-token: answers 404 in the cloud (AUTH_MODE=dev is local only); the
    # prefix is routed so that the URL map stays the route table.
    auth = { memory = "256Mi", cpu = null, timeout = 30, max_instances = 2 }
    # temp files under /tmp/exec_file live in memory on Cloud Run: room for a few inputs.
    media = { memory = "2Gi", cpu = "1", timeout = 540, max_instances = 10 }
    # one sweep at a time; Cloud Scheduler waits up to 30 minutes for an HTTP target.
    sweep = { memory = "512Mi", cpu = null, timeout = 1800, max_instances = 1 }
    # one rescan pass at a time (its saved position is compare-and-swap); the front reads
    # the bytes, so memory stays small.
    rescan = { memory = "512Mi", cpu = null, timeout = 1800, max_instances = 1 }
  }

  function_keys = toset(concat(keys(local.http_functions), ["scan_uploaded_file", "publish_events"]))

  # Settings every function reads (shared/config.py).
  common_env = {
    GOOGLE_CLOUD_PROJECT       = var.project_id
    METADATA_BACKEND           = "firestore"
    MEDIA_GCS_BUCKET_NAME      = google_storage_bucket.files.name
    GCS_OBJECT_PREFIX          = "workspaces"
    INCOMING_GCS_BUCKET_NAME   = google_storage_bucket.incoming.name
    QUARANTINE_GCS_BUCKET_NAME = google_storage_bucket.quarantine.name
    AUTH_MODE                  = var.auth_mode
    FIREBASE_PROJECT_ID        = coalesce(var.firebase_project_id, var.project_id)
    AUTH_JWKS_URL              = var.auth_jwks.url
    AUTH_ISSUER                = var.auth_jwks.issuer
    AUTH_AUDIENCE              = var.auth_jwks.audience
    CORS_ALLOWED_ORIGINS       = join(",", var.allowed_origins)
    MAX_FILE_SIZE_MB           = tostring(var.max_file_size_mb)
    CLAMAV_SERVICE_ENABLED     = "true"
    CLAMAV_SERVICE_URL         = google_cloud_run_v2_service.clamav.uri
    CLAMAV_TIMEOUT_SECONDS     = tostring(var.clamav_timeout_seconds)
    FILE_RETENTION_DAYS        = tostring(var.file_retention_days)
    LOG_RETENTION_DAYS         = tostring(var.log_retention_days)
    EVENT_RETENTION_DAYS       = tostring(var.event_retention_days)
    DOWNLOAD_URL_TTL_SECONDS   = tostring(var.download_url_ttl_seconds)
    UPLOAD_URL_TTL_SECONDS     = tostring(var.upload_url_ttl_seconds)
    LOG_FORMAT                 = "json"
    LOG_LEVEL                  = var.log_level
  }

  # Settings only some functions read.
  function_env = {
    files = {
      GCS_SIGNING_SERVICE_ACCOUNT = google_service_account.fn["files"].email
    }
    media = {
      MEDIA_EXEC_ROOT           = "/tmp/exec_file"
      MEDIA_GCS_ALLOWED_BUCKETS = join(",", var.media_gcs_allowed_buckets)
    }
    scan_uploaded_file = {
      # Older events are acknowledged and dropped: the incoming object has expired by then
      # (lifecycle: one day) and the sweep re-drives anything stuck.
      SCAN_EVENT_MAX_AGE_SECONDS = "86400"
    }
    # The outbox's publisher, and the sweep as its backstop, drain to the events topic.
    publish_events = { EVENTS_TOPIC = google_pubsub_topic.events.id }
    sweep          = { EVENTS_TOPIC = google_pubsub_topic.events.id }
    rescan = {
      RESCAN_BATCH           = "50"
      RESCAN_RATE_PER_SECOND = tostring(var.rescan_rate_per_second)
    }
  }
}

resource "google_artifact_registry_repository" "containers" {
  # checkov:skip=CKV_GCP_84:Images hold no secrets or user data; Google-managed encryption is enough and avoids a KMS key per deployment.
  location      = var.region
  repository_id = "${var.name_prefix}-containers"
  description   = "Function images (built by Cloud Functions) and the ClamAV image (built from infra/clamav/)."
  format        = "DOCKER"

  cleanup_policy_dry_run = false
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s" # 30 days
    }
  }

  depends_on = [google_project_service.apis]
}

data "archive_file" "source" {
  type        = "zip"
  output_path = "${path.module}/.build/function-source.zip"

  dynamic "source" {
    for_each = local.source_files
    content {
      content  = file("${local.repo_root}/${source.value}")
      filename = source.value
    }
  }
}

resource "google_storage_bucket_object" "source" {
  name   = "functions/${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

resource "google_cloudfunctions2_function" "http" {
  for_each = local.http_functions

  name        = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  location    = var.region
  description = "HTTP function ${each.key} (main.py)."

  build_config {
    runtime           = "python311"
    entry_point       = each.key
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.containers.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout
    max_instance_count               = each.value.max_instances
    min_instance_count               = 0
    max_instance_request_concurrency = 1
    # Frontend routes are reachable only through the load balancer; sweep only from
    # Cloud Scheduler (internal traffic). Either way IAM decides who may invoke.
    ingress_settings               = contains(local.routed_functions, each.key) ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.fn[each.key].email
    environment_variables          = merge(local.common_env, try(local.function_env[each.key], {}))
  }

  depends_on = [
    google_project_iam_member.build_log_writer,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.grants,
  ]
}

# Eventarc checks at creation that the trigger's identity can receive events and that the
# GCS service agent can publish; IAM changes take a minute or two to be seen everywhere.
resource "time_sleep" "eventarc_iam" {
  create_duration = "120s"

  depends_on = [
    google_project_iam_member.scan_event_receiver,
    google_project_iam_member.gcs_agent_pubsub_publisher,
    google_project_service.apis,
  ]
}

resource "google_cloudfunctions2_function" "scan" {
  name        = "${var.name_prefix}-scan-uploaded-file"
  location    = var.region
  description = "Scans each object finalized in the incoming bucket, then promotes or quarantines it."

  build_config {
    runtime           = "python311"
    entry_point       = "scan_uploaded_file"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.containers.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory = "1Gi"
    available_cpu    = "1"
    # The event-function maximum. It exceeds the scanner's worst case (CLAMAV_TIMEOUT_SECONDS,
    # at most 420 s by its validation) plus the copy, hashing and Firestore writes around it,
    # so a slow scan ends in the scanner's own timeout (retried) and never in a killed handler.
    timeout_seconds                  = 540
    max_instance_count               = 10
    min_instance_count               = 0
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.fn["scan_uploaded_file"].email
    environment_variables            = merge(local.common_env, local.function_env["scan_uploaded_file"])
  }

  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.storage.object.v1.finalized"
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.fn["scan_uploaded_file"].email
    event_filters {
      attribute = "bucket"
      value     = google_storage_bucket.incoming.name
    }
  }

  depends_on = [
    time_sleep.eventarc_iam,
    google_project_iam_member.build_log_writer,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.grants,
  ]
}

# --- who may invoke which function -------------------------------------------------------

# Frontend routes: the load balancer forwards requests without a Google identity, so the
# services behind it accept unauthenticated invocations. They are not reachable any other
# way (ingress ALLOW_INTERNAL_AND_GCLB), and every request is authenticated by the function
# itself (Firebase / JWKS ID token; 401 otherwise; /healthz and signed links are public by
# design).
resource "google_cloud_run_v2_service_iam_member" "routed_public" {
  for_each = local.routed_functions

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.http[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# sweep: only Cloud Scheduler's service account, with an OIDC token.
resource "google_cloud_run_v2_service_iam_member" "sweep_scheduler" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.http["sweep"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

# rescan: only Cloud Scheduler's service account, with an OIDC token.
resource "google_cloud_run_v2_service_iam_member" "rescan_scheduler" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.http["rescan"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

# scan_uploaded_file: only its Eventarc trigger's identity.
resource "google_cloud_run_v2_service_iam_member" "scan_trigger" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.scan.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.fn["scan_uploaded_file"].email}"
}
