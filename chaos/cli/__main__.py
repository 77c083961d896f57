"""`python -m chaos.cli ...`: the `gameday` command without the console script."""

import sys

from chaos.cli.main import main

sys.exit(main())
