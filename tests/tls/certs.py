"""Certificates for the TLS tests, made with the `cryptography` package (Debian's
python3-cryptography): a CA, server certificates for 127.0.0.1/localhost, client certificates
(one with an e-mail SAN), an unrelated CA, and an expired client certificate. EC P-256."""

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import ipaddress


class Authority:
    """A CA that writes PEM files into `folder`."""

    def __init__(self, folder, name):
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder()
                     .subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(days=2))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.path = self._write(name.replace(" ", "-") + "-ca.pem", self.cert)

    def _write(self, file, cert, key=None):
        path = os.path.join(self.folder, file)
        with open(path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            with open(path[:-4] + ".key", "wb") as f:
                f.write(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        return path

    def issue(self, file, common_name, server=False, email=None, valid_days=2):
        """Writes FILE.pem and FILE.key; returns (cert path, key path). valid_days < 0: expired."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        start = now - datetime.timedelta(minutes=5)
        end = now + datetime.timedelta(days=valid_days)
        if valid_days < 0:
            start = now + datetime.timedelta(days=valid_days * 2)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(self.name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
        names = []
        if server:
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        if email:
            names.append(x509.RFC822Name(email))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        path = self._write(file + ".pem", cert, key)
        return path, path[:-4] + ".key"
