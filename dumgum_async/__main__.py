"""``python -m dumgum_async``: the ``dumgum-async`` command line."""

import sys

from dumgum_async._cli import main

if __name__ == "__main__":
    sys.exit(main())
