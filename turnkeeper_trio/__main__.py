"""``python -m turnkeeper_trio``: the command line (``next`` previews a schedule)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
