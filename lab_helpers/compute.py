"""How the kit uses the CPU: one PyTorch thread while training, so the numbers do not depend on the core count."""
from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def one_thread():
    """Train on one thread: results then do not depend on the machine's core count, so a class sees the same numbers."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
