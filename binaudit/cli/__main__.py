"""`python -m binaudit.cli ...` runs the `binaudit` command."""

import sys

from binaudit.cli import main

sys.exit(main())
