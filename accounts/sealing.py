"""Sealing secrets at rest: authenticated encryption under keys derived from the server's own
secrets, one derivation per purpose, so a key sealed for one use never opens another's."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def sealing_fernet(purpose: bytes, *, dedicated_secret: str = "") -> MultiFernet:
    """Return the Fernet that seals and opens what ``purpose`` stores.

    The first secret seals: ``dedicated_secret`` when given, else ``SECRET_KEY``. Every other
    one (``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``) still opens, so rotating the secret key
    loses nothing sealed before.
    """
    secrets = [dedicated_secret] if dedicated_secret else []
    secrets += [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]

    def derive(secret: str) -> Fernet:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
            secret.encode()
        )
        return Fernet(base64.urlsafe_b64encode(key))

    return MultiFernet([derive(secret) for secret in secrets])
