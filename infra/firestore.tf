# Firestore in native mode and its composite indexes. The index list is not copied here:
# it is read from shared/metadata/firestore/indexes.json, the file the code's own drift
# test (tests/test_firestore_indexes.py) checks against every query the store builds.

locals {
  firestore_indexes = jsondecode(file("${path.module}/../shared/metadata/firestore/indexes.json"))

  # Keyed by the index's content, so reordering the file changes nothing and an edited
  # index is replaced rather than renamed.
  firestore_index_map = {
    for index in local.firestore_indexes :
    join("|", concat(
      [index.collection, index.query_scope],
      [for field in index.fields : "${field.field_path}:${try(field.order, field.array_config)}"],
    )) => index
  }
}

resource "google_firestore_database" "main" {
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "PESSIMISTIC"
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  # Removing the resource from Terraform leaves the data in place; delete it by hand.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.apis]
}

# Operation-log entries carry ``expire_at`` (LOG_RETENTION_DAYS after they were written):
# Firestore's TTL policy deletes them after it, without an index on the field. The sweep is
# the fallback, with a collection-group query on ``ts`` (its single-field index below).
resource "google_firestore_field" "log_expiry" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "logs"
  field      = "expire_at"

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "log_ts" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "logs"
  field      = "ts"

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      order       = "DESCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
  }
}

resource "google_firestore_index" "composite" {
  for_each = local.firestore_index_map

  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = each.value.collection
  query_scope = each.value.query_scope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value.field_path
      order        = try(fields.value.order, null)
      array_config = try(fields.value.array_config, null)
    }
  }
}

# Outbox events carry ``expire_at`` (EVENT_RETENTION_DAYS after the change): the TTL policy
# deletes them; the publisher has delivered them to Pub/Sub long before.
resource "google_firestore_field" "event_expiry" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "events"
  field      = "expire_at"

  ttl_config {}
  index_config {}
}
