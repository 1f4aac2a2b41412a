# The maintenance sweep (purge soft-deleted blobs after FILE_RETENTION_DAYS, expire stale
# reservations, re-drive stuck direct uploads) runs on a schedule. Cloud Scheduler calls the
# sweep function with an OIDC ID token whose audience is the function's URL; only the
# scheduler's service account holds run.invoker on it (functions.tf).

resource "google_cloud_scheduler_job" "sweep" {
  name             = "${var.name_prefix}-sweep"
  region           = var.region
  description      = "Maintenance sweep of the agent workspace."
  schedule         = var.sweep_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "1800s" # the HTTP-target maximum; the sweep function's timeout matches

  retry_config {
    retry_count          = 2
    min_backoff_duration = "60s"
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.http["sweep"].service_config[0].uri
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.http["sweep"].service_config[0].uri
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.sweep_scheduler]
}

# The rescan job, after the signature mirror's update (clamav.tf refreshes it every second
# hour at cvd_update_minute; freshclam in the ClamAV service then reloads clamd): hourly, half
# an hour after the mirror's minute. A run with nothing to rescan asks clamd's version and
# counts; an unfinished pass is resumed by the next run.
resource "google_cloud_scheduler_job" "rescan" {
  name             = "${var.name_prefix}-rescan"
  region           = var.region
  description      = "Rescan files scanned with older ClamAV signatures."
  schedule         = "${(var.cvd_update_minute + 30) % 60} * * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "1800s"

  retry_config {
    retry_count          = 2
    min_backoff_duration = "120s"
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.http["rescan"].service_config[0].uri
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.http["rescan"].service_config[0].uri
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.rescan_scheduler]
}
