"""The one error hierarchy.

Every failure a caller can see is one of these classes. Each carries a stable `code`
(part of the public API, documented in docs/errors.md), the HTTP status it maps to, and
whether retrying the same call elsewhere may succeed — routing decides by class, never
by parsing messages. `api/errors.py` is the only place these become HTTP bodies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar


class PavedroadError(Exception):
    """Base of every error pavedroad raises on purpose."""

    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, param: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.details = details

    def headers(self) -> dict[str, str]:
        """Extra HTTP headers the wire response should carry (e.g. Retry-After)."""
        return {}

    def body_fields(self) -> dict[str, Any]:
        """Extra fields of the wire error object beside message, type, code and param."""
        return {}


# --- the caller's fault (4xx) -------------------------------------------------


class InvalidRequest(PavedroadError):
    code = "invalid_request"
    http_status = 400
    error_type = "invalid_request_error"


class InvalidJSON(InvalidRequest):
    code = "invalid_json"


class UnsupportedMediaType(InvalidRequest):
    code = "unsupported_media_type"
    http_status = 415


class UnsupportedDocumentType(UnsupportedMediaType):
    """A document to ingest is not plain text, Markdown, HTML or PDF."""

    code = "unsupported_document_type"


class DocumentUnreadable(InvalidRequest):
    """A document to ingest could not be parsed (a damaged PDF, text that is not UTF-8)."""

    code = "document_unreadable"


class RerankerUnavailable(InvalidRequest):
    """A search asked for reranking on a gateway that has no reranker (`retrieval.reranker`
    is none, or the `onnx` extra is not installed)."""

    code = "reranker_unavailable"


class RequestTooLarge(InvalidRequest):
    code = "request_too_large"
    http_status = 413


class MissingAPIKey(PavedroadError):
    code = "missing_api_key"
    http_status = 401
    error_type = "authentication_error"


class InvalidAPIKey(MissingAPIKey):
    code = "invalid_api_key"


class ExpiredAPIKey(MissingAPIKey):
    code = "expired_api_key"


class RevokedAPIKey(MissingAPIKey):
    code = "revoked_api_key"


class PermissionDenied(PavedroadError):
    code = "permission_denied"
    http_status = 403
    error_type = "permission_error"


class ModelNotAllowed(PermissionDenied):
    code = "model_not_allowed"


class PolicyDenied(PermissionDenied):
    """The policy forbids this request (model, region, tool or app); `reasons` say why."""

    code = "policy_denied"


class GuardrailBlocked(PavedroadError):
    """A guardrail found something its policy action blocks. Names the guardrail and the
    category, never the offending content."""

    code = "guardrail_blocked"
    http_status = 400
    error_type = "invalid_request_error"

    def __init__(self, message: str, *, guardrail: str, category: str, direction: str,
                 **details: Any) -> None:
        super().__init__(message, **details)
        self.guardrail = guardrail
        self.category = category
        self.direction = direction

    def body_fields(self) -> dict[str, Any]:
        return {"guardrail": self.guardrail, "category": self.category,
                "direction": self.direction}


class NotFound(PavedroadError):
    code = "not_found"
    http_status = 404
    error_type = "not_found_error"


class ModelNotFound(NotFound):
    code = "model_not_found"


class CollectionNotFound(NotFound):
    """No retrieval collection by that id or name that the caller's key may use."""

    code = "collection_not_found"


class Conflict(PavedroadError):
    code = "conflict"
    http_status = 409
    error_type = "invalid_request_error"


class PromptNotFound(NotFound):
    """No prompt, label or version by that reference that the caller's app owns."""

    code = "prompt_not_found"


class PromptInvalid(InvalidRequest):
    """A prompt pushed to the registry is malformed (template, variables, parameters)."""

    code = "prompt_invalid"


class PromptVariablesInvalid(InvalidRequest):
    """The variables sent to render a prompt are missing, unknown or of the wrong type."""

    code = "prompt_variables_invalid"


class PromotionRequiresGate(Conflict):
    """Moving `production` for a high-risk app needs a passing gate recorded for the version."""

    code = "promotion_requires_gate"


class DatasetInvalid(InvalidRequest):
    """An evaluation dataset file is malformed; the message names the row and the field."""

    code = "dataset_invalid"


class EvalConfigInvalid(InvalidRequest):
    """An evaluation suite or gate file, or a scorer's parameters, are malformed."""

    code = "eval_config_invalid"


class DatasetNotFound(NotFound):
    """No evaluation dataset by that name (and version) in the store."""

    code = "dataset_not_found"


class EvalRunNotFound(NotFound):
    """No evaluation run by that id that the caller may read."""

    code = "eval_run_not_found"


class MethodNotAllowed(PavedroadError):
    code = "method_not_allowed"
    http_status = 405
    error_type = "invalid_request_error"


class ModelDisabled(PavedroadError):
    """Every deployment that could serve the model is switched off by the kill switch."""

    code = "model_disabled"
    http_status = 503
    error_type = "service_unavailable_error"


class SwitchedOff(PavedroadError):
    """An administrator switched off the caller's app, or the whole gateway."""

    code = "switched_off"
    http_status = 503
    error_type = "service_unavailable_error"


class RateLimited(PavedroadError):
    """A rate limit of the caller's key, app, team or tenant is reached, or every
    deployment that could serve the request is at its own limit. Clears by itself."""

    code = "rate_limited"
    http_status = 429
    error_type = "rate_limit_error"

    def __init__(
        self, message: str, *, retry_after: float,
        limit_headers: Mapping[str, str] | None = None, **details: Any,
    ) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after
        self.limit_headers = dict(limit_headers or {})

    def headers(self) -> dict[str, str]:
        return {**self.limit_headers, "retry-after": str(max(1, math.ceil(self.retry_after)))}


class BudgetExceeded(PavedroadError):
    """A hard budget would be exceeded. 402, not 429: it does not clear in seconds, and
    SDKs retry 429 on their own (see docs/adr/0008-limits-and-budgets.md)."""

    code = "budget_exceeded"
    http_status = 402
    error_type = "insufficient_quota"

    def __init__(self, message: str, *, budget: Mapping[str, Any], **details: Any) -> None:
        super().__init__(message, **details)
        self.budget = dict(budget)

    def body_fields(self) -> dict[str, Any]:
        return {"budget": self.budget}


# --- the upstream's fault (what routing reacts to) ----------------------------


class UpstreamError(PavedroadError):
    """A provider call failed. Subclasses say why, so routing can decide by class."""

    code = "upstream_error"
    http_status = 502
    error_type = "upstream_error"
    retryable = True
    # Whether retrying the *same* deployment may help (else routing moves on at once).
    retry_same: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        self.status = status
        self.retry_after = retry_after


class UpstreamRateLimited(UpstreamError):
    code = "upstream_rate_limited"
    http_status = 429

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"retry-after": str(max(1, round(self.retry_after)))}


class UpstreamOverloaded(UpstreamError):
    code = "upstream_overloaded"
    http_status = 503


class UpstreamTimeout(UpstreamError):
    code = "upstream_timeout"
    http_status = 504


class UpstreamConnectionError(UpstreamError):
    code = "upstream_unreachable"
    http_status = 502


class UpstreamBadResponse(UpstreamError):
    """The upstream answered with something that is not its own wire format."""

    code = "upstream_bad_response"
    http_status = 502


class UpstreamStreamBroken(UpstreamError):
    """A stream died after it started, or ended without its terminal event."""

    code = "upstream_stream_broken"
    http_status = 502


class UpstreamAuthError(UpstreamError):
    """The gateway's own credentials for a provider were refused: an operator problem."""

    code = "upstream_auth_error"
    http_status = 502
    retry_same = False


class UpstreamRejected(UpstreamError):
    """The upstream refused the request itself (4xx); another deployment would too."""

    code = "upstream_rejected_request"
    http_status = 400
    error_type = "invalid_request_error"
    retryable = False


class ContextWindowExceeded(UpstreamRejected):
    code = "context_length_exceeded"


class CircuitOpen(UpstreamError):
    code = "circuit_open"
    http_status = 503


class OutputInvalid(PavedroadError):
    """The model's answer does not match the requested JSON schema, even after the one
    repair attempt; `errors` lists what is wrong (not the answer itself)."""

    code = "output_invalid"
    http_status = 502
    error_type = "server_error"


class NoDeploymentAvailable(PavedroadError):
    """Routing exhausted every target; `last` is what the final attempt failed with."""

    code = "no_deployment_available"
    http_status = 503
    error_type = "service_unavailable_error"


class ServiceUnavailable(PavedroadError):
    code = "service_unavailable"
    http_status = 503
    error_type = "service_unavailable_error"


class StoreUnavailable(ServiceUnavailable):
    """The store is unreachable and the caller's app is set to fail closed."""

    code = "store_unavailable"


class BackendUnavailable(Exception):
    """A shared state store (Redis) could not be reached or refused the call.

    Not a wire error: the stage that called the store decides, by the caller's fail mode,
    whether the request goes on without it (open) or is refused with `ServiceUnavailable`.
    """


def all_error_classes() -> list[type[PavedroadError]]:
    """Every concrete error class, for docs and the test that pins error codes."""
    seen: list[type[PavedroadError]] = []
    stack: list[type[PavedroadError]] = [PavedroadError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(seen, key=lambda c: c.code)
