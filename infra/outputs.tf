output "api_url" {
  description = "Base URL of the API for the frontend."
  value       = "https://${var.api_domain}/api/assistant/workspace"
}

output "site_url" {
  description = "The web app (served from the web bucket on the load balancer's default route)."
  value       = "${local.site_origin}/"
}

output "lb_ip" {
  description = "Point an A record for api_domain here; the managed certificate is issued once DNS resolves."
  value       = google_compute_global_address.api.address
}

output "buckets" {
  description = "Bucket names by role."
  value       = local.buckets
}

output "clamav_url" {
  description = "URL of the ClamAV front (CLAMAV_SERVICE_URL); only the scanning service accounts may call it."
  value       = google_cloud_run_v2_service.clamav.uri
}

output "function_urls" {
  description = "Direct URLs of the functions (only reachable through the load balancer or internally)."
  value = merge(
    { for key, fn in google_cloudfunctions2_function.http : key => fn.service_config[0].uri },
    { scan_uploaded_file = google_cloudfunctions2_function.scan.service_config[0].uri },
  )
}

output "service_accounts" {
  description = "Runtime identity of each function and service."
  value = merge(local.identities, {
    scheduler = google_service_account.scheduler.email
  })
}

output "cvd_update_job" {
  description = "Run once after the first apply: gcloud run jobs execute <this> --region <region> --wait"
  value       = google_cloud_run_v2_job.cvd_update.name
}
