# The web app (web/, built by `make web` into web/dist) on the same HTTPS host as the API:
# its files live in a private bucket served by the load balancer as a backend bucket on the
# URL map's default route (every path the route table does not claim, "/" included). Cloud
# CDN fills from the bucket with its own service account, so the bucket keeps public access
# prevention and grants nobody public read. Every response carries the security headers
# below: a CSP with no inline code (the app has none), HSTS, nosniff, no referrer, no
# framing. localdev/server.py sends the same headers locally.
#
# Plan and apply after `make web`: the objects are web/dist's files at plan time (hashed
# names under assets/, so a new build uploads new objects and index.html points at them).

locals {
  site_origin = "https://${var.api_domain}"
  web_dist    = abspath("${path.module}/../web/dist")
  web_files   = fileset(local.web_dist, "**")
  web_types = {
    html = "text/html; charset=utf-8"
    js   = "text/javascript; charset=utf-8"
    css  = "text/css; charset=utf-8"
    json = "application/json"
    map  = "application/json"
    txt  = "text/plain; charset=utf-8"
  }

  # Where the page may connect: its own origin (the API), GCS (signed PUT uploads and signed
  # download links) and, under AUTH_MODE=firebase, Firebase Auth's token endpoints.
  web_connect = concat(["'self'", "https://storage.googleapis.com"], var.auth_mode == "firebase" ? [
    "https://identitytoolkit.googleapis.com", "https://securetoken.googleapis.com"
  ] : [])
  web_csp = join("; ", [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data: https://storage.googleapis.com",
    "connect-src ${join(" ", local.web_connect)}",
    "font-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ])
  web_security_headers = [
    "Content-Security-Policy: ${local.web_csp}",
    "Strict-Transport-Security: max-age=31536000; includeSubDomains",
    "X-Content-Type-Options: nosniff",
    "Referrer-Policy: no-referrer",
    "X-Frame-Options: DENY",
    "Cross-Origin-Opener-Policy: same-origin",
    "Permissions-Policy: camera=(), microphone=(), geolocation=(), payment=()",
  ]

  # /config.json: how the page signs users in (localdev/server.py serves the same shape).
  web_config = jsonencode(merge({ auth_mode = var.auth_mode }, var.auth_mode == "firebase" ? {
    firebase = {
      api_key     = var.firebase_web_api_key
      auth_domain = coalesce(var.firebase_auth_domain, "${coalesce(var.firebase_project_id, var.project_id)}.firebaseapp.com")
      project_id  = coalesce(var.firebase_project_id, var.project_id)
    }
  } : {}))
}

resource "google_storage_bucket" "web" {
  # checkov:skip=CKV_GCP_62:Usage/storage logs would need another bucket; the load balancer logs every request to the site.
  # checkov:skip=CKV_GCP_78:Every asset is named by its content hash and re-uploaded from the build; versioning would only keep copies of public code.
  name                        = "${local.bucket_prefix}-web"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  # "/" serves index.html.
  website {
    main_page_suffix = "index.html"
  }

  soft_delete_policy {
    retention_duration_seconds = 0
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_object" "web" {
  for_each = local.web_files

  name          = each.value
  bucket        = google_storage_bucket.web.name
  source        = "${local.web_dist}/${each.value}"
  content_type  = lookup(local.web_types, element(reverse(split(".", each.value)), 0), "application/octet-stream")
  cache_control = startswith(each.value, "assets/") ? "public, max-age=31536000, immutable" : "no-cache"
}

resource "google_storage_bucket_object" "web_config" {
  name          = "config.json"
  bucket        = google_storage_bucket.web.name
  content       = local.web_config
  content_type  = "application/json"
  cache_control = "no-cache"

  lifecycle {
    precondition {
      condition     = var.auth_mode != "firebase" || var.firebase_web_api_key != ""
      error_message = "auth_mode = \"firebase\" needs firebase_web_api_key for the web app's sign-in."
    }
  }
}

# Cloud CDN reads the private bucket as its fill service account (private bucket access);
# nothing else, and no one on the internet, can read the bucket directly.
resource "google_storage_bucket_iam_member" "web_cdn_fill" {
  bucket = google_storage_bucket.web.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:service-${data.google_project.this.number}@cloud-cdn-fill.iam.gserviceaccount.com"
}

resource "google_compute_backend_bucket" "web" {
  name                    = "${var.name_prefix}-web"
  description             = "The web app (web/dist) on the default route of the API's URL map."
  bucket_name             = google_storage_bucket.web.name
  enable_cdn              = true
  compression_mode        = "AUTOMATIC"
  custom_response_headers = local.web_security_headers

  cdn_policy {
    cache_mode       = "USE_ORIGIN_HEADERS" # objects' Cache-Control: index and config revalidate
    negative_caching = false
  }

  lifecycle {
    precondition {
      condition     = fileexists("${local.web_dist}/index.html")
      error_message = "web/dist/index.html is missing: run `make web` before terraform plan."
    }
  }

  depends_on = [google_storage_bucket_iam_member.web_cdn_fill]
}
