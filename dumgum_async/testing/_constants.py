"""Names and helpers shared by the emulator's modules (cheap to import)."""

from __future__ import annotations

import ipaddress

# Every default lives in the client's _config (a leaf of plain values); the emulator
# re-exports this one as dumgum_async.testing.DEFAULT_API_KEY.
from dumgum_async._config import DEFAULT_API_KEY

__all__ = ["DEFAULT_API_KEY", "ENDPOINT_PATH", "STRING_LIST_HEADER", "loopback_host"]

ENDPOINT_PATH = "/cs/v1/content_creation/suggestion"
"""Path of the suggestion endpoint, the emulator's only route."""

STRING_LIST_HEADER = "X-DumGum-String-List"
"""Request header (``1``/``true``/``yes``) asking for the vendor's old form of the answer:
``"suggestions"`` as one string holding a Python-style list."""


def loopback_host(host: str) -> str:
    """Check that ``host`` is a loopback address and return the address to bind.

    ``localhost`` maps to ``127.0.0.1``; any address of 127.0.0.0/8 and ``::1`` are kept.

    Raises:
        ValueError: ``host`` is not a loopback IP address (the emulator never listens on
            a network interface).
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"the DumGum emulator binds to loopback addresses only, {host!r} is not an IP "
            "address (use 127.0.0.1, ::1 or localhost)"
        ) from None
    if not address.is_loopback:
        raise ValueError(
            f"the DumGum emulator binds to loopback addresses only (127.0.0.1, ::1), not {host!r}"
        )
    return host
