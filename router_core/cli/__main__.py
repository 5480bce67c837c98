"""``python -m router_core.cli``."""

import sys

from router_core.cli import main

sys.exit(main())
