"""Operations: health and readiness probes, request ids and structured logs, security headers,
and failed-login throttling. No models: nothing here is tenant data."""
