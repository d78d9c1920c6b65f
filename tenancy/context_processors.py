from django.http import HttpRequest


def organization(request: HttpRequest) -> dict:
    """Expose the organization and seat resolved for this request to every template."""
    return {
        "organization": getattr(request, "organization", None),
        "seat": getattr(request, "seat", None),
    }
