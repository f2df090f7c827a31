"""A client's settings, checked once when it is made, and the limiter they name.

Every check ``DumGumClient.__init__`` makes of its arguments is here, so that the
client's constructor reads as what it builds; each raises ``ConfigurationError``.
"""

from __future__ import annotations

from ssl import SSLContext

from dumgum_async._aiolimiter import AsyncLimiterLike, StrictAsyncLimiter
from dumgum_async._config import AdaptiveRateLimit, CircuitBreaker, RateLimit, RetryPolicy
from dumgum_async._throttle import Limiter, LocalLimiter
from dumgum_async._throttle_adaptive import AdaptiveLimiter
from dumgum_async.exceptions import ConfigurationError


def check_settings(
    *,
    retry: object,
    rate_limit: object,
    max_concurrency: object,
    max_response_bytes: object,
    circuit_breaker: object,
    trust_env: object,
    ssl: object,
    allow_insecure_http: object,
    strict_enums: object = True,
    telemetry: object = True,
) -> None:
    """Refuse a client setting of the wrong type or out of range.

    Raises:
        ConfigurationError: Naming the setting.
    """
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ConfigurationError(f"retry must be a RetryPolicy or None, got {retry!r}")
    if rate_limit is not None and not isinstance(
        rate_limit, RateLimit | AdaptiveRateLimit | Limiter | AsyncLimiterLike
    ):
        raise ConfigurationError(
            "rate_limit must be a RateLimit, RateLimit.adaptive(...), an "
            f"aiolimiter.AsyncLimiter, a limiter or None, got {rate_limit!r}"
        )
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
        raise ConfigurationError(f"max_concurrency must be an integer, got {max_concurrency!r}")
    if max_concurrency < 1:
        raise ConfigurationError(f"max_concurrency must be >= 1, got {max_concurrency}")
    # NaN compares false with everything, so it would switch the cap off: only an int.
    if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int):
        raise ConfigurationError(
            f"max_response_bytes must be an integer, got {type(max_response_bytes).__name__}"
        )
    if max_response_bytes < 1024:
        raise ConfigurationError("max_response_bytes must be at least 1024")
    if circuit_breaker is not None and not isinstance(circuit_breaker, CircuitBreaker):
        raise ConfigurationError(
            f"circuit_breaker must be a CircuitBreaker or None, got {circuit_breaker!r}"
        )
    for name, flag in (
        ("trust_env", trust_env),
        ("allow_insecure_http", allow_insecure_http),
        ("strict_enums", strict_enums),
        ("telemetry", telemetry),
    ):
        if not isinstance(flag, bool):
            raise ConfigurationError(f"{name} must be True or False, got {flag!r}")
    if not isinstance(ssl, SSLContext | bool):
        raise ConfigurationError(
            f"ssl must be an ssl.SSLContext, True or False, got {type(ssl).__name__}"
        )
    if ssl is False and not allow_insecure_http:
        raise ConfigurationError(
            "ssl=False turns certificate verification off, so anyone on the path can "
            "read the API key; pass allow_insecure_http=True as well if that is meant, "
            "or give ssl an SSLContext that trusts your CA"
        )


def limiter_for(
    rate_limit: RateLimit | AdaptiveRateLimit | Limiter | AsyncLimiterLike | None,
) -> Limiter:
    """The client's limiter for its ``rate_limit=`` (None: no limit)."""
    if isinstance(rate_limit, Limiter):
        return rate_limit
    if isinstance(rate_limit, AsyncLimiterLike):
        return StrictAsyncLimiter(rate_limit)
    if isinstance(rate_limit, AdaptiveRateLimit):
        return AdaptiveLimiter(rate_limit)
    return LocalLimiter(rate_limit)
