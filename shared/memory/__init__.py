"""The global memory: ``service`` (read, write, append, versions, revert, with If-Match) and
``truncation`` (fitting text under ``max_length`` at a natural boundary, or refusing it)."""
