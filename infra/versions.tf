# Provider versions are pinned exactly: `terraform init` writes .terraform.lock.hcl from these,
# and an upgrade is a reviewed one-line change here (see README "Upgrading providers").
terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "6.41.0"
    }
    # Zips the function source (functions/, shared/, main.py, requirements.txt) at plan time.
    archive = {
      source  = "hashicorp/archive"
      version = "2.7.0"
    }
    # Waits out IAM propagation before the Eventarc trigger is created (README: first apply).
    time = {
      source  = "hashicorp/time"
      version = "0.12.1"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app        = "agent-workspace"
    managed-by = "terraform"
  }
}
