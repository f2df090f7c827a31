"""``batch --resume``: what an earlier run's output already answers, and that output
rewritten to keep only its answers."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile

from dumgum_async._cli._jsonl import id_key


class Resumed:
    """What the previous output held: the answered ids, and what was dropped."""

    def __init__(self) -> None:
        self.answered: set[str] = set()
        self.failed: set[str] = set()
        self.dropped = 0
        self.torn = 0

    @property
    def to_retry(self) -> int:
        """Ids with an error line and no answer: this run tries them again."""
        return len(self.failed - self.answered)


def compact_output(path: str) -> Resumed:
    """Keep only the answered lines of ``path``, rewriting it atomically if needed.

    Error lines are dropped because those ids are about to be retried (their new
    line would otherwise duplicate the id), and so is anything that is not a whole
    JSON line (a torn last line, a stray fragment). An answered line is never
    dropped, not even a second one for the same id.
    """
    found = Resumed()
    if not os.path.exists(path):
        return found
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".dumgum-resume-", suffix=".tmp")
    try:
        with open(path, "rb") as source, os.fdopen(fd, "wb") as target:
            for raw in source:
                try:
                    record = json.loads(raw) if raw.endswith(b"\n") else None
                except ValueError:
                    record = None
                if not isinstance(record, dict) or "id" not in record:
                    found.torn += 1
                    continue
                key = id_key(record["id"])
                if not isinstance(record.get("suggestions"), list):
                    found.failed.add(key)
                    found.dropped += 1
                    continue
                found.answered.add(key)
                target.write(raw)
            target.flush()
            os.fsync(target.fileno())
        if found.dropped or found.torn:
            os.chmod(temp, stat.S_IMODE(os.stat(path).st_mode))
            os.replace(temp, path)
        else:
            os.unlink(temp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return found
