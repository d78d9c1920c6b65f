"""One shape for every API error, so integrators write one handler:

    {"code": "invalid", "detail": "A sentence for people.", "errors": {"field": ["message"]}}

``errors`` is field-by-field for validation failures (``non_field_errors`` for the request as
a whole) and empty otherwise. Django ``ValidationError`` raised by a service (the domain's
rules) becomes the same 400 as a serializer's, so a rule holds identically on pages and API.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def _flatten(detail: Any) -> Any:
    """Error details as plain strings (lists and dicts kept, codes dropped)."""
    if isinstance(detail, dict):
        return {str(key): _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(detail=as_serializer_error(exc))
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return exceptions.NotFound()
    if isinstance(exc, IntegrityError):
        # Services validate first; this is the last line against a race between two writers.
        return Conflict()
    return exc


def error_body(code: str, detail: str, errors: dict | None = None) -> dict[str, Any]:
    return {"code": code, "detail": detail, "errors": errors or {}}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    exc = _as_api_exception(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body(
            "invalid", "The request has errors; see errors, field by field.", _flatten(errors)
        )
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = error_body(code, str(_flatten(detail)))
    return response


def api_aware_page_not_found(request, exception=None):
    """The site's 404: for a URL under /api/ that matched no route (an id of the wrong shape,
    say), the API's JSON error instead of the HTML page, so integrators get one shape."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "No such resource."), status=404)
    return page_not_found(request, exception)


def api_aware_server_error(request):
    """The site's 500, as the API's JSON error under /api/."""
    from django.http import JsonResponse
    from django.views.defaults import server_error

    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; it was logged."),
            status=500,
        )
    return server_error(request)
