from django.http import HttpRequest


def csp_nonce(request: HttpRequest) -> dict[str, str]:
    """Expose the request's CSP nonce as ``csp_nonce``: django-htmx's ``{% htmx_script %}``
    reads that name, and any template needing an inline script or style must carry it."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
