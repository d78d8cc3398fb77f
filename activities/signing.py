"""Webhook signing's old import path: secrets and signatures live in ``models.signing``.

Kept only for ``starter.demo_watch``, which imports ``generate_secret`` from here; remove this
module once the command line imports it from ``models.signing``.
"""

from __future__ import annotations

from models.signing import generate_secret as generate_secret
