"""`chinwag tls-selfsigned`: a self-signed certificate and key for a LAN.

Made with the ``cryptography`` library (what trustme builds on; the only place
chinwag imports it). The certificate is valid for the names and addresses
given plus localhost, 127.0.0.1 and ::1; clients either skip verification
(``-tls_verify`` off, ``--insecure``) or trust this very file as their CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

DAYS = 825  # the longest validity Apple's clients accept for a server certificate
ALWAYS = ("localhost", "127.0.0.1", "::1")


def make_pair(out: Path, hosts: Sequence[str] = (), days: int = DAYS) -> tuple[Path, Path, str]:
    """Write ``out/cert.pem`` and ``out/key.pem`` (mode 0600); return their
    paths and the certificate's SHA-256 fingerprint (hex, colon-separated)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    names: list[x509.GeneralName] = []
    seen: set[str] = set()
    for host in (*hosts, *ALWAYS):
        host = host.strip().strip("[]")
        if not host or host.lower() in seen:
            continue
        seen.add(host.lower())
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host.lower()))
    first = hosts[0] if hosts else "localhost"
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first[:64]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "chinwag (self-signed)")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    out.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out / "cert.pem", out / "key.pem"
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)  # an existing file keeps its mode otherwise
        f.write(key_pem)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    digest = cert.fingerprint(hashes.SHA256()).hex()
    return cert_path, key_path, ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()
