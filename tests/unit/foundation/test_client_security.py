"""Kafka TLS/SASL and PostgreSQL TLS settings become the right client configuration."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from touchpoint_common.db.engine import get_connect_args
from touchpoint_common.kafka.configuration import (
    get_consumer_config,
    get_producer_config,
    get_security_config,
)
from touchpoint_common.settings import CommonSettings


def write_self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate and its key as PEM files (CA and client certificate alike)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "touchpoint-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_plaintext_by_default() -> None:
    """Without settings the clients speak PLAINTEXT and the database connects without TLS."""
    settings = CommonSettings()
    assert get_security_config(settings) == {"security_protocol": "PLAINTEXT"}
    assert get_connect_args(settings) == {}


def test_kafka_sasl_ssl_gives_a_verifying_context_and_scram_credentials(tmp_path: Path) -> None:
    """SASL_SSL: producer and consumer get a CA-verifying, hostname-checking TLS context with
    the client certificate loaded, and the SCRAM mechanism, user name and password."""
    cert, key = write_self_signed(tmp_path)
    settings = CommonSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_ssl_cafile=str(cert),
        kafka_ssl_certfile=str(cert),
        kafka_ssl_keyfile=str(key),
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="touchpoint-ingest",
        kafka_sasl_password="s3cr3t-pa55",
    )
    for config in (get_producer_config(settings), get_consumer_config(settings, group_id="g")):
        assert config["security_protocol"] == "SASL_SSL"
        context = config["ssl_context"]
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname
        assert context.get_ca_certs()[0]["subject"] == ((("commonName", "touchpoint-test"),),)
        assert config["sasl_mechanism"] == "SCRAM-SHA-256"
        assert config["sasl_plain_username"] == "touchpoint-ingest"
        assert config["sasl_plain_password"] == "s3cr3t-pa55"


def test_kafka_ssl_without_sasl_has_no_credentials() -> None:
    """SSL alone: a TLS context (system CAs) and no SASL options."""
    config = get_security_config(CommonSettings(kafka_security_protocol="SSL"))
    assert isinstance(config["ssl_context"], ssl.SSLContext)
    assert not {"sasl_mechanism", "sasl_plain_username"} & set(config)


def test_kafka_sasl_without_credentials_is_refused() -> None:
    """A SASL protocol without user name and password fails at start-up, naming the settings."""
    with pytest.raises(ValidationError, match="TOUCHPOINT_KAFKA_SASL_USERNAME"):
        CommonSettings(kafka_security_protocol="SASL_SSL")


@pytest.mark.parametrize(
    ("mode", "verify", "check_hostname"),
    [
        ("require", ssl.CERT_NONE, False),
        ("verify-ca", ssl.CERT_REQUIRED, False),
        ("verify-full", ssl.CERT_REQUIRED, True),
    ],
)
def test_database_ssl_modes_follow_libpq(
    tmp_path: Path, mode: str, verify: ssl.VerifyMode, check_hostname: bool
) -> None:
    """database_ssl_mode gives asyncpg an SSL context with libpq's meaning of the mode, the
    root certificate as its CA, and the client certificate loaded."""
    cert, key = write_self_signed(tmp_path)
    settings = CommonSettings.model_validate(
        {
            "database_ssl_mode": mode,
            "database_ssl_root_cert": str(cert),
            "database_ssl_cert": str(cert),
            "database_ssl_key": str(key),
        }
    )
    context = get_connect_args(settings)["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == verify
    assert context.check_hostname == check_hostname
    assert len(context.get_ca_certs()) == 1
