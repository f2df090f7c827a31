"""End-to-end tests of the README's promises.

Unit tests mirror ``dumgum_async/`` (``tests/test_<module>.py``, ``tests/cli/``,
``tests/redis/``, ``tests/testing/``); ``tests/promises/`` holds the end-to-end tests
of what the README promises (the key never leaks, outages and fatal errors, retries
and deadlines, hostile servers and hostile input, proxies and TLS, latency counted
apart from waits), against real sockets wherever there is a network side.
"""
