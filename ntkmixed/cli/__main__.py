"""``python -m ntkmixed.cli``."""

import sys

from ntkmixed.cli import main

sys.exit(main())
