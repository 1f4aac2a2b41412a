"""The no-silent-skip rule: a missing service skips locally and fails in CI, however CI
spells it (``CI=1``, ``CI=yes``, ``CI=true``)."""

from __future__ import annotations

import pytest

from tests.conftest import require


@pytest.mark.parametrize("value", ["1", "true", "yes", "TRUE", "Yes", " true "])
def test_a_missing_service_fails_in_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        require(False, "a service")
    require(True, "a service")  # present: nothing happens


@pytest.mark.parametrize("value", [None, "", "0", "false", "no"])
def test_a_missing_service_skips_elsewhere(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception):
        require(False, "a service")
