"""A throwaway certificate authority and one server certificate for every Binance host.

ccxt keeps its real ``https://`` and ``wss://`` URLs in the tests, so TLS really
runs: the fake venue presents a certificate signed by this CA, and the client's
session trusts exactly this CA (and nothing else, so nothing can leak out).
Keys are EC P-256, generated in milliseconds, never written outside a temp dir.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Every host ccxt's binance class may dial (REST, streams, ws-api) in the live,
# spot-testnet and demo environments. Live hosts are served too, so a test can
# prove that nothing goes there unless live trading is enabled.
BINANCE_HOSTS = (
    "api.binance.com", "fapi.binance.com", "dapi.binance.com", "sapi.binance.com",
    "stream.binance.com", "fstream.binance.com", "dstream.binance.com",
    "ws-api.binance.com", "ws-fapi.binance.com",
    "testnet.binance.vision", "stream.testnet.binance.vision", "ws-api.testnet.binance.vision",
    "testnet.binancefuture.com", "fstream.binancefuture.com", "dstream.binancefuture.com",
    "demo-api.binance.com", "demo-fapi.binance.com", "demo-dapi.binance.com",
    "demo-stream.binance.com", "demo-ws-api.binance.com",
)


@dataclass(frozen=True)
class TestPKI:
    ca_pem: bytes
    cert_file: Path
    key_file: Path
    ca_file: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """Trusts the test CA only: a real Binance certificate would be refused."""
        ctx = ssl.create_default_context(cadata=self.ca_pem.decode())
        return ctx


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@lru_cache(maxsize=1)
def test_pki() -> TestPKI:
    """One CA and server certificate per test process (cached)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("trading-terminal test CA"))
        .issuer_name(_name("trading-terminal test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in BINANCE_HOSTS]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("fake binance"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="fake-binance-pki-"))
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file, ca_file = folder / "server.pem", folder / "server.key", folder / "ca.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ca_file.write_bytes(ca_pem)
    return TestPKI(ca_pem, cert_file, key_file, ca_file)
