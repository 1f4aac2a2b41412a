"""Mutation testing of the security-critical modules with mutmut (``make mutation``).

``MODULES`` names each module and the tests that guard it. ``run(name)`` gives every module
a work directory of its own, ``.mutation/<name>/`` (git-ignored): links to the project, and a
``pyproject.toml`` whose ``[tool.mutmut]`` table mutates that one file and selects only its
tests. mutmut copies the project into ``mutants/`` there, runs the selected tests once to
learn which test reaches which function, then runs each mutant against only those tests, two
at a time (the machine has two shared cores). A module's results land in
``.mutation/<name>/result.json``; ``report()`` gathers them into ``tests/MUTATION.md``
between its generated markers, keeping the hand-written sections.

``tests/scanfront/test_http_scanner.py`` is left out of the ``http`` selection: each of its
outage tests starts a clamd and a front of its own and waits out real timeouts, which made
every mutant cost minutes; the same failure modes are reached through ``FakeFront``.

Tests that start the project's own Python code in another process (the local server,
functions-framework, the ClamAV front) are left out of each selection when that process
would import the mutated module: mutmut chooses the mutant through the environment and
records coverage in-process only, so such tests would neither count nor be trustworthy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Module:
    """One file to mutate and the pytest arguments that select its tests."""

    name: str
    path: str
    tests: tuple[str, ...]


EMBEDDED = "not cloud"  # contract suites: the embedded backend (no Firestore emulator)

MODULES: tuple[Module, ...] = (
    Module("clamd", "shared/scanning/clamd.py", (
        "tests/test_scanner.py", "tests/contract/test_scanner.py::TestClamdScanner",
        "tests/test_scanner_failures.py", "-k", "not front")),
    Module("http", "shared/scanning/http.py", (
        "tests/test_http_client.py", "tests/contract/test_scanner.py::TestHttpScanner",
        "tests/test_scanner_failures.py", "-k", "not clamd")),
    Module("digest", "shared/scanning/digest.py", (
        "tests/test_digest.py", "tests/test_scanner_failures.py",
        "tests/contract/test_scanner.py::TestClamdScanner",
        "tests/contract/test_files_api.py", "-k", EMBEDDED)),
    Module("ingest", "shared/files/ingest.py", (
        "tests/test_digest.py", "tests/test_scanner_failures.py",
        "tests/contract/test_files_api.py", "tests/test_media_store.py", "-k", EMBEDDED)),
    Module("finalize", "shared/uploads/finalize.py", (
        "tests/test_generation_pinning.py", "tests/test_upload_sweep.py",
        "tests/test_finalize_edges.py", "tests/test_finalize_records.py",
        "tests/test_scanner_failures.py",
        "-k", "not media and not inline and not client")),
    Module("auth", "shared/auth.py", (
        "tests/test_auth.py", "tests/test_auth_exact.py", "tests/test_auth_jwks.py",
        "tests/web/test_emulator_tokens.py", "-k", "not real_server")),
    Module("jwks", "shared/jwks.py", (
        "tests/test_auth_jwks.py", "tests/test_auth_exact.py", "tests/test_auth.py",
        "-k", "not real_server")),
    Module("signing", "shared/signing.py", (
        "tests/test_url_signer.py", "tests/test_local_signed_links.py",
        "tests/contract/test_isolation.py", "-k", EMBEDDED)),
    Module("gcs-signing", "shared/storage/gcs/signing.py", (
        "tests/test_gcs_signer.py", "tests/test_gcs_store.py", "-k", "sign")),
    Module("memory", "shared/memory/service.py", (
        "tests/test_memory_service.py", "tests/contract/test_memory_api.py", "-k", EMBEDDED)),
    Module("truncation", "shared/memory/truncation.py", (
        "tests/test_memory_text.py", "tests/test_memory_service.py",
        "tests/contract/test_memory_api.py", "-k", EMBEDDED)),
    Module("netpolicy", "shared/media/netpolicy.py", ("tests/test_netpolicy.py",)),
)

BY_NAME = {module.name: module for module in MODULES}
