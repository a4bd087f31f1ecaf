"""``python -m coachbot …`` runs the ``coachbot`` command."""

import sys

from bot.assembly.cli import main

sys.exit(main())
