# The APIs the deployment uses, enabled on the project. Disabling them on destroy would
# break anything else in the project that uses them, so destroy leaves them on.

locals {
  apis = toset([
    "artifactregistry.googleapis.com",    # function and ClamAV images
    "cloudbuild.googleapis.com",          # function builds, the ClamAV image
    "cloudfunctions.googleapis.com",      # the functions
    "cloudscheduler.googleapis.com",      # sweep and signature-mirror schedules
    "compute.googleapis.com",             # the HTTPS load balancer
    "eventarc.googleapis.com",            # finalize events -> scan_uploaded_file
    "firestore.googleapis.com",           # metadata
    "iam.googleapis.com",                 # service accounts and the custom role
    "iamcredentials.googleapis.com",      # signBlob for V4 signed URLs, ID tokens
    "logging.googleapis.com",             # logs
    "monitoring.googleapis.com",          # metrics
    "pubsub.googleapis.com",              # Eventarc's transport
    "run.googleapis.com",                 # ClamAV, the mirror job, the functions' services
    "storage.googleapis.com",             # buckets
    "cloudresourcemanager.googleapis.com" # project IAM members
  ])
}

resource "google_project_service" "apis" {
  for_each = local.apis

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

data "google_project" "this" {
  project_id = var.project_id
}
