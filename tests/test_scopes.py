"""Every route makes a scope decision, and the router enforces it in one place.

``Router.route`` has no default for ``access``, so a route without a decision cannot even be
registered; these tests pin each route's decision (so a change is deliberate), check that
every scope gates something, and check ``Access`` itself: users pass, keys need each scope,
user-only routes refuse keys, ``GET /search`` needs the read scope of each type it searches.
"""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from functions._http import Router
from shared.context import RequestContext
from shared.errors import Forbidden
from shared.routes import API_PREFIX
from shared.scopes import PUBLIC, SCOPES, USER_ONLY, Access, needs, needs_by
from shared.search import scopes_for
from tests.test_openapi_scopes import code_access

F, M = f"{API_PREFIX}/files", f"{API_PREFIX}/memory"
EXPECTED = {
    ("GET", "/healthz"): "public",
    ("GET", f"{F}/{{file_id}}/signed"): "public",
    ("POST", f"{API_PREFIX}/auth/dev-token"): "public",
    ("GET", f"{API_PREFIX}/keys"): "user",
    ("POST", f"{API_PREFIX}/keys"): "user",
    ("DELETE", f"{API_PREFIX}/keys/{{key_id}}"): "user",
    ("GET", API_PREFIX): ("files:read", "memory:read", "logs:read"),
    ("GET", f"{API_PREFIX}/summary"): ("files:read", "memory:read", "logs:read"),
    ("GET", f"{API_PREFIX}/usage"): ("files:read",),
    ("GET", F): ("files:read",),
    ("POST", F): ("files:write",),
    ("POST", f"{F}/upload-url"): ("files:write",),
    ("GET", f"{F}/count"): ("files:read",),
    ("GET", f"{F}/search"): ("files:read",),
    ("GET", f"{F}/{{file_id}}"): ("files:read",),
    ("DELETE", f"{F}/{{file_id}}"): ("files:write",),
    ("PATCH", f"{F}/{{file_id}}"): ("files:write",),
    ("POST", f"{F}/{{file_id}}/restore"): ("files:write",),
    ("POST", f"{F}/{{file_id}}/versions/{{version}}/restore"): ("files:write",),
    ("POST", f"{F}/batch-delete"): ("files:write",),
    ("GET", f"{API_PREFIX}/folders"): ("files:read",),
    ("POST", f"{API_PREFIX}/folders/move"): ("files:write",),
    ("GET", f"{API_PREFIX}/folders/moves/{{move_id}}"): ("files:read",),
    ("POST", f"{F}/{{file_id}}/rescan"): ("files:write",),
    ("GET", f"{API_PREFIX}/events"): ("files:read",),
    ("GET", f"{F}/{{file_id}}/versions"): ("files:read",),
    ("GET", f"{F}/{{file_id}}/content"): ("files:read",),
    ("GET", f"{API_PREFIX}/logs"): ("logs:read",),
    ("GET", M): ("memory:read",),
    ("POST", M): ("memory:write",),
    ("GET", f"{M}/versions"): ("memory:read",),
    ("GET", f"{M}/versions/{{version}}"): ("memory:read",),
    ("POST", f"{M}/versions/{{version}}/revert"): ("memory:write",),
    ("POST", f"{API_PREFIX}/media"): ("media",),
    ("DELETE", f"{API_PREFIX}/media/{{graph_exec_id}}"): ("media",),
    ("GET", f"{API_PREFIX}/search"): ("files:read", "memory:read", "logs:read"),
}


def test_every_route_has_the_decision_this_table_pins():
    declared = {op: (access.kind if access.kind != "scoped" else access.scopes)
                for op, access in code_access().items()}
    assert declared == EXPECTED


def test_every_scope_gates_some_route():
    used = {scope for access in code_access().values() for scope in access.scopes}
    assert used == set(SCOPES)


def test_a_route_cannot_be_registered_without_a_decision():
    router = Router()
    with pytest.raises(TypeError):
        router.route("/x")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        router.route("/x", access="files:read")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        needs("files:delete")


def key(*scopes: str) -> RequestContext:
    return RequestContext("alice", key_id="key_0123456789", scopes=frozenset(scopes))


def test_users_pass_every_decision_and_keys_need_each_scope():
    none = MultiDict()
    for access in (needs("files:read", "logs:read"), USER_ONLY, PUBLIC):
        access.check(RequestContext("alice"), none)
    needs("files:read", "logs:read").check(key("logs:read", "files:read", "media"), none)
    with pytest.raises(Forbidden) as missing:
        needs("files:read", "logs:read").check(key("files:read"), none)
    assert missing.value.extra == {"missing_scope": "logs:read"}
    with pytest.raises(Forbidden) as user_only:
        USER_ONLY.check(key(*SCOPES), none)
    assert "missing_scope" not in user_only.value.extra


@pytest.mark.parametrize(("types", "scopes"), [
    ([], ("files:read", "memory:read", "logs:read")),
    (["files"], ("files:read",)),
    (["logs", "memory", "logs"], ("logs:read", "memory:read")),
    (["nope"], ()),  # the search itself answers 400
])
def test_search_needs_the_read_scope_of_each_type_it_searches(types, scopes):
    args = MultiDict([("query", "x"), *(("types", t) for t in types)])
    assert scopes_for(args) == scopes
    access: Access = needs_by(scopes_for, "files:read", "memory:read", "logs:read")
    access.check(key(*scopes), args)
