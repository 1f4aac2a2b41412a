# Identities and least-privilege grants. Every grant is an additive *_iam_member scoped to the
# one bucket, service, job or repository it concerns; nothing here is authoritative
# (no *_iam_binding / *_iam_policy), so grants made outside Terraform survive an apply.
# Project-level members exist only where GCP has no narrower resource: Firestore access
# (datastore.user), Eventarc's event receiver, the GCS service agent's Pub/Sub publishing,
# and the build service account's log writing.

# One service account per function (keys are main.py entry points).
resource "google_service_account" "fn" {
  for_each = local.function_keys

  account_id   = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  display_name = "Workspace function ${each.key}"
  description  = "Runtime identity of the ${each.key} function."
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "clamav" {
  account_id   = "${var.name_prefix}-clamav"
  display_name = "Workspace ClamAV service"
  description  = "Runtime identity of the ClamAV Cloud Run service (reads the signature mirror and incoming uploads)."
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "cvd_mirror" {
  account_id   = "${var.name_prefix}-cvd-mirror"
  display_name = "Workspace signature mirror job"
  description  = "Runtime identity of the cvdupdate job that refreshes the signature mirror bucket."
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "scheduler" {
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "Workspace scheduler"
  description  = "Cloud Scheduler's identity: OIDC caller of sweep, OAuth caller of the mirror job."
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "build" {
  account_id   = "${var.name_prefix}-fn-build"
  display_name = "Workspace function builds"
  description  = "Cloud Build identity for the function builds (reads the source zip, pushes the image)."
  depends_on   = [google_project_service.apis]
}

# No predefined role grants exactly "read and delete": objectUser would add create and
# overwrite on the bucket that untrusted bytes arrive in. The scanner needs only these two.
resource "google_project_iam_custom_role" "object_read_delete" {
  role_id     = "${replace(var.name_prefix, "-", "_")}_objectReadDelete"
  title       = "Workspace object read and delete"
  description = "Read an uploaded object and delete it after promotion or quarantine."
  permissions = ["storage.objects.get", "storage.objects.delete"]
  depends_on  = [google_project_service.apis]
}

locals {
  identities = merge(
    { for key, sa in google_service_account.fn : key => sa.email },
    {
      clamav     = google_service_account.clamav.email
      cvd_mirror = google_service_account.cvd_mirror.email
      build      = google_service_account.build.email
    },
  )

  storage_roles = {
    viewer      = "roles/storage.objectViewer"  # get + list
    creator     = "roles/storage.objectCreator" # create; no read, overwrite or delete
    user        = "roles/storage.objectUser"    # get, list, create, overwrite, delete
    read_delete = google_project_iam_custom_role.object_read_delete.name
  }

  # Who may do what on which bucket: exactly the buckets each identity touches.
  # logs, memory, search and workspace touch no bucket (metadata only).
  bucket_grants = {
    # Inline uploads stage under staging/, promote by rewrite and delete the staging object;
    # downloads read, and the V4 URLs it signs act with its rights (GET on files).
    "files:files" = { who = "files", bucket = "files", role = "user" }
    # Signed PUT URLs for direct uploads act with the signer's rights: create only.
    "files:incoming" = { who = "files", bucket = "incoming", role = "creator" }
    # store_media_file writes workspace files through the same stage/promote cycle.
    "media:files" = { who = "media", bucket = "files", role = "user" }
    # Scan: read the upload and delete it once promoted or quarantined ...
    "scan_uploaded_file:incoming" = { who = "scan_uploaded_file", bucket = "incoming", role = "read_delete" }
    # ... promote clean bytes (stage, rewrite, delete the staging object) ...
    "scan_uploaded_file:files" = { who = "scan_uploaded_file", bucket = "files", role = "user" }
    # ... and copy infected ones to quarantine (create only; the retention policy forbids more).
    "scan_uploaded_file:quarantine" = { who = "scan_uploaded_file", bucket = "quarantine", role = "creator" }
    # Sweep: purge soft-deleted blobs and staging leftovers ...
    "sweep:files" = { who = "sweep", bucket = "files", role = "user" }
    # ... list, re-drive and remove stuck direct uploads ...
    "sweep:incoming" = { who = "sweep", bucket = "incoming", role = "user" }
    # ... which may end in quarantine.
    "sweep:quarantine" = { who = "sweep", bucket = "quarantine", role = "creator" }
    # ClamAV's POST /scan/gcs streams an upload by (bucket, name, generation) ...
    "clamav:incoming" = { who = "clamav", bucket = "incoming", role = "viewer" }
    # ... and a stored file's generation, for a rescan.
    "clamav:files" = { who = "clamav", bucket = "files", role = "viewer" }
    # Rescans (the job, and POST /files/{id}/rescan) move an infected blob to quarantine:
    # read and delete it in files, create its copy in quarantine.
    "rescan:files"      = { who = "rescan", bucket = "files", role = "user" }
    "rescan:quarantine" = { who = "rescan", bucket = "quarantine", role = "creator" }
    "files:quarantine"  = { who = "files", bucket = "quarantine", role = "creator" }
    # freshclam reads the signature mirror through a read-only volume.
    "clamav:cvd_mirror" = { who = "clamav", bucket = "cvd_mirror", role = "viewer" }
    # cvdupdate rewrites the databases and its own state file in the mirror.
    "cvd_mirror:cvd_mirror" = { who = "cvd_mirror", bucket = "cvd_mirror", role = "user" }
    # Function builds read the source zip.
    "build:source" = { who = "build", bucket = "source", role = "viewer" }
  }

  # Functions that sign V4 URLs through IAM signBlob (GCS_SIGNING_SERVICE_ACCOUNT = themselves).
  signing_functions = ["files"]

  # Identities allowed to call the ClamAV front (run.invoker + CLAMAV_FRONT_ALLOWED_INVOKERS):
  # the five that scan, plus workspace, whose public /healthz pings the scanner's /readyz.
  scanner_clients = ["files", "media", "scan_uploaded_file", "sweep", "rescan", "workspace"]
}

resource "google_storage_bucket_iam_member" "grants" {
  for_each = local.bucket_grants

  bucket = local.buckets[each.value.bucket]
  role   = local.storage_roles[each.value.role]
  member = "serviceAccount:${local.identities[each.value.who]}"
}

# gcs:// inputs of store_media_file: read-only, only the buckets the operator lists.
resource "google_storage_bucket_iam_member" "media_inputs" {
  for_each = toset(var.media_gcs_allowed_buckets)

  bucket = each.value
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.fn["media"].email}"
}

# Firestore has no per-database IAM resource; datastore.user is the narrowest role that
# reads and writes documents (no index or database administration).
resource "google_project_iam_member" "datastore_user" {
  for_each = local.function_keys

  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.fn[each.key].email}"
}

# V4 signed URLs in Cloud Functions are signed with IAM signBlob: the API service account
# may create tokens and signatures for itself, and for no other account.
resource "google_service_account_iam_member" "signer_self" {
  for_each = toset(local.signing_functions)

  service_account_id = google_service_account.fn[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.fn[each.key].email}"
}

# The Eventarc trigger of scan_uploaded_file runs as the scan service account.
resource "google_project_iam_member" "scan_event_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.fn["scan_uploaded_file"].email}"
}

# GCS publishes finalize notifications to Eventarc's Pub/Sub topic as its service agent.
data "google_storage_project_service_account" "gcs_agent" {
  project    = var.project_id
  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "gcs_agent_pubsub_publisher" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs_agent.email_address}"
}

# Function builds: write build logs (project-level only) and push to our repository.
resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_artifact_registry_repository_iam_member" "build_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.containers.location
  repository = google_artifact_registry_repository.containers.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.build.email}"
}
