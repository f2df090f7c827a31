"""The package's logger: silent unless the application (or ``DUMGUM_LOG``) asks.

A library must not print: the ``NullHandler`` keeps Python's last-resort handler
from writing our WARNING records to stderr in an application that never set up
logging. ``DUMGUM_LOG=debug`` (or ``info``) adds a stderr handler, for a quick look
without touching the application's logging configuration.
"""

from __future__ import annotations

import logging
import os
from typing import Final

from dumgum_async._config import ENV_LOG

logger: Final = logging.getLogger("dumgum_async")

_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO}


class _EnvHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler added for ``DUMGUM_LOG``; marked so it is added only once."""


def configure(environ: dict[str, str] | None = None) -> None:
    """Give the logger its ``NullHandler``, and a stderr handler if ``DUMGUM_LOG`` says so.

    Args:
        environ: The environment to read; ``os.environ`` by default.
    """
    env = os.environ if environ is None else environ
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    level = _LEVELS.get(env.get(ENV_LOG, "").strip().lower())
    if level is None or any(isinstance(h, _EnvHandler) for h in logger.handlers):
        return
    handler = _EnvHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
