"""Reference solutions: real PyTorch workloads the loop can improve.

Each is a callable ``(config: dict, seed: int, subset: float) -> dict of metrics`` named in the
registry as ``module:function``. Importing a workload imports torch, so only the runner's child
process imports them.
"""
