"""Throwaway Google service-account identities for tests.

A service-account JSON is what Google's console hands out: ``type``, ``project_id``,
``private_key_id``, ``private_key`` (PKCS#8 PEM), ``client_email``, ``client_id``,
``token_uri``… google-auth's ``service_account.Credentials.from_service_account_info``
reads exactly these keys and signs its token request (an RS256 JWT) with the private
key. Here the key is generated locally with ``cryptography``; nothing ever leaves the
machine, and the fake server keeps the public half to verify those signatures.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class ServiceAccountKey:
    """One minted identity: the JSON a client loads and the public key a server checks."""

    info: dict
    public_key: rsa.RSAPublicKey

    @property
    def client_email(self) -> str:
        return self.info["client_email"]

    @property
    def key_id(self) -> str:
        return self.info["private_key_id"]


@lru_cache(maxsize=4)
def _rsa_key(slot: int) -> rsa.RSAPrivateKey:
    # Generating a 2048-bit key costs ~50 ms; reuse a few across a test session.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def mint_service_account(
    token_uri: str,
    client_email: str = "report-bot@fake-project.iam.gserviceaccount.com",
    project_id: str = "fake-project",
    key_slot: int = 0,
) -> ServiceAccountKey:
    """A service-account JSON dict whose ``token_uri`` points at ``token_uri``.

    ``key_slot`` picks one of a few cached RSA keys, so a test can mint a second
    identity whose key the server does not know (a forged signature).
    """
    private_key = _rsa_key(key_slot)
    pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": client_email,
        "client_id": str(secrets.randbelow(10**20)).zfill(21),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
        + client_email.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }
    return ServiceAccountKey(info=info, public_key=private_key.public_key())
