"""The load balancer routes exactly the route table, and every documented path reaches its function.

Three sources must agree: ``shared/routes.py`` (what the local server mounts), the URL map
in ``infra/`` (``routes.tf.json``, generated from the table, and the ``path_rule`` built from
it in ``lb.tf``) and ``openapi.yaml``. This expands the URL map as the load balancer
matches it (exact path or ``prefix/*``, the longest match winning) and checks each
documented path lands on the function the route table names.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from infra import gen_routes
from shared.routes import ROUTES, Route, function_for
from tests.infra_hcl import INFRA, ROOT, Config, dynamic, load_config

PATH_RULE = {"paths": ["${path_rule.value.prefix}", "${path_rule.value.prefix}/*"],
             "service": "${google_compute_backend_service.fn[path_rule.value.function].id}"}
ROUTED = "${toset([for route in local.routes : route.function])}"


def doc_paths() -> list[str]:
    doc = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    return sorted(doc["paths"])


def url_map_target(path: str, routes: list[dict[str, Any]]) -> str | None:
    """The function the URL map sends ``path`` to: the longest matching rule wins.

    ``/x/*`` matches what starts with ``/x/`` and counts as that prefix's length, so an
    exact ``/x/y`` beats it, as path rules do in a GCP URL map.
    """
    best: tuple[int, str] | None = None
    for route in routes:
        for pattern in (route["prefix"], route["prefix"] + "/*"):
            matched = pattern.removesuffix("*")
            hit = path.startswith(matched) if pattern.endswith("/*") else path == pattern
            if hit and (best is None or len(matched) > best[0]):
                best = (len(matched), route["function"])
    return best[1] if best else None


def check_routes(config: Config, table: tuple[Route, ...], paths: list[str]) -> list[str]:
    """Empty when the Terraform routes are the table and every path reaches its function."""
    problems = []
    routes = config.locals.get("routes", [])
    expected = [{"prefix": r.prefix, "function": r.function} for r in table]
    if routes != expected:
        problems.append(f"local.routes {routes} differ from shared/routes.py {expected}")
    url_map = config.of_type("google_compute_url_map").get("api", {})
    matchers = url_map.get("path_matcher", [])
    rule = dynamic(matchers[0], "path_rule") if matchers else None
    if rule is None or rule.get("for_each") != "${local.routes}":
        problems.append("the URL map's path rules are not generated from local.routes")
    elif (rule.get("content") or [{}])[0] != PATH_RULE:
        problems.append(f"path rules {rule.get('content')} do not route prefix and prefix/*")
    if config.locals.get("routed_functions") != ROUTED:
        problems.append("local.routed_functions is not the set of route-table functions")
    for rtype in ("google_compute_backend_service", "google_compute_region_network_endpoint_group"):
        if config.of_type(rtype).get("fn", {}).get("for_each") != "${local.routed_functions}":
            problems.append(f"{rtype}.fn is not one per routed function")
    http = config.locals.get("http_functions", {})
    problems += [f"route {r['prefix']} names {r['function']!r}, which is no HTTP function"
                 for r in routes if r.get("function") not in http]
    for path in paths:
        want, got = function_for(path), url_map_target(path, routes)
        if want is None or got != want:
            problems.append(f"{path}: the load balancer sends it to {got}, the table to {want}")
    return problems


@pytest.fixture
def cfg() -> Config:
    return load_config()


def test_the_generated_routes_file_is_current():
    assert (INFRA / "routes.tf.json").read_text(encoding="utf-8") == gen_routes.render()
    assert gen_routes.main(["--check"]) == 0


def test_a_stale_routes_file_is_detected(tmp_path, monkeypatch):
    stale = tmp_path / "routes.tf.json"
    stale.write_text(gen_routes.render(ROUTES[:-1]), encoding="utf-8")
    monkeypatch.setattr(gen_routes, "OUTPUT", stale)
    assert gen_routes.main(["--check"]) == 1
    assert gen_routes.main([]) == 0  # regenerating fixes it
    assert stale.read_text(encoding="utf-8") == gen_routes.render()


def test_routes_match_the_table_and_the_openapi_document(cfg):
    paths = doc_paths()
    assert paths, "openapi.yaml documents no path"
    assert check_routes(cfg, ROUTES, paths) == []


def test_a_route_missing_from_terraform_is_reported(cfg):
    cfg.locals["routes"] = [r for r in cfg.locals["routes"] if r["function"] != "logs"]
    problems = check_routes(cfg, ROUTES, doc_paths())
    assert any("differ from shared/routes.py" in p for p in problems)
    assert any(p.startswith("/api/assistant/workspace/logs: the load balancer sends it to "
                            "workspace, the table to logs") for p in problems), problems


def test_a_route_to_the_wrong_function_is_reported(cfg):
    cfg.locals["routes"][0]["function"] = "search"
    problems = check_routes(cfg, ROUTES, doc_paths())
    assert any("/api/assistant/workspace/files: the load balancer sends it to search" in p
               for p in problems), problems


def test_a_table_route_terraform_does_not_know_is_reported(cfg):
    table = (*ROUTES, Route("/api/assistant/workspace/media", "media"))
    problems = check_routes(cfg, table, doc_paths())
    assert any("differ from shared/routes.py" in p for p in problems)


def test_an_undocumented_or_unrouted_path_is_reported(cfg):
    problems = check_routes(cfg, ROUTES, [*doc_paths(), "/api/other"])
    assert problems == ["/api/other: the load balancer sends it to None, the table to None"]


def test_hand_written_path_rules_are_reported(cfg):
    matcher = cfg.resource("google_compute_url_map", "api")["path_matcher"][0]
    dynamic(matcher, "path_rule")["content"][0]["paths"] = ["${path_rule.value.prefix}"]
    problems = check_routes(cfg, ROUTES, doc_paths())
    assert any("do not route prefix and prefix/*" in p for p in problems)
    matcher["dynamic"] = []
    assert "the URL map's path rules are not generated from local.routes" in check_routes(
        cfg, ROUTES, doc_paths())


def test_a_route_to_a_function_that_does_not_exist_is_reported(cfg):
    del cfg.locals["http_functions"]["memory"]
    assert ("route /api/assistant/workspace/memory names 'memory', which is no HTTP function"
            in check_routes(cfg, ROUTES, doc_paths()))


def test_url_map_matching_takes_the_longest_prefix():
    routes = [{"prefix": "/a", "function": "top"}, {"prefix": "/a/b", "function": "sub"}]
    assert url_map_target("/a", routes) == "top"
    assert url_map_target("/a/x", routes) == "top"
    assert url_map_target("/a/b", routes) == "sub"
    assert url_map_target("/a/b/c", routes) == "sub"
    assert url_map_target("/ab", routes) is None
