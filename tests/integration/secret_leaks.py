"""A SASL password a process is given but never needs, and the check that no secret shows.

The local broker speaks PLAINTEXT, so the password is set with the PLAINTEXT
protocol: unused, and still a secret that must not reach a log or /metrics.
"""

from __future__ import annotations

from collections.abc import Mapping

WITH_UNUSED_SASL_PASSWORD = {
    "TRACKER_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
    "TRACKER_KAFKA_SASL_PASSWORD": "integration-sasl-password-Qx71",
}
SECRET_VARIABLES = ("TRACKER_KAFKA_SASL_PASSWORD", "TRACKER_PSEUDONYM_KEY")


def assert_no_secrets(text: str, where: str, env: Mapping[str, str]) -> None:
    """Neither the SASL password nor the pseudonym key a process was started with is in text."""
    secrets = [env[name] for name in SECRET_VARIABLES if env.get(name)]
    assert len(secrets) == len(SECRET_VARIABLES), "start the process with both secrets set"
    for secret in secrets:
        assert secret not in text, f"{where} shows a secret"
