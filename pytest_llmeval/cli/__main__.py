"""``python -m pytest_llmeval.cli``: the ``llmeval`` command."""

import sys

from pytest_llmeval.cli import main

sys.exit(main())
