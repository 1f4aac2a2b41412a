"""Workspace API keys: secrets (``secret``), create/list/revoke and key authentication
(``service``), the rate-limit bucket (``bucket``) and the bearer-credential front
(``credentials``) that tells keys from users' JWTs."""
