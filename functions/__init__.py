"""One thin module per deployed function; ``main.py`` re-exports their entry points."""
