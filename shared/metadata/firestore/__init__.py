"""The cloud metadata backend: Cloud Firestore (native mode), one module per role.

``store`` composes ``files``, ``logs``, ``memory`` and ``docs`` over ``refs``; ``layout`` is
the document layout, ``query`` the query shapes and ``indexes.json`` (the composite indexes
Terraform creates), ``access`` the retries, commits and error translation.
"""

from shared.metadata.firestore.store import FirestoreMetadataStore

__all__ = ["FirestoreMetadataStore"]
