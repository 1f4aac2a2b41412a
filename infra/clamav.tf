# ClamAV on Cloud Run: clamd plus the small HTTP front from infra/clamav/ (POST /scan,
# POST /scan/gcs, GET /healthz, GET /readyz), and the signature mirror that feeds it.
#
# Cloud Run only accepts HTTP, so functions cannot reach clamd's TCP port; the front runs
# beside clamd in the same container. One always-allocated vCPU and 4 GiB (clamd holds the
# full signature set, ~1.5 GiB, in memory and reloads it beside the old one), and one warm
# instance, because loading signatures takes about a minute: a scale-from-zero would stall
# the first scan past its timeout.

locals {
  clamav_mirror_mount = "/mirror"
  clamav_mirror_url   = var.clamav_mirror_url != "" ? var.clamav_mirror_url : "file://${local.clamav_mirror_mount}/cvds"
}

resource "google_cloud_run_v2_service" "clamav" {
  name     = "${var.name_prefix}-clamav"
  location = var.region
  # The functions have no VPC egress, so their calls arrive as external traffic; access
  # is closed by IAM instead (run.invoker only for the scanning service accounts, below),
  # and the front checks the caller's identity again (CLAMAV_FRONT_ALLOWED_INVOKERS).
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection

  template {
    service_account                  = google_service_account.clamav.email
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2" # needed for the GCS volume
    timeout                          = "${var.clamav_timeout_seconds + 60}s"
    max_instance_request_concurrency = 4

    scaling {
      min_instance_count = 1
      max_instance_count = var.clamav_max_instances
    }

    volumes {
      name = "cvd-mirror"
      gcs {
        bucket    = google_storage_bucket.cvd_mirror.name
        read_only = true
      }
    }

    containers {
      image = var.clamav_image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "4Gi"
        }
        cpu_idle          = false # CPU always allocated: freshclam and clamd work between requests
        startup_cpu_boost = true
      }

      env {
        name  = "CLAMAV_MIRROR_URL"
        value = local.clamav_mirror_url
      }
      env {
        name  = "CLAMAV_FRONT_ALLOWED_INVOKERS"
        value = join(",", [for key in local.scanner_clients : google_service_account.fn[key].email])
      }
      env {
        name  = "CLAMAV_TIMEOUT_SECONDS"
        value = tostring(var.clamav_timeout_seconds)
      }
      env {
        name  = "LOG_FORMAT"
        value = "json"
      }

      volume_mounts {
        name       = "cvd-mirror"
        mount_path = local.clamav_mirror_mount
      }

      # Ready once clamd has loaded its signatures: up to 10 minutes on a cold start.
      startup_probe {
        http_get {
          path = "/readyz"
          port = 8080
        }
        initial_delay_seconds = 10
        period_seconds        = 10
        timeout_seconds       = 5
        failure_threshold     = 60
      }

      liveness_probe {
        http_get {
          path = "/healthz"
          port = 8080
        }
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  depends_on = [
    google_project_service.apis,
    google_storage_bucket_iam_member.grants,
  ]
}

# Only the service accounts that scan (and workspace's health check) may call the front.
resource "google_cloud_run_v2_service_iam_member" "clamav_invokers" {
  for_each = toset(local.scanner_clients)

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.clamav.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.fn[each.key].email}"
}

# --- the signature mirror ------------------------------------------------------------------
# ClamAV's CDN rate-limits and blocks clients that download full databases often, so the
# ClamAV instances never go there: a job runs cvdupdate every two hours against the mirror
# bucket (mounted read-write; cvdupdate keeps its state file there, so it only downloads
# what changed), and freshclam in the service reads the bucket.

resource "google_cloud_run_v2_job" "cvd_update" {
  name                = "${var.name_prefix}-cvd-update"
  location            = var.region
  deletion_protection = var.deletion_protection

  template {
    task_count = 1

    template {
      service_account       = google_service_account.cvd_mirror.email
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
      timeout               = "1200s"
      max_retries           = 1

      volumes {
        name = "cvd-mirror"
        gcs {
          bucket    = google_storage_bucket.cvd_mirror.name
          read_only = false
        }
      }

      containers {
        image   = var.cvdupdate_image
        command = ["/bin/sh", "-c"]
        args = [join(" && ", [
          "set -eu",
          "pip install --no-cache-dir --quiet cvdupdate==${var.cvdupdate_version}",
          "mkdir -p /mirror/cvds /tmp/cvd-logs",
          "cvd config set --config /mirror/config.json --dbdir /mirror/cvds --logdir /tmp/cvd-logs",
          "cvd update --config /mirror/config.json",
          "ls -l /mirror/cvds",
        ])]

        resources {
          limits = {
            cpu    = "1"
            memory = "1Gi"
          }
        }

        volume_mounts {
          name       = "cvd-mirror"
          mount_path = "/mirror"
        }
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_storage_bucket_iam_member.grants,
  ]
}

resource "google_cloud_run_v2_job_iam_member" "cvd_update_scheduler" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.cvd_update.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "cvd_update" {
  name             = "${var.name_prefix}-cvd-update"
  region           = var.region
  description      = "Refresh the ClamAV signature mirror (cvdupdate)."
  schedule         = "${var.cvd_update_minute} */2 * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "320s"

  retry_config {
    retry_count = 1
  }

  # Starting a job is a Cloud Run Admin API call, so it carries an OAuth token, not OIDC.
  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.cvd_update.name}:run"

    oauth_token {
      service_account_email = google_service_account.scheduler.email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.cvd_update_scheduler]
}
