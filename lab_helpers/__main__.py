"""Entry point for `python -m lab_helpers`."""
import sys

from .cli import main

sys.exit(main())
