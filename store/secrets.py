"""The signing-secret format's old import path: the format lives in ``models.signing``.

Kept only for ``starter.receiver``, which imports ``validate_secret`` from here; remove this
module once the command line imports it from ``models.signing``.
"""

from __future__ import annotations

from models.signing import validate_secret as validate_secret
