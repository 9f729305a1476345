"""A stand-in for torch in the runner's child, for tests whose solutions do not use torch.

The runner seeds torch before every run; importing the real torch costs seconds per child on
this machine, and the sweep's tests start dozens of children with a synthetic solution. This
module has exactly what the runner's child calls. tests/experiments/test_runner.py and the recall tests run
the real torch.
"""

from types import SimpleNamespace

__version__ = "0.0-fake"
cuda = SimpleNamespace(is_available=lambda: False, manual_seed_all=lambda seed: None)
backends = SimpleNamespace(cudnn=SimpleNamespace(benchmark=False, deterministic=True))


def manual_seed(seed):
    return None


def use_deterministic_algorithms(flag, warn_only=False):
    return None


def get_num_threads():
    return 1
