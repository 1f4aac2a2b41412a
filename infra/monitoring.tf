# Observability: log-based metrics on the structured lines the code writes, alert policies
# and a dashboard. The lines (shared/logging_config.py, JSON on Cloud Run):
#   scans: {"event": "scan", verdict, bytes, duration_ms, engine, db_version, ingress}
#     (ingress upload, media, direct_upload, rescan, restore_version; the ClamAV front's own
#     lines say front:body / front:gcs and are not counted twice)
#   failures: {"event": "request_failed", "error_class": ...} on every 5xx, and
#     {"event": "finalize_retry", "error_class": ...} when a finalize is redelivered
#   dead letters: {"event": "finalize_dead_letter"} when a finalize event is dropped as stale
# tests/test_infra_monitoring.py checks that every filter names lines the code writes.

locals {
  scan_lines = "jsonPayload.event=\"scan\" AND NOT jsonPayload.ingress:\"front\""
  log_metrics = {
    scanner_unavailable = {
      description = "Requests and finalize attempts that failed because the scanner was unavailable."
      filter      = "jsonPayload.error_class=\"ScannerUnavailable\""
    }
    finalize_retries = {
      description = "Finalize events that failed and will be redelivered."
      filter      = "jsonPayload.event=\"finalize_retry\""
    }
    finalize_dead_letters = {
      description = "Finalize events dropped as stale (the sweep re-drives their objects)."
      filter      = "jsonPayload.event=\"finalize_dead_letter\""
    }
  }
  metric_prefix = "logging.googleapis.com/user"
}

resource "google_logging_metric" "scans" {
  name        = "${var.name_prefix}-scans"
  description = "Scans, by verdict and ingress."
  filter      = local.scan_lines

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "verdict"
      value_type = "STRING"
    }
    labels {
      key        = "ingress"
      value_type = "STRING"
    }
  }

  label_extractors = {
    verdict = "EXTRACT(jsonPayload.verdict)"
    ingress = "EXTRACT(jsonPayload.ingress)"
  }
}

resource "google_logging_metric" "scan_latency" {
  name            = "${var.name_prefix}-scan-latency"
  description     = "Scan duration (ms), a distribution."
  filter          = local.scan_lines
  value_extractor = "EXTRACT(jsonPayload.duration_ms)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"
    labels {
      key        = "ingress"
      value_type = "STRING"
    }
  }

  label_extractors = {
    ingress = "EXTRACT(jsonPayload.ingress)"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 24
      growth_factor      = 2
      scale              = 1
    }
  }
}

resource "google_logging_metric" "counters" {
  for_each = local.log_metrics

  name        = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  description = each.value.description
  filter      = each.value.filter

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == "" ? 0 : 1

  display_name = "${var.name_prefix} alerts"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }
}

locals {
  alert_channels = google_monitoring_notification_channel.email[*].id
}

resource "google_monitoring_alert_policy" "infected_file" {
  display_name          = "${var.name_prefix}: an infected file"
  combiner              = "OR"
  notification_channels = local.alert_channels

  documentation {
    content   = "A scan found malware (an upload, a direct upload, media, or a rescan after a signature update). The file was refused or quarantined; the operation log names it."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "infected verdicts"
    condition_threshold {
      filter          = "metric.type=\"${local.metric_prefix}/${google_logging_metric.scans.name}\" AND resource.type=\"cloud_run_revision\" AND metric.label.verdict=\"infected\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "scanner_unavailable" {
  display_name          = "${var.name_prefix}: scanner unavailable for 5 minutes"
  combiner              = "OR"
  notification_channels = local.alert_channels

  documentation {
    content   = "Uploads answer 503 and direct uploads stay pending while the ClamAV service does not answer. Check the clamav Cloud Run service and its /readyz."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "scanner-unavailable failures, every minute for 5 minutes"
    condition_threshold {
      filter          = "metric.type=\"${local.metric_prefix}/${google_logging_metric.counters["scanner_unavailable"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "${var.name_prefix}: dead-letter backlog"
  combiner              = "OR"
  notification_channels = local.alert_channels

  documentation {
    content   = "Events a subscriber could not take are piling up in the dead-letter subscription, or finalize events were dropped as stale."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "undelivered dead letters"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=\"${google_pubsub_subscription.events_dead_letter.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  conditions {
    display_name = "finalize events dropped as stale"
    condition_threshold {
      filter          = "metric.type=\"${local.metric_prefix}/${google_logging_metric.counters["finalize_dead_letters"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
}

resource "google_monitoring_dashboard" "workspace" {
  dashboard_json = jsonencode({
    displayName = "${var.name_prefix} workspace"
    mosaicLayout = {
      columns = 12
      tiles = [
        for index, chart in [
          { title = "Scans by verdict", metric = google_logging_metric.scans.name, aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group = ["metric.label.verdict"] },
          { title = "Scan latency, p95 (ms)", metric = google_logging_metric.scan_latency.name, aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_95", group = ["metric.label.ingress"] },
          { title = "Scanner unavailable", metric = google_logging_metric.counters["scanner_unavailable"].name, aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group = [] },
          { title = "Finalize retries", metric = google_logging_metric.counters["finalize_retries"].name, aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group = [] },
          { title = "Finalize dead letters", metric = google_logging_metric.counters["finalize_dead_letters"].name, aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group = [] },
          ] : {
          xPos   = (index % 2) * 6
          yPos   = floor(index / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = chart.title
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = "metric.type=\"${local.metric_prefix}/${chart.metric}\""
                    aggregation = {
                      alignmentPeriod    = "60s"
                      perSeriesAligner   = chart.aligner
                      crossSeriesReducer = chart.reducer
                      groupByFields      = chart.group
                    }
                  }
                }
              }]
            }
          }
        }
      ]
    }
  })
}
