"""The web app's deployment in ``infra/``: a backend bucket on the default route, security
headers on its responses, and the incoming bucket's CORS open to the site's origin.

Like ``tests/test_infra_config.py``, each check runs on the parsed configuration and then on
a broken copy, where it must name the break. The page's CSP is also compared with the one
``localdev.server`` sends for the same deployment, so local and cloud cannot drift apart.
"""

from __future__ import annotations

import re

import pytest

from localdev.webapp import security_headers
from shared.config import Settings
from tests.infra_hcl import Config, load_config

BUCKET = "${google_compute_backend_bucket.web.id}"
SIGNED_HEADERS = {"Content-Type", "x-goog-content-length-range", "x-goog-if-generation-match"}
REQUIRED_HEADERS = {"Content-Security-Policy", "Strict-Transport-Security",
                    "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"}


def check_web(config: Config) -> list[str]:
    problems = []
    url_map = config.of_type("google_compute_url_map").get("api", {})
    matcher = (url_map.get("path_matcher") or [{}])[0]
    if url_map.get("default_service") != BUCKET or matcher.get("default_service") != BUCKET:
        problems.append("the URL map's default route is not the web backend bucket")
    backend = config.of_type("google_compute_backend_bucket").get("web", {})
    if backend.get("bucket_name") != "${google_storage_bucket.web.name}":
        problems.append("the backend bucket does not serve the web bucket")
    headers = {h.split(":", 1)[0] for h in config.locals.get("web_security_headers", [])}
    if backend.get("custom_response_headers") != "${local.web_security_headers}":
        problems.append("the backend bucket does not set the security headers")
    problems += [f"security header {name} is missing"
                 for name in sorted(REQUIRED_HEADERS - headers)]
    csp = config.locals.get("web_csp", "")
    if "unsafe" in csp or "script-src 'self'" not in csp or "frame-ancestors 'none'" not in csp:
        problems.append(f"the CSP allows more than it should: {csp}")
    web = config.of_type("google_storage_bucket").get("web", {})
    if web.get("public_access_prevention") != "enforced":
        problems.append("the web bucket is public")
    incoming = config.of_type("google_storage_bucket").get("incoming", {})
    cors = (incoming.get("cors") or [{}])[0]
    allowed = set(cors.get("response_header", []))
    if "PUT" not in cors.get("method", []) or not allowed >= SIGNED_HEADERS:
        problems.append("the incoming bucket's CORS does not allow the signed PUT")
    conditions = [p.get("condition") for lc in incoming.get("lifecycle", [])
                  for p in lc.get("precondition", [])]
    if "${contains(var.allowed_origins, local.site_origin)}" not in conditions:
        problems.append("nothing makes allowed_origins include the site's origin")
    return problems


@pytest.fixture
def cfg() -> Config:
    return load_config()


def test_the_web_deployment_is_wired(cfg):
    assert check_web(cfg) == []


@pytest.mark.parametrize("break_it, expected", [
    (lambda c: c.of_type("google_compute_url_map")["api"].update(
        default_service="${google_compute_backend_service.fn[\"workspace\"].id}"), "default route"),
    (lambda c: c.of_type("google_compute_backend_bucket")["web"].pop("custom_response_headers"),
     "security headers"),
    (lambda c: c.locals.__setitem__("web_csp", "script-src 'self' 'unsafe-inline'"), "CSP"),
    (lambda c: c.of_type("google_storage_bucket")["incoming"].pop("lifecycle"), "site's origin"),
    (lambda c: c.of_type("google_storage_bucket")["incoming"]["cors"][0].update(
        response_header=["Content-Type"]), "signed PUT"),
])
def test_a_broken_web_deployment_is_reported(cfg, break_it, expected):
    copy = cfg.copy()
    break_it(copy)
    problems = check_web(copy)
    assert any(expected in p for p in problems), problems


def directives(csp: str) -> dict[str, set[str]]:
    out = {}
    for part in csp.split(";"):
        name, *values = part.split()
        out[name] = set(values)
    return out


def test_the_local_csp_is_the_cloud_one(cfg):
    """localdev.server's CSP for a GCS + Firebase deployment equals infra's, directive by
    directive (infra's is assembled in HCL, so its pieces are compared)."""
    local = dict(security_headers(Settings(auth_mode="firebase", firebase_project_id="p",
                                           media_gcs_bucket_name="files")))
    mine = directives(local["Content-Security-Policy"])
    hcl = cfg.locals["web_csp"]
    pieces = re.findall(r'"([a-z-]+ [^"$]*)"', hcl)
    cloud = directives("; ".join(pieces))
    connect = set(re.findall(r"'self'|https://[a-z.]+", str(cfg.locals["web_connect"])))
    cloud["connect-src"] = connect
    assert mine == cloud
