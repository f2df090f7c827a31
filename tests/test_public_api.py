"""The public surface: what ``import dumgum_async`` offers, pinned."""

from __future__ import annotations

import inspect

import dumgum_async as dg
from dumgum_async import exceptions

EXPECTED = [
    "DEFAULT_BASE_URL",
    "DEFAULT_BATCH_CONCURRENCY",
    "DEFAULT_BREAKER_COOLDOWN",
    "DEFAULT_BREAKER_FAILURE_RATIO",
    "DEFAULT_BREAKER_MAX_COOLDOWN",
    "DEFAULT_BREAKER_PROBES",
    "DEFAULT_BREAKER_WINDOW",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AdaptiveRateLimit",
    "AuthenticationError",
    "BadRequestError",
    "BatchFailure",
    "BatchResult",
    "BatchStoppedError",
    "BatchSuccess",
    "BdsmInterest",
    "BodyShape",
    "BudgetExhaustedError",
    "Child",
    "CircuitBreaker",
    "CircuitOpenError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "DumGumClient",
    "DumGumError",
    "Education",
    "Ethnicity",
    "EyesColor",
    "Features",
    "Gender",
    "Gift",
    "GiftTier",
    "HairColor",
    "HairLength",
    "Interest",
    "InternalServerError",
    "Language",
    "Limiter",
    "LivingWith",
    "LookingFor",
    "MaritalStatus",
    "Message",
    "MusicGenre",
    "NotFoundError",
    "NotGiven",
    "PermissionDeniedError",
    "Personality",
    "Pet",
    "PetSex",
    "Problem",
    "Profile",
    "RateLimit",
    "RateLimitError",
    "RateLimiterUnavailableError",
    "RawResponse",
    "RedisRateLimit",
    "Religion",
    "RequestValidationError",
    "ResponseDecodeError",
    "RetryBudget",
    "RetryPolicy",
    "Sender",
    "SexualInterest",
    "SexualOrientation",
    "Smoking",
    "Sport",
    "StatsSnapshot",
    "SuggestionRequest",
    "SuggestionResponse",
    "SurgeryStatus",
    "Timeout",
    "UnitSystem",
    "UnprocessableEntityError",
    "WantsChildren",
    "WireEnum",
    "__version__",
    "validate",
]


def test_all_is_pinned() -> None:
    assert dg.__all__ == EXPECTED


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then the rest; each alphabetical.
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return (kind, name)


def test_all_is_sorted() -> None:
    assert sorted(dg.__all__, key=_isort_key) == dg.__all__


def test_every_public_name_exists() -> None:
    missing = [name for name in dg.__all__ if not hasattr(dg, name)]
    assert missing == []


def test_every_public_object_has_a_docstring() -> None:
    undocumented = [
        name
        for name in dg.__all__
        if (inspect.isclass(getattr(dg, name)) or inspect.isfunction(getattr(dg, name)))
        and not inspect.getdoc(getattr(dg, name))
    ]
    assert undocumented == []


def test_every_exception_derives_from_dumgum_error() -> None:
    classes = [
        obj
        for obj in vars(exceptions).values()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    ]
    assert classes
    assert all(issubclass(cls, dg.DumGumError) for cls in classes)


def test_exceptions_module_imports_nothing_of_ours() -> None:
    source = inspect.getsource(exceptions)
    assert "from dumgum_async" not in source
    assert "import dumgum_async" not in source


def test_the_tree_in_the_docstring_names_every_exception() -> None:
    doc = exceptions.__doc__ or ""
    names = [n for n in exceptions.__all__ if n.endswith("Error")]
    assert [n for n in names if n not in doc] == []
