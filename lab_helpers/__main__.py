"""Entry point for `python -m lab_helpers`."""
import sys

from .kit.cli import main

sys.exit(main())
