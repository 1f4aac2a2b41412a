"""Mint a dev token: ``python -m localdev.token alice`` (needs ``AUTH_DEV_SECRET``)."""

from __future__ import annotations

import argparse
import os
import sys

from shared.auth import mint_dev_token


def main() -> None:
    """Print an HS256 token whose ``sub`` is the given user id."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("user", help="the user id (the token's sub claim)")
    parser.add_argument("--ttl", type=int, default=86400, help="lifetime in seconds")
    args = parser.parse_args()
    secret = os.environ.get("AUTH_DEV_SECRET", "")
    if len(secret) < 32:
        sys.exit("AUTH_DEV_SECRET must be set (32+ characters), as for the server")
    print(mint_dev_token(secret, args.user, args.ttl))


if __name__ == "__main__":
    main()
