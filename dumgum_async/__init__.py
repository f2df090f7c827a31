"""Typed asyncio client for the DumGum content-creation suggestion API.

::

    import dumgum_async as dg

    async with dg.DumGumClient() as client:          # key from DUMGUM_API_KEY
        resp = await client.suggest(request)         # a SuggestionRequest or a dict
        print(resp.suggestions)

Public names live here; submodules whose name starts with ``_`` are private.
``dumgum_async.exceptions`` and ``dumgum_async.testing`` are public too.
"""

# The converter attaches from_dict()/to_dict() to the models: import it first.
from dumgum_async import _converter  # noqa: F401  (isort: skip)
from dumgum_async import _log
from dumgum_async._batch import BatchResult
from dumgum_async._client import DumGumClient
from dumgum_async._config import (
    DEFAULT_BASE_URL,
    DEFAULT_BREAKER_COOLDOWN,
    DEFAULT_BREAKER_FAILURE_RATIO,
    DEFAULT_BREAKER_MAX_COOLDOWN,
    DEFAULT_BREAKER_PROBES,
    DEFAULT_BREAKER_WINDOW,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    CircuitBreaker,
    RateLimit,
    RetryBudget,
    RetryPolicy,
)
from dumgum_async._enums import (
    BdsmInterest,
    BodyShape,
    Education,
    Ethnicity,
    EyesColor,
    Gender,
    GiftTier,
    HairColor,
    HairLength,
    Interest,
    Language,
    LivingWith,
    LookingFor,
    MaritalStatus,
    MusicGenre,
    Personality,
    PetSex,
    Religion,
    Sender,
    SexualInterest,
    SexualOrientation,
    Smoking,
    Sport,
    SurgeryStatus,
    UnitSystem,
    WantsChildren,
    WireEnum,
)
from dumgum_async._models import (
    Child,
    Features,
    Gift,
    Message,
    Pet,
    Profile,
    SuggestionRequest,
    SuggestionResponse,
)
from dumgum_async._redis import RedisRateLimit
from dumgum_async._stats import StatsSnapshot
from dumgum_async._throttle import Limiter
from dumgum_async._validate import validate
from dumgum_async._version import __version__
from dumgum_async.exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExhaustedError,
    CircuitOpenError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    DumGumError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    RateLimitError,
    RateLimiterUnavailableError,
    RequestValidationError,
    ResponseDecodeError,
    UnprocessableEntityError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_BREAKER_COOLDOWN",
    "DEFAULT_BREAKER_FAILURE_RATIO",
    "DEFAULT_BREAKER_MAX_COOLDOWN",
    "DEFAULT_BREAKER_PROBES",
    "DEFAULT_BREAKER_WINDOW",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchResult",
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
    "PermissionDeniedError",
    "Personality",
    "Pet",
    "PetSex",
    "Problem",
    "Profile",
    "RateLimit",
    "RateLimitError",
    "RateLimiterUnavailableError",
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
    "UnitSystem",
    "UnprocessableEntityError",
    "WantsChildren",
    "WireEnum",
    "__version__",
    "validate",
]

_log.configure()
