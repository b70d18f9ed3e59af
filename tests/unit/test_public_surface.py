"""Pins the public surface: error codes (and their docs), settings docs, CLI help."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from pavedroad.cli.main import cli
from pavedroad.config.loader import ENV_VARS
from pavedroad.config.models import Settings
from pavedroad.core.errors import all_error_classes

DOCS = Path(__file__).resolve().parents[2] / "docs"

ERROR_CODES = {
    "budget_exceeded", "circuit_open", "conflict", "context_length_exceeded", "expired_api_key",
    "internal_error", "invalid_api_key", "invalid_json", "invalid_request",
    "method_not_allowed", "missing_api_key", "model_disabled", "model_not_allowed",
    "model_not_found", "no_deployment_available", "not_found", "permission_denied",
    "rate_limited", "reranker_unavailable", "request_too_large", "revoked_api_key",
    "service_unavailable",
    "store_unavailable", "policy_denied", "guardrail_blocked", "switched_off", "output_invalid",
    "unsupported_media_type", "upstream_auth_error", "upstream_bad_response", "upstream_error",
    "upstream_overloaded", "upstream_rate_limited", "upstream_rejected_request",
    "upstream_stream_broken", "upstream_timeout", "upstream_unreachable",
    "collection_not_found", "unsupported_document_type", "document_unreadable",
    "prompt_not_found", "prompt_invalid", "prompt_variables_invalid", "promotion_requires_gate",
    "dataset_invalid", "dataset_not_found", "eval_config_invalid", "eval_run_not_found",
}


def test_error_codes_are_pinned_and_unique() -> None:
    codes = [cls.code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))
    assert set(codes) == ERROR_CODES


def test_every_error_code_is_documented_with_its_status() -> None:
    text = (DOCS / "errors.md").read_text()
    for cls in all_error_classes():
        assert re.search(rf"`{cls.code}`\s*\|\s*{cls.http_status}\b", text), cls.code


def _fields(model: type, prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            out += _fields(annotation, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def test_every_setting_and_env_var_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    for dotted in _fields(Settings):
        assert f"`{dotted}`" in text, dotted
    for env in ENV_VARS:
        assert f"`{env}`" in text, env
    for dotted in _fields(Settings.model_fields["deployments"].annotation.__args__[0],  # type: ignore[union-attr]
                          "deployments[]."):
        assert f"`{dotted}`" in text, dotted


def _commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, command in getattr(group, "commands", {}).items():
        out.append((*prefix, name))
        out += _commands(command, (*prefix, name))
    return out


def test_every_cli_command_has_help_and_docs() -> None:
    runner = CliRunner()
    text = (DOCS / "cli.md").read_text()
    for path in _commands(cli):
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage:" in result.output
        assert f"pavedroad {' '.join(path)}" in text, path
