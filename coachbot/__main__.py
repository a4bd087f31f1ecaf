"""``python -m coachbot …`` runs the ``coachbot`` command."""

import sys

from bot.cli import main

sys.exit(main())
