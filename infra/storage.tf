# The five buckets (and the web app's, in web.tf). Every one has uniform bucket-level access and public access prevention
# enforced; access is granted per bucket and per service account in iam.tf.
#
# incoming    browser PUTs through V4 signed URLs land here; the finalize event starts the scan.
#             CORS for the frontend's origins; objects expire after a day (a scan takes minutes).
# files       scanned, promoted files (workspaces/{ws}/{file_id}/v{n}/{name}) and staging/ for
#             in-flight inline uploads. Blobs of soft-deleted files are purged by the sweep after
#             FILE_RETENTION_DAYS (a purge queue in Firestore), not by lifecycle: a lifecycle rule
#             cannot tell a deleted file's blob from a live one. staging/ expires after a day.
#             CORS GET/HEAD only: downloads are 302s to V4 signed URLs that the browser follows.
# quarantine  infected uploads, kept (and locked) for quarantine_retention_days, then deleted.
# source      zips of the function source.
# cvd-mirror  ClamAV signatures, written by the cvdupdate job, read by the ClamAV service.

locals {
  bucket_prefix = "${var.project_id}-${var.name_prefix}"
}

resource "google_storage_bucket" "incoming" {
  # checkov:skip=CKV_GCP_62:Usage/storage logs would need another bucket; Cloud Audit Logs and the scan logs record every object.
  # checkov:skip=CKV_GCP_78:Objects are written once (if-generation-match=0) and deleted after the scan; versioning would only keep copies of unscanned uploads.
  name                        = "${local.bucket_prefix}-incoming"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  # Deleted uploads (promoted or quarantined) need no undelete window.
  soft_delete_policy {
    retention_duration_seconds = 0
  }

  cors {
    origin          = var.allowed_origins
    method          = ["PUT", "GET", "HEAD"]
    response_header = ["Content-Type", "Content-Length", "ETag", "x-goog-content-length-range", "x-goog-if-generation-match"]
    max_age_seconds = 3600
  }

  # The web app (infra/web.tf) is served from https://<api_domain> and PUTs there with the
  # signed headers above, so that origin must be allowed.
  lifecycle {
    precondition {
      condition     = contains(var.allowed_origins, local.site_origin)
      error_message = "allowed_origins must include the web app's origin https://<api_domain>."
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket" "files" {
  # checkov:skip=CKV_GCP_62:Usage/storage logs would need another bucket; every read and write is in the operation log (Firestore) and Cloud Audit Logs.
  # checkov:skip=CKV_GCP_78:Each file version is its own object (…/v{n}/…) created with if-generation-match=0, so object versioning would add nothing but cost; soft delete below is the undo window.
  name                        = "${local.bucket_prefix}-files"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  soft_delete_policy {
    retention_duration_seconds = var.files_soft_delete_days * 86400
  }

  cors {
    origin          = var.allowed_origins
    method          = ["GET", "HEAD"]
    response_header = ["Content-Type", "Content-Length", "Content-Disposition", "ETag"]
    max_age_seconds = 3600
  }

  lifecycle_rule {
    condition {
      age            = 1
      matches_prefix = ["staging/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket" "quarantine" {
  # checkov:skip=CKV_GCP_62:Usage/storage logs would need another bucket; every quarantine move is logged by the scanner with the signature.
  # checkov:skip=CKV_GCP_78:The retention policy already makes every object undeletable until it expires; versioning adds nothing.
  name                        = "${local.bucket_prefix}-quarantine"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  # Evidence stays put for the whole period: not even the scanner can delete or overwrite it.
  retention_policy {
    retention_period = var.quarantine_retention_days * 86400
  }

  lifecycle_rule {
    condition {
      age = var.quarantine_retention_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket" "source" {
  # checkov:skip=CKV_GCP_62:Usage/storage logs would need another bucket; only Terraform writes here and Cloud Build reads.
  # checkov:skip=CKV_GCP_78:Each upload is a new object named by its content hash, so versioning would add nothing.
  name                        = "${local.bucket_prefix}-source"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  soft_delete_policy {
    retention_duration_seconds = 0
  }

  # Old source zips are only needed for a rollback; keep the last few months.
  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket" "cvd_mirror" {
  # checkov:skip=CKV_GCP_62:Usage/storage logs would need another bucket; the mirror job logs every update.
  # checkov:skip=CKV_GCP_78:The signatures are refreshed every two hours from upstream; old versions have no value.
  name                        = "${local.bucket_prefix}-cvd-mirror"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  soft_delete_policy {
    retention_duration_seconds = 0
  }

  depends_on = [google_project_service.apis]
}

# Bucket names by role, for the grants table in iam.tf.
locals {
  buckets = {
    incoming   = google_storage_bucket.incoming.name
    files      = google_storage_bucket.files.name
    quarantine = google_storage_bucket.quarantine.name
    source     = google_storage_bucket.source.name
    cvd_mirror = google_storage_bucket.cvd_mirror.name
  }
}
