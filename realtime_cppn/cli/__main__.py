"""``python -m realtime_cppn.cli``: the same as the ``realtime-cppn`` command."""

import sys

from .main import main

sys.exit(main())
