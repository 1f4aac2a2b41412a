# HTTPS entry for the frontend: one host, https://<api_domain>/api/assistant/workspace/...,
# through a global external Application Load Balancer whose URL map routes each prefix of
# the route table (shared/routes.py, rendered into routes.tf.json by infra/gen_routes.py) to
# the serverless NEG of its function, and everything else to the web app's backend bucket
# (web.tf).
#
# Why a load balancer and not API Gateway: the functions verify Firebase ID tokens
# themselves, and API Gateway's backend authentication replaces the Authorization header
# with its own token (the client's moves to X-Forwarded-Authorization); API Gateway also
# wants a Swagger 2.0 document, while the project keeps OpenAPI 3.1. The URL map's prefix
# rules are the route table one to one, with the longest prefix winning as it does locally,
# and the load balancer adds a managed certificate, HTTP->HTTPS redirect and an optional
# Cloud Armor policy.

locals {
  routed_functions = toset([for route in local.routes : route.function])
}

resource "google_compute_region_network_endpoint_group" "fn" {
  for_each = local.routed_functions

  name                  = "${var.name_prefix}-${replace(each.key, "_", "-")}-neg"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = google_cloudfunctions2_function.http[each.key].name
  }
}

resource "google_compute_backend_service" "fn" {
  for_each = local.routed_functions

  name                  = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = var.cloud_armor_policy

  backend {
    group = google_compute_region_network_endpoint_group.fn[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_url_map" "api" {
  name = "${var.name_prefix}-api"
  # Paths the route table does not claim ("/", /assets/..., /config.json) are the web app's.
  default_service = google_compute_backend_bucket.web.id

  host_rule {
    hosts        = [var.api_domain]
    path_matcher = "routes"
  }

  path_matcher {
    name            = "routes"
    default_service = google_compute_backend_bucket.web.id

    # One rule per route-table prefix: the prefix itself and everything below it.
    dynamic "path_rule" {
      for_each = local.routes
      content {
        paths   = [path_rule.value.prefix, "${path_rule.value.prefix}/*"]
        service = google_compute_backend_service.fn[path_rule.value.function].id
      }
    }
  }
}

resource "google_compute_global_address" "api" {
  name = "${var.name_prefix}-api"

  depends_on = [google_project_service.apis]
}

resource "google_compute_managed_ssl_certificate" "api" {
  name = "${var.name_prefix}-api"

  managed {
    domains = [var.api_domain]
  }

  depends_on = [google_project_service.apis]
}

resource "google_compute_ssl_policy" "modern" {
  name            = "${var.name_prefix}-tls12"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"

  depends_on = [google_project_service.apis]
}

resource "google_compute_target_https_proxy" "api" {
  name             = "${var.name_prefix}-api"
  url_map          = google_compute_url_map.api.id
  ssl_certificates = [google_compute_managed_ssl_certificate.api.id]
  ssl_policy       = google_compute_ssl_policy.modern.id
}

resource "google_compute_global_forwarding_rule" "https" {
  name                  = "${var.name_prefix}-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.api.id
  port_range            = "443"
  target                = google_compute_target_https_proxy.api.id
}

# Plain HTTP only redirects to HTTPS.
resource "google_compute_url_map" "redirect" {
  name = "${var.name_prefix}-http-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "redirect" {
  name    = "${var.name_prefix}-http-redirect"
  url_map = google_compute_url_map.redirect.id
}

resource "google_compute_global_forwarding_rule" "http" {
  name                  = "${var.name_prefix}-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.api.id
  port_range            = "80"
  target                = google_compute_target_http_proxy.redirect.id
}
