"""``python -m lead_pipeline.cli``: the same entry point as the console script."""

import sys

from lead_pipeline.cli import main

sys.exit(main())
