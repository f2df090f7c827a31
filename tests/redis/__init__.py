"""RedisRateLimit (``dumgum_async._redis*``) against a real redis-server.

Every test that needs one starts its own ``redis-server`` on a free loopback port.
Without redis-server those tests skip, except under ``CI=true`` where they fail: CI
must never pass by skipping them.
"""
