"""Issue service-account keys whose JSON files google-auth loads unchanged.

openvertex keeps only the public half; the private key exists only in the file
handed to the user, exactly as with Google's own IAM keys.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openvertex.store.base import ServiceAccountKey, Store

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
_GOOGLE_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


def check_id(kind: str, value: str) -> str:
    """Project and account ids follow Google's rule: 6-30 of a-z, 0-9 and -."""
    if not _GOOGLE_ID.fullmatch(value):
        raise ValueError(
            f"{kind} {value!r} is not valid: use 6-30 lowercase letters, digits or hyphens, "
            "starting with a letter"
        )
    return value


def create_key(
    store: Store, *, project: str, name: str, token_uri: str, now: float
) -> dict[str, Any]:
    """A new key for `name@project.iam.gserviceaccount.com`, as a key-file dict."""
    email = (
        f"{check_id('account name', name)}@{check_id('project', project)}.iam.gserviceaccount.com"
    )
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_id = secrets.token_hex(20)
    store.add_key(ServiceAccountKey(key_id, email, project, public_pem.decode(), now))
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": key_id,
        "private_key": private_pem.decode(),
        "client_email": email,
        "client_id": str(secrets.randbelow(10**21)).zfill(21),
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    }
