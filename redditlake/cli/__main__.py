"""``python -m redditlake.cli``: the same command as the ``redditlake`` script."""

import sys

from redditlake.cli import main

sys.exit(main())
