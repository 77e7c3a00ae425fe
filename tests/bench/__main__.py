"""``python -m tests.bench [--quick] [--out DIR]``: see tests/bench/run.py."""

from __future__ import annotations

import sys

from .run import main

sys.exit(main())
