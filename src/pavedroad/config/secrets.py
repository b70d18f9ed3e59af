"""Resolve credential references (`env:NAME`, `secret:NAME`, `file:PATH`) to values.

Values stay wrapped in SecretStr until the provider adapter puts them in a header, so
they never reach a repr, a log line, an error body or a metric label.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import SecretStr

from pavedroad.config.loader import ConfigProblem


class SecretResolver:
    def __init__(
        self, *, secrets_file: Path | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        self._env = os.environ if env is None else env
        self._file = secrets_file
        self._secrets: dict[str, str] | None = None

    def _load_file(self) -> dict[str, str]:
        if self._secrets is None:
            if self._file is None:
                raise LookupError("`secret:` needs `secrets_file` to be set")
            try:
                data = yaml.safe_load(self._file.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise LookupError(f"cannot read secrets_file {self._file}: {exc}") from None
            if not isinstance(data, dict):
                raise LookupError(f"secrets_file {self._file} must be a mapping of names to values")
            self._secrets = {str(k): str(v) for k, v in data.items()}
        return self._secrets

    def resolve(self, ref: SecretStr | None) -> SecretStr | None:
        """The secret's value; raises LookupError saying what is missing (never the value)."""
        if ref is None:
            return None
        raw = ref.get_secret_value()
        scheme, _, name = raw.partition(":")
        if scheme == "env" and name:
            if not self._env.get(name):
                raise LookupError(f"environment variable {name} is not set")
            return SecretStr(self._env[name])
        if scheme == "secret" and name:
            secrets = self._load_file()
            if name not in secrets:
                raise LookupError(f"secret {name!r} is not in secrets_file")
            return SecretStr(secrets[name])
        if scheme == "file" and name:
            try:
                return SecretStr(Path(name).read_text(encoding="utf-8").strip())
            except OSError as exc:
                raise LookupError(f"cannot read key file {name}: {exc.strerror}") from None
        return ref

    def problem(self, ref: SecretStr | None, path: str) -> ConfigProblem | None:
        try:
            self.resolve(ref)
        except LookupError as exc:
            return ConfigProblem(path, str(exc))
        return None
