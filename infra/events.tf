# File and memory events (shared/events.py): the outbox in Firestore is drained by the
# publish_events function into the events topic, CloudEvents JSON with one ordering key per
# file. Eventarc calls it for each new outbox document (workspaces/{ws}/events/{id}); the
# sweep drains too, as a backstop. Consumers subscribe to the topic; the default
# subscription below delivers in order and moves a message it cannot deliver after 10
# attempts to the dead-letter topic, whose backlog is alerted on (monitoring.tf).

resource "google_pubsub_topic" "events" {
  # checkov:skip=CKV_GCP_83:Events carry ids, versions and checksums only (no content, names or URLs); Google-managed encryption is enough, like the function images.
  name                       = "${var.name_prefix}-events"
  message_retention_duration = "604800s" # a consumer can replay a week
  depends_on                 = [google_project_service.apis]
}

resource "google_pubsub_topic" "events_dead_letter" {
  # checkov:skip=CKV_GCP_83:Events carry ids, versions and checksums only (no content, names or URLs); Google-managed encryption is enough, like the function images.
  name                       = "${var.name_prefix}-events-dead-letter"
  message_retention_duration = "604800s"
  depends_on                 = [google_project_service.apis]
}

resource "google_pubsub_subscription" "events" {
  name                       = "${var.name_prefix}-events"
  topic                      = google_pubsub_topic.events.id
  ack_deadline_seconds       = 60
  enable_message_ordering    = true
  message_retention_duration = "604800s"

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.events_dead_letter.id
    max_delivery_attempts = 10
  }
}

# Keeps what was dead-lettered, for an operator to read (and for the backlog alert).
resource "google_pubsub_subscription" "events_dead_letter" {
  name                       = "${var.name_prefix}-events-dead-letter"
  topic                      = google_pubsub_topic.events_dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
}

# Pub/Sub's service agent moves undeliverable messages: it publishes to the dead-letter topic
# and acknowledges them on the subscription they came from.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.events_dead_letter.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  subscription = google_pubsub_subscription.events.id
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# The publisher (and the sweep's backstop drain) may publish to the events topic, and only that.
resource "google_pubsub_topic_iam_member" "events_publishers" {
  for_each = toset(["publish_events", "sweep"])

  topic  = google_pubsub_topic.events.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.fn[each.key].email}"
}

# The publisher's Eventarc trigger (Firestore document created) runs as its own account.
resource "google_project_iam_member" "publish_event_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.fn["publish_events"].email}"
}

resource "google_cloudfunctions2_function" "publish" {
  name        = "${var.name_prefix}-publish-events"
  location    = var.region
  description = "Drains the event outbox (Firestore) into the events topic, in order per file."

  build_config {
    runtime           = "python311"
    entry_point       = "publish_events"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.containers.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory = "256Mi"
    timeout_seconds  = 60
    # One drain at a time holds the lease; more instances would only find it held.
    max_instance_count               = 2
    min_instance_count               = 0
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.fn["publish_events"].email
    environment_variables            = merge(local.common_env, local.function_env["publish_events"])
  }

  event_trigger {
    trigger_region        = var.firestore_location
    event_type            = "google.cloud.firestore.document.v1.created"
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.fn["publish_events"].email
    event_filters {
      attribute = "database"
      value     = google_firestore_database.main.name
    }
    event_filters {
      attribute = "document"
      value     = "workspaces/{workspace}/events/{event}"
      operator  = "match-path-pattern"
    }
  }

  depends_on = [
    time_sleep.eventarc_iam,
    google_project_iam_member.publish_event_receiver,
    google_project_iam_member.build_log_writer,
    google_artifact_registry_repository_iam_member.build_writer,
  ]
}

# publish_events: only its Eventarc trigger's identity.
resource "google_cloud_run_v2_service_iam_member" "publish_trigger" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.publish.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.fn["publish_events"].email}"
}
