"""pytest setup: the tests folder is importable, so tests share helper modules."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
