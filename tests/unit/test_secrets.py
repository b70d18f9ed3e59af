"""Credential references resolve from env, a secrets file or a key file, and say what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from pavedroad.config.secrets import SecretResolver


def test_env_file_and_literal(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("openai: sk-from-file\n")
    keyfile = tmp_path / "key.txt"
    keyfile.write_text("sk-from-keyfile\n")
    resolver = SecretResolver(secrets_file=secrets, env={"OPENAI_KEY": "sk-from-env"})
    assert resolver.resolve(SecretStr("env:OPENAI_KEY")).get_secret_value() == "sk-from-env"  # type: ignore[union-attr]
    assert resolver.resolve(SecretStr("secret:openai")).get_secret_value() == "sk-from-file"  # type: ignore[union-attr]
    assert resolver.resolve(SecretStr(f"file:{keyfile}")).get_secret_value() == "sk-from-keyfile"  # type: ignore[union-attr]
    assert resolver.resolve(SecretStr("sk-literal")).get_secret_value() == "sk-literal"  # type: ignore[union-attr]
    assert resolver.resolve(None) is None


@pytest.mark.parametrize(("ref", "message"), [
    ("env:NOPE", "environment variable NOPE is not set"),
    ("secret:absent", "secret 'absent' is not in secrets_file"),
    ("file:/nonexistent/key", "cannot read key file /nonexistent/key"),
])
def test_missing_references_name_what_is_missing(tmp_path: Path, ref: str, message: str) -> None:
    secrets = tmp_path / "s.yaml"
    secrets.write_text("other: x\n")
    resolver = SecretResolver(secrets_file=secrets, env={})
    with pytest.raises(LookupError) as info:
        resolver.resolve(SecretStr(ref))
    assert message in str(info.value)


def test_secret_reference_without_secrets_file() -> None:
    with pytest.raises(LookupError, match="needs `secrets_file`"):
        SecretResolver(env={}).resolve(SecretStr("secret:x"))
