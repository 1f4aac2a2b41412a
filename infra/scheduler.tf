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
