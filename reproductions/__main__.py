"""`python -m reproductions ...`: see `reproductions.cli`."""

import sys

from reproductions.cli import main

sys.exit(main())
