"""Validate the action server's answers against a schema that is checked once, not per call.

Rasa 3.6 validates every custom action's response with ``jsonschema.validate``, which first
re-checks the (constant) response schema against the JSON-Schema meta-schema. Measured under
load, that re-check was 43 % of the Rasa server's CPU time. The response itself is still
validated exactly as before, and the same ``ValidationError`` (best match) is raised.

Installed by ``bot/channels.py``, which Rasa imports at start (credentials.yml names it).
"""

from __future__ import annotations

from typing import Any

from jsonschema import validators
from jsonschema.exceptions import ValidationError, best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_validator: Any = None


def _response_validator() -> Any:
    global _validator
    if _validator is None:
        schema = RemoteAction.action_response_format_spec()
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
        _validator = cls(schema)
    return _validator


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    error: ValidationError | None = best_match(_response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            f"from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
