"""Local development helpers: clamd launcher, the all-functions server, token minting."""
