# Inputs. Only project_id, api_domain, allowed_origins and clamav_image have no default;
# terraform.tfvars.example shows a small deployment.

variable "project_id" {
  description = "The GCP project to deploy into (a fresh project with billing enabled)."
  type        = string
}

variable "region" {
  description = "Region of the functions, Cloud Run, buckets and the Eventarc trigger."
  type        = string
  default     = "europe-west1"
}

variable "name_prefix" {
  description = "Short prefix for resource and service-account names (service-account ids are limited to 30 characters)."
  type        = string
  default     = "ws"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,8}$", var.name_prefix))
    error_message = "name_prefix: 2-9 characters, lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "api_domain" {
  description = "The one host name the frontend calls (https://<api_domain>/api/assistant/workspace/...). Point its DNS A record at the lb_ip output."
  type        = string
}

variable "allowed_origins" {
  description = "Browser origins of the frontend (scheme://host[:port], no trailing slash). Used for CORS_ALLOWED_ORIGINS and for the bucket CORS of signed uploads/downloads."
  type        = list(string)

  validation {
    condition     = length(var.allowed_origins) > 0 && alltrue([for o in var.allowed_origins : can(regex("^https?://[^/*]+$", o))])
    error_message = "allowed_origins: at least one origin like https://app.example.com; no '*', no path, no trailing slash."
  }
}

variable "clamav_image" {
  description = "The ClamAV front image built from infra/clamav/ with Cloud Build (README, step 2), e.g. europe-west1-docker.pkg.dev/PROJECT/ws-containers/clamav:v1."
  type        = string
}

variable "clamav_mirror_url" {
  description = "What the ClamAV container's freshclam reads signatures from (CLAMAV_MIRROR_URL). Empty: the mirror bucket, mounted read-only at /mirror (file:///mirror/cvds)."
  type        = string
  default     = ""
}

variable "cvdupdate_image" {
  description = "Image of the signature-mirror job. It needs python3 and pip; the job installs a pinned cvdupdate at start."
  type        = string
  default     = "python:3.11-slim"
}

variable "cvdupdate_version" {
  description = "The cvdupdate release the mirror job installs."
  type        = string
  default     = "1.2.0"
}

variable "cvd_update_minute" {
  description = "Minute past every second hour at which the mirror refreshes. ClamAV asks mirrors to use a minute between 3 and 57 that is not a multiple of 10."
  type        = number
  default     = 17

  validation {
    condition     = var.cvd_update_minute >= 3 && var.cvd_update_minute <= 57 && var.cvd_update_minute % 10 != 0
    error_message = "cvd_update_minute: 3-57 and not a multiple of 10."
  }
}

variable "auth_mode" {
  description = "AUTH_MODE of the HTTP functions: firebase (Firebase/Identity Platform ID tokens) or jwks. dev is refused in the cloud."
  type        = string
  default     = "firebase"

  validation {
    condition     = contains(["firebase", "jwks"], var.auth_mode)
    error_message = "auth_mode: firebase or jwks."
  }
}

variable "firebase_project_id" {
  description = "FIREBASE_PROJECT_ID (the ID tokens' audience). Empty: project_id."
  type        = string
  default     = ""
}

variable "firebase_web_api_key" {
  description = "AUTH_MODE=firebase: the Firebase web app's API key (Firebase console, project settings). It identifies the project to Firebase Auth and is public by design; it goes into the site's /config.json."
  type        = string
  default     = ""
}

variable "firebase_auth_domain" {
  description = "AUTH_MODE=firebase: the Firebase Auth domain. Empty: <firebase project>.firebaseapp.com."
  type        = string
  default     = ""
}

variable "auth_jwks" {
  description = "AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE when auth_mode is jwks."
  type = object({
    url      = string
    issuer   = string
    audience = string
  })
  default = { url = "", issuer = "", audience = "" }
}

variable "max_file_size_mb" {
  description = "MAX_FILE_SIZE_MB, the upload cap. Inline (multipart) uploads are further capped at 32 MiB by Cloud Run's request limit; bigger files use upload-url."
  type        = number
  default     = 100
}

variable "file_retention_days" {
  description = "FILE_RETENTION_DAYS: how long the blobs of soft-deleted files are kept before the sweep purges them."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "LOG_RETENTION_DAYS: how long operation-log entries are kept (0: forever); Firestore's TTL policy on logs.expire_at and the sweep delete older ones."
  type        = number
  default     = 90
  validation {
    condition     = var.log_retention_days >= 0
    error_message = "log_retention_days: 0 (keep forever) or more."
  }
}

variable "quarantine_retention_days" {
  description = "Days an infected upload is kept in the quarantine bucket (locked against deletion) before the lifecycle deletes it."
  type        = number
  default     = 30

  validation {
    condition     = var.quarantine_retention_days >= 1 && var.quarantine_retention_days <= 3650
    error_message = "quarantine_retention_days: 1-3650."
  }
}

variable "files_soft_delete_days" {
  description = "GCS soft-delete window of the files bucket: deleted objects stay restorable this long (0-90; 0 turns it off). A safety net behind the application's own retention."
  type        = number
  default     = 7
}

variable "download_url_ttl_seconds" {
  description = "DOWNLOAD_URL_TTL_SECONDS of V4 signed download URLs."
  type        = number
  default     = 300
}

variable "upload_url_ttl_seconds" {
  description = "UPLOAD_URL_TTL_SECONDS of V4 signed upload URLs. Must stay well under a day: the incoming bucket deletes objects after one."
  type        = number
  default     = 900

  validation {
    condition     = var.upload_url_ttl_seconds >= 60 && var.upload_url_ttl_seconds <= 21600
    error_message = "upload_url_ttl_seconds: 60-21600 (the incoming bucket expires objects after a day)."
  }
}

variable "clamav_timeout_seconds" {
  description = "CLAMAV_TIMEOUT_SECONDS: the longest a single scan may take. scan_uploaded_file's timeout (540 s, the event-function maximum) must exceed it plus the copy and bookkeeping around it."
  type        = number
  default     = 300

  validation {
    condition     = var.clamav_timeout_seconds >= 30 && var.clamav_timeout_seconds + 120 <= 540
    error_message = "clamav_timeout_seconds: 30-420, so that scan_uploaded_file (540 s) outlives the worst scan by two minutes."
  }
}

variable "clamav_max_instances" {
  description = "Upper bound of ClamAV instances (each 1 vCPU / 4 GiB, always allocated)."
  type        = number
  default     = 3
}

variable "media_gcs_allowed_buckets" {
  description = "MEDIA_GCS_ALLOWED_BUCKETS: buckets whose objects the media function may read as gcs:// inputs. The media service account gets objectViewer on each."
  type        = list(string)
  default     = []
}

variable "sweep_schedule" {
  description = "Cron schedule (UTC) of the maintenance sweep."
  type        = string
  default     = "*/15 * * * *"
}

variable "firestore_location" {
  description = "Firestore location (a region like europe-west1, or a multi-region like eur3). Cannot change after creation."
  type        = string
  default     = "europe-west1"
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
}

variable "deletion_protection" {
  description = "Protect Firestore and the Cloud Run resources against terraform destroy. Turn off only for throw-away projects."
  type        = bool
  default     = true
}

variable "cloud_armor_policy" {
  description = "Optional Cloud Armor security policy (self link) attached to every backend of the load balancer."
  type        = string
  default     = null
}

variable "event_retention_days" {
  description = "Days the event outbox keeps each event (GET /events; Firestore TTL on expire_at)."
  type        = number
  default     = 7

  validation {
    condition     = var.event_retention_days >= 1 && var.event_retention_days <= 3650
    error_message = "event_retention_days: 1 to 3650."
  }
}

variable "rescan_rate_per_second" {
  description = "Files the rescan job rescans per second at most (after a signature update)."
  type        = number
  default     = 5

  validation {
    condition     = var.rescan_rate_per_second >= 1 && var.rescan_rate_per_second <= 1000
    error_message = "rescan_rate_per_second: 1 to 1000."
  }
}

variable "alert_email" {
  description = "Where alerts go (an email notification channel); empty: alerts without a channel."
  type        = string
  default     = ""
}
