"""``openapi.yaml`` documents API-key access as the code declares it.

Each operation's ``bearerAuth`` roles are the scopes its route's ``Access`` names (user-only
and public routes have none), every operation a token can call documents the 403 of a
missing scope and the 429 (with ``Retry-After``) of a key over its rate, and the key schemas
match ``ApiKey.to_api`` and the create body's fields. The live scenario in
``test_openapi.py`` (``exercise_keys``) drives the keys endpoints against the document.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared import models
from tests.test_openapi import (
    IGNORED_METHODS,
    PUBLIC_PATHS,
    assert_shape,
    doc_operations,
    function_modules,
    load_doc,
    openapi_path,
    operation,
    resolve,
    schema,
)


@pytest.fixture
def doc() -> dict[str, Any]:
    return load_doc()


def code_access() -> dict[tuple[str, str], Any]:
    """(METHOD, path) -> the ``shared.scopes.Access`` its route declares."""
    return {(method, openapi_path(rule.rule)): rule.endpoint.access
            for module in function_modules().values()
            for rule in module.router._map.iter_rules()
            for method in set(rule.methods or ()) - IGNORED_METHODS}


def test_each_operation_documents_the_scopes_its_route_declares(doc):
    """A key's scopes are the roles of an operation's ``bearerAuth`` requirement: all of them
    for a fixed set, one requirement per scope when the request picks (``GET /search``);
    user-only operations (``/keys``) inherit the global requirement, which has no roles."""
    for (method, path), access in code_access().items():
        op = operation(doc, method, path)
        if access.kind == "public":
            assert op.get("security") == [], f"{method} {path}"
        elif access.kind == "user":
            assert "security" not in op, f"{method} {path}"
            assert "user's token" in op["description"], f"{method} {path}"
        elif access.choose is None:
            assert op.get("security") == [{"bearerAuth": list(access.scopes)}], f"{method} {path}"
        else:
            assert op.get("security") == [{"bearerAuth": [s]} for s in access.scopes], path


def test_every_operation_a_token_can_call_documents_403_and_429(doc):
    for method, path in doc_operations(doc):
        responses = operation(doc, method, path)["responses"]
        if path in PUBLIC_PATHS:  # no credentials: no scope, no key to meter
            assert not {"403", "429"} & set(responses), f"{method} {path}"
            continue
        assert {"403", "429"} <= set(responses), f"{method} {path}"
        limited = resolve(doc, responses["429"])
        assert resolve(doc, limited["headers"]["Retry-After"])["required"] is True


def test_key_schemas_match_the_code(doc):
    from shared.apikeys.service import CREATE_FIELDS
    from shared.scopes import SCOPES

    listed = sample_key().to_api()
    assert_shape(doc, "ApiKey", set(listed))
    assert_shape(doc, "CreatedApiKey", set(listed) | {"key"})
    request = schema(doc, "ApiKeyRequest")
    assert set(request["properties"]) == CREATE_FIELDS and request["required"] == [
        "name", "scopes"]
    assert request["additionalProperties"] is False
    assert tuple(schema(doc, "ApiKeyScope")["enum"]) == SCOPES
    assert tuple(schema(doc, "Error")["properties"]["missing_scope"]["enum"]) == SCOPES


def sample_key() -> models.ApiKey:
    return models.ApiKey("key_0123456789", "ws_1", "alice", "k", "0" * 64, ("files:read",),
                         None, "2024-01-01T00:00:00.000000Z")
