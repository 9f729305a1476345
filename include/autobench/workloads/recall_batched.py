"""Seed-batched associative recall: several seeds of one config trained in one process.

``train_and_evaluate_batched(config, seeds, subset=1.0, device=None) -> {seed: metrics}`` gives,
for each seed, the metrics ``autobench.workloads.recall:train_and_evaluate(config, seed, subset)``
gives, in one process and one training loop vectorised over a leading seed dimension ``S``. On a
GPU one small model is launch-bound (shared/MEASURED.md: ~7 ms a step with the GPU mostly idle),
so S seeds cost little more than one.

Design: the per-seed run is reproduced exactly, piece by piece.

- Init: each seed's ``RecallModel`` is built under ``torch.manual_seed(seed)`` exactly as the
  single run builds it, then the seeds' parameters are stacked (``torch.func.stack_module_state``)
  into tensors with a leading seed dimension.
- Model: the forward pass is written once more here with that leading dimension (embeddings
  with per-seed row offsets, ``baddbmm`` for every linear layer, batched einsum attention,
  layer norm as a normalisation followed by ``addcmul``), mirroring ``recall.RecallModel`` op by
  op. On the CPU each of these gives, per seed, bit-identical results to the single run's ops
  (``baddbmm`` = ``addmm``, ``addcmul`` = the fused affine of ``layer_norm``). One exception:
  autograd through ``addcmul`` sums the layer norms' weight and bias gradients in another order
  than the fused backward (last bits; after 800 production steps one seed's accuracy moved by
  6e-5), so with ``exact`` (the CPU's default) a small ``autograd.Function`` runs the stock
  layer-norm backward once per seed. The tests compare whole runs, so any drift of
  ``RecallModel`` away from this mirror fails them.
- Loss: per-seed mean cross-entropy, summed over seeds before ``backward``: seed s's gradient
  is exactly the gradient of its own loss (d sum / d loss_s = 1; other seeds do not depend on
  its parameters).
- Optimiser: one AdamW over the stacked tensors, with the single run's two parameter groups
  (weight decay on matrices other than embeddings). AdamW is elementwise and its step count is
  shared, so this is per-seed AdamW. ``optimizer="default"`` uses torch's default
  implementation for the device (the one the single run uses: for-loop on the CPU, ``foreach``
  on CUDA); ``"foreach"`` and ``"fused"`` are the faster choices, equal to float tolerance.
- Data: each seed's training batches come from its own generator (``seed + TRAIN_SEED_OFFSET``)
  through the single run's ``make_batch``, one call per step, in order. ``make_batch``
  interleaves several draws per batch, so one call for all steps would change the stream;
  instead the per-seed calls are hoisted out of the training loop: ``chunk_steps`` steps for
  all seeds are generated on the CPU, stacked and moved to the device in one transfer per
  tensor (on CUDA by a background thread, overlapping the GPU's work).
- Dropout (``dropout`` > 0): the single run draws its masks from the global generator (the CPU
  one, or CUDA's on a GPU) right after init. Each seed's generator state is captured after its
  init, and each dropout call runs the stock ``F.dropout`` on that seed's slice with its state
  swapped in, in the single run's order. So dropout is per-seed exact too (one dropout kernel
  per seed per call: slower, and production uses dropout 0); the global generators are
  restored afterwards.
- Non-finite losses are tracked on the device (no synchronisation per step) and checked at
  every log line and at the end: a ``FloatingPointError`` names the seeds and the first bad
  step, like the single run's (which stops at once; here the other seeds' training is lost
  too, as the whole batch fails).
- Evaluation: the same fixed validation (or test) set for every seed, the single run's 512
  chunks and reductions per seed, so accuracy and loss match (all seeds at once on CUDA, one
  seed at a time on the CPU, where batching gains nothing and the big attention tensors spill
  out of cache).

Metrics per seed: ``accuracy``, ``loss`` and ``params`` are the seed's own. Measured once for
the batch and reported for every seed: ``latency_ms`` (the single run's procedure on an
unbatched ``RecallModel`` holding the first seed's trained weights: it is the latency of one
model, comparable with single runs), ``memory_mb`` (the process's peak with all S seeds held,
so larger than a single run's) and ``train_seconds`` (the wall time of the whole batched
training loop, not divided by S).

Exactness: on the CPU the tests find per-seed metrics bit-identical to separate runs (and so
did the production config, 800 steps, seeds 1 and 2). On CUDA (``exact`` off by default) the
batched kernels (strided-batched GEMM, the embedding backward's accumulation) may round
differently from the single run's: equal to float tolerance, and over many steps the runs can
drift apart by more (training amplifies differences); ``benchmarks/bench_seed_batch.py``
reports the largest per-seed accuracy difference. Measured on an H200 (docs/benchmarks.md):
2.4e-7 in loss after one step, up to 5e-4 in accuracy after the production config's 800 steps
at 8 seeds; each path is deterministic (the same seed twice, bit-identical), and a seed's result
does not depend on which other seeds share its batch. ``compile`` (``torch.compile`` of the loss
function, with ``"reduce-overhead"`` for CUDA graphs) and ``optimizer="fused"`` are speed levers
behind flags, equal only to float tolerance.

Like ``recall``, this module imports torch at the top: only the runner's child process (or a
benchmark) imports it.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import torch
from torch.nn import functional as F

from autobench.workloads.recall import (
    TRAIN_SEED_OFFSET,
    RecallModel,
    fixed_split,
    latency_ms,
    lr_at,
    make_batch,
    peak_memory_mb,
    resolve,
    rotary,
)

OPTIMIZERS = ("default", "foreach", "fused")
COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune")
EVAL_CHUNK = 512  # the single run's evaluation chunk (its per-chunk sums fix the loss's rounding)


def check_seeds(seeds: Any) -> list[int]:
    """The seeds as a list of ints; ValueError (one line) for an empty list, non-ints, duplicates."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ValueError(f"recall_batched: seeds must be a list of integers (got {seeds!r})")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("recall_batched: no seeds given: pass at least one seed")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int)]
    if bad:
        raise ValueError(f"recall_batched: seeds must be integers (got {bad[0]!r})")
    duplicates = sorted({s for s in seeds if seeds.count(s) > 1})
    if duplicates:
        raise ValueError(f"recall_batched: duplicate seeds {duplicates}: each seed may appear once")
    return seeds


def resolve_device(cfg: dict[str, Any], device: str | None) -> torch.device:
    """``device`` if given, else the config's ``device`` the way ``recall`` resolves it."""
    name = cfg["device"] if device is None else device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


# ----------------------------------------------------------------------------- init


def init_seeds(cfg: dict[str, Any], seeds: list[int], device: torch.device):
    """Each seed's model exactly as the single run builds it, stacked along a leading dimension.

    Returns (template model holding the first seed's parameters, {name: stacked parameter},
    buffers of the template, per-seed RNG states right after init: the generator the single
    run's dropout would draw from on ``device``).
    """
    models, states = [], []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(RecallModel(cfg).to(device))
        states.append(torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state())
    params, _ = torch.func.stack_module_state(models)
    params = {name: p.detach().clone().requires_grad_(True) for name, p in params.items()}
    return models[0], params, dict(models[0].named_buffers()), states


# ----------------------------------------------------------------------------- the batched model


class SeedDropout:
    """``F.dropout`` per seed slice with that seed's own generator state (the single run's stream)."""

    def __init__(self, p: float, device: torch.device, states: list[torch.Tensor]):
        self.p, self.device, self.states = p, device, list(states)

    def _swap(self, state: torch.Tensor | None) -> torch.Tensor:
        if self.device.type == "cuda":
            old = torch.cuda.get_rng_state(self.device)
            if state is not None:
                torch.cuda.set_rng_state(state, self.device)
        else:
            old = torch.get_rng_state()
            if state is not None:
                torch.set_rng_state(state)
        return old

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        saved = self._swap(None)
        outs = []
        for s in range(x.shape[0]):
            self._swap(self.states[s])
            outs.append(F.dropout(x[s], self.p, training=True))
            self.states[s] = self._swap(None)
        self._swap(saved)
        return torch.stack(outs)


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Per-seed ``F.linear``: x (S, ..., in), weight (S, out, in), bias (S, out)."""
    s, d_in = x.shape[0], x.shape[-1]
    y = torch.baddbmm(bias.unsqueeze(1), x.reshape(s, -1, d_in), weight.transpose(1, 2))
    return y.view(*x.shape[:-1], weight.shape[1])


def _layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, exact: bool = False,
                eps: float = 1e-5) -> torch.Tensor:
    """Per-seed ``nn.LayerNorm``: normalise, then ``bias + x * weight`` (addcmul, as the fused op).

    The forward equals the fused op's; the plain backward sums the weight's and bias's gradients
    in another order (last-bit differences that training amplifies). ``exact``: the backward runs
    the stock layer-norm backward once per seed (S calls), the single run's gradients exactly.
    """
    if exact:
        return _SeedLayerNorm.apply(x, weight, bias, eps)
    shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
    return torch.addcmul(bias.view(shape), F.layer_norm(x, x.shape[-1:], eps=eps), weight.view(shape))


class _SeedLayerNorm(torch.autograd.Function):
    """Batched layer norm forward; per-seed ``native_layer_norm_backward`` (the single run's)."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        normed, mean, rstd = torch.native_layer_norm(x, x.shape[-1:], None, None, eps)
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        ctx.save_for_backward(x, mean, rstd, weight, bias)
        return torch.addcmul(bias.view(shape), normed, weight.view(shape))

    @staticmethod
    def backward(ctx, grad):
        x, mean, rstd, weight, bias = ctx.saved_tensors
        parts = [torch.ops.aten.native_layer_norm_backward(grad[s], x[s], x.shape[-1:], mean[s], rstd[s],
                                                             weight[s], bias[s], [True, True, True])
                 for s in range(x.shape[0])]
        return (*(torch.stack([part[i] for part in parts]) for i in range(3)), None)


def _embedding(weight: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Per-seed ``nn.Embedding``: weight (S, N, d), index (S, ...) → (S, ..., d)."""
    s, n, d = weight.shape
    offset = (torch.arange(s, device=index.device) * n).view((s,) + (1,) * (index.dim() - 1))
    return F.embedding(index + offset, weight.reshape(s * n, d))


def batched_forward(p: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], cfg: dict[str, Any],
                    keys: torch.Tensor, values: torch.Tensor, which: torch.Tensor,
                    mask: torch.Tensor | None = None, drop: SeedDropout | None = None,
                    exact: bool = False) -> torch.Tensor:
    """``RecallModel.forward`` for S seeds at once: inputs (S, B, ...), logits (S, B, Q, vocab).

    ``exact``: per-seed layer-norm backward (see ``_layer_norm``).
    """
    vocab, heads, pe = cfg["vocab"], cfg["heads"], cfg["positional_encoding"]
    n_keys = keys.shape[2]
    dropout = drop if drop is not None else (lambda t: t)
    query_keys = keys.gather(2, which)
    marker = torch.full_like(query_keys, vocab)
    x = torch.cat([_embedding(p["key_emb.weight"], keys) + _embedding(p["value_emb.weight"], values),
                   _embedding(p["key_emb.weight"], query_keys) + _embedding(p["value_emb.weight"], marker)], dim=2)
    if pe == "learned":
        x = x + p["pos_emb"].unsqueeze(1)
    elif pe == "sinusoidal":
        x = x + buffers["pos_table"]
    positions = torch.arange(x.shape[2], device=x.device)
    live = torch.ones(x.shape[:3], dtype=torch.bool, device=x.device)
    if mask is not None:
        live[:, :, :n_keys] = mask
    bias = (torch.zeros(live.shape, dtype=x.dtype, device=x.device)
            .masked_fill(~live, float("-inf"))[:, :, None, None, :])
    s, b, t, w = x.shape
    for i in range(cfg["depth"]):
        pre = f"blocks.{i}."
        h = _layer_norm(x, p[pre + "norm1.weight"], p[pre + "norm1.bias"], exact)
        qkv = _linear(h, p[pre + "qkv.weight"], p[pre + "qkv.bias"]).view(s, b, t, 3, heads, w // heads)
        q, k, v = (z.transpose(2, 3) for z in qkv.unbind(dim=3))  # (S, B, H, T, Dh)
        if pe == "rotary":
            q, k = rotary(q, positions), rotary(k, positions)
        scores = torch.einsum("sbhqd,sbhkd->sbhqk", q, k) / math.sqrt(q.shape[-1]) + bias
        attn = dropout(scores.softmax(dim=-1))
        out = torch.einsum("sbhqk,sbhkd->sbhqd", attn, v).transpose(2, 3).reshape(s, b, t, w)
        x = x + dropout(_linear(out, p[pre + "proj.weight"], p[pre + "proj.bias"]))
        hidden = F.gelu(_linear(_layer_norm(x, p[pre + "norm2.weight"], p[pre + "norm2.bias"], exact),
                                p[pre + "mlp.0.weight"], p[pre + "mlp.0.bias"]))
        x = x + dropout(_linear(hidden, p[pre + "mlp.2.weight"], p[pre + "mlp.2.bias"]))
    out = _layer_norm(x[:, :, n_keys:], p["norm.weight"], p["norm.bias"], exact)
    return _linear(out, p["head.weight"], p["head.bias"])


def per_seed_loss(p: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], cfg: dict[str, Any],
                  keys: torch.Tensor, values: torch.Tensor, which: torch.Tensor, mask: torch.Tensor,
                  drop: SeedDropout | None = None, exact: bool = False) -> torch.Tensor:
    """Each seed's mean training cross-entropy, shape (S,)."""
    logits = batched_forward(p, buffers, cfg, keys, values, which, mask, drop, exact)
    target = values.gather(2, which)
    losses = F.cross_entropy(logits.reshape(-1, cfg["vocab"]), target.reshape(-1), reduction="none")
    return losses.view(keys.shape[0], -1).mean(dim=1)


# ----------------------------------------------------------------------------- data


def _stack_chunk(gens: list[torch.Generator], n_steps: int, cfg: dict[str, Any], device: torch.device):
    """``n_steps`` training batches of every seed (its own generator, in order): 4 × (n, S, B, ...)."""
    cpu = torch.device("cpu")
    steps = [[make_batch(g, cfg["batch_size"], cfg, cpu, train=True) for g in gens] for _ in range(n_steps)]
    fields = [torch.stack([torch.stack([batch[f] for batch in step]) for step in steps]) for f in range(4)]
    if device.type == "cuda":
        return [t.pin_memory().to(device, non_blocking=True) for t in fields]
    return [t.to(device) for t in fields]


def training_chunks(cfg: dict[str, Any], seeds: list[int], steps: int, device: torch.device,
                    chunk_steps: int) -> Iterator[list[torch.Tensor]]:
    """The batches of all steps, ``chunk_steps`` at a time (a background thread on CUDA)."""
    gens = [torch.Generator().manual_seed(seed + TRAIN_SEED_OFFSET) for seed in seeds]
    sizes = [min(chunk_steps, steps - start) for start in range(0, steps, chunk_steps)]
    if device.type != "cuda":
        for n in sizes:
            yield _stack_chunk(gens, n, cfg, device)
        return
    ready: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            for n in sizes:
                if stop.is_set():
                    return
                ready.put(("ok", _stack_chunk(gens, n, cfg, device)))
        except BaseException as exc:  # handed to the consumer, raised there
            ready.put(("error", exc))

    worker = threading.Thread(target=produce, name="recall-batched-data", daemon=True)
    worker.start()
    try:
        for _ in sizes:
            kind, item = ready.get()
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass


# ----------------------------------------------------------------------------- train and evaluate


def make_optimizer(model: RecallModel, params: dict[str, torch.Tensor], cfg: dict[str, Any],
                   optimizer: str) -> torch.optim.AdamW:
    """AdamW over the stacked parameters with the single run's two groups."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"recall_batched: optimizer {optimizer!r} ({', '.join(OPTIMIZERS)})")
    names = [n for n, _ in model.named_parameters()]
    shapes = {n: q.ndim for n, q in model.named_parameters()}
    decay = [params[n] for n in names if shapes[n] >= 2 and "emb" not in n]
    no_decay = [params[n] for n in names if not (shapes[n] >= 2 and "emb" not in n)]
    impl = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[optimizer]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg["weight_decay"]},
                              {"params": no_decay, "weight_decay": 0.0}], lr=cfg["lr"], **impl)


@torch.no_grad()
def evaluate_batched(params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], cfg: dict[str, Any],
                     data, n_seeds: int, group: int | None = None) -> list[tuple[float, float]]:
    """(accuracy, loss) per seed on one fixed set, with the single run's chunks and reductions.

    ``group`` seeds go through the model at a time (``None``: all): on the CPU, where nothing is
    gained by batching, one seed at a time keeps the attention tensors in cache.
    """
    group = n_seeds if group is None else group
    results: list[tuple[float, float]] = []
    for first in range(0, n_seeds, group):
        sub = {name: q[first:first + group] for name, q in params.items()}
        results += _evaluate_group(sub, buffers, cfg, data, min(group, n_seeds - first))
    return results


def _evaluate_group(params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], cfg: dict[str, Any],
                    data, n_seeds: int) -> list[tuple[float, float]]:
    keys, values, which, _ = data
    correct = torch.zeros(n_seeds, dtype=torch.long, device=keys.device)
    loss_sums = [0.0] * n_seeds
    total = 0
    for start in range(0, keys.shape[0], EVAL_CHUNK):
        k, v, w = (t[start:start + EVAL_CHUNK] for t in (keys, values, which))
        expand = [t.unsqueeze(0).expand(n_seeds, *t.shape) for t in (k, v, w)]
        logits = batched_forward(params, buffers, cfg, *expand)
        target = v.gather(1, w)
        sums = torch.stack([F.cross_entropy(logits[s].reshape(-1, cfg["vocab"]), target.reshape(-1), reduction="sum")
                            for s in range(n_seeds)])
        for s, value in enumerate(sums.tolist()):
            loss_sums[s] += value
        correct += (logits.argmax(-1) == target).sum(dim=(1, 2))
        total += target.numel()
    return [(c / total, loss_sums[s] / total) for s, c in enumerate(correct.tolist())]


def _raise_if_nonfinite(bad_step: torch.Tensor, bad_value: torch.Tensor, seeds: list[int]) -> None:
    steps = bad_step.tolist()
    if all(step < 0 for step in steps):
        return
    values = bad_value.tolist()
    parts = [f"seed {seed}: training loss is {values[i]} at step {steps[i]}"
             for i, seed in enumerate(seeds) if steps[i] >= 0]
    raise FloatingPointError("; ".join(parts))


def train_and_evaluate_batched(config: dict[str, Any], seeds: list[int], subset: float = 1.0,
                               device: str | None = None, *, optimizer: str = "default",
                               compile: str | None = None, chunk_steps: int = 100,
                               exact: bool | None = None) -> dict[int, dict[str, Any]]:
    """Train one config on several seeds at once; ``{seed: metrics}`` as ``recall.train_and_evaluate``.

    ``subset`` < 1 is the fast validation (that share of the steps and of the validation set);
    ``device`` overrides the config's ``device`` (``None``: the config's, ``auto`` by default).
    Keyword-only speed levers: ``optimizer`` (``default`` | ``foreach`` | ``fused``), ``compile``
    (a ``torch.compile`` mode for the loss function, e.g. ``"reduce-overhead"``; ``None``: off),
    ``chunk_steps`` (training steps generated and transferred at a time), ``exact`` (per-seed
    layer-norm backward, one call per seed: bit-exact gradients on the CPU; ``None``: on for the
    CPU, off for CUDA, where batched GEMMs round differently anyway). See the module's
    docstring for which metrics are per seed and which are measured once for the batch.
    """
    seeds = check_seeds(seeds)
    cfg = resolve(config)
    if compile not in COMPILE_MODES:
        raise ValueError(f"recall_batched: compile {compile!r} (None, default, reduce-overhead, max-autotune)")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"recall_batched: optimizer {optimizer!r} ({', '.join(OPTIMIZERS)})")
    if not isinstance(chunk_steps, int) or chunk_steps < 1:
        raise ValueError(f"recall_batched: chunk_steps must be a positive integer (got {chunk_steps!r})")
    dev = resolve_device(cfg, device)
    exact = dev.type != "cuda" if exact is None else bool(exact)
    steps = max(1, int(round(cfg["steps"] * subset)))
    eval_size = max(256, int(cfg["val_size"] * subset))
    n = len(seeds)

    forked = [dev] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):  # the global generators are left as they were
        model, params, buffers, rng_states = init_seeds(cfg, seeds, dev)
        n_params = sum(q.numel() for q in model.parameters())
        opt = make_optimizer(model, params, cfg, optimizer)
        drop = SeedDropout(cfg["dropout"], dev, rng_states) if cfg["dropout"] > 0 else None
        loss_fn = per_seed_loss
        if compile is not None:
            if drop is not None:
                raise ValueError("recall_batched: compile needs dropout 0 (per-seed dropout swaps generator states)")
            loss_fn = torch.compile(per_seed_loss, mode=compile, dynamic=False)
        print(f"recall_batched: {n} seeds {seeds}, {n_params} parameters each, {steps} steps of "
              f"{cfg['batch_size']}, device {dev}, optimizer {optimizer}, compile {compile}, exact {exact}", flush=True)
        bad_step = torch.full((n,), -1, dtype=torch.long, device=dev)
        bad_value = torch.zeros(n, device=dev)
        current_lr = cfg["lr"]
        step = 0
        t0 = time.perf_counter()
        for keys, values, which, mask in training_chunks(cfg, seeds, steps, dev, chunk_steps):
            for i in range(keys.shape[0]):
                lr = lr_at(step, cfg, steps)
                if lr != current_lr:
                    for group in opt.param_groups:
                        group["lr"] = lr
                    current_lr = lr
                losses = loss_fn(params, buffers, cfg, keys[i], values[i], which[i], mask[i], drop, exact)
                opt.zero_grad(set_to_none=True)
                losses.sum().backward()
                opt.step()
                detached = losses.detach()
                newly_bad = (bad_step < 0) & ~torch.isfinite(detached)
                bad_step.masked_fill_(newly_bad, step)
                bad_value = torch.where(newly_bad, detached, bad_value)
                step += 1
                if cfg["log_every"] and step % cfg["log_every"] == 0:
                    _raise_if_nonfinite(bad_step, bad_value, seeds)
                    shown = " ".join(f"{v:.4f}" for v in detached.tolist())
                    print(f"step {step}/{steps} loss {shown} lr {current_lr:.2e}", flush=True)
        _raise_if_nonfinite(bad_step, bad_value, seeds)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        train_seconds = time.perf_counter() - t0

        data = fixed_split(cfg, cfg["eval_split"], eval_size, dev)
        results = evaluate_batched(params, buffers, cfg, data, n, group=None if dev.type == "cuda" else 1)
        with torch.no_grad():  # latency: one unbatched model (the first seed's weights)
            for name, q in model.named_parameters():
                q.copy_(params[name][0])
        latency = latency_ms(model, data, cfg["batch_size"], dev)
        memory = peak_memory_mb(dev)
    metrics: dict[int, dict[str, Any]] = {}
    for seed, (accuracy, loss_value) in zip(seeds, results, strict=True):
        print(f"seed {seed} {cfg['eval_split']}: accuracy {accuracy:.4f} loss {loss_value:.4f}", flush=True)
        metrics[seed] = {"accuracy": accuracy, "loss": loss_value, "latency_ms": latency, "memory_mb": memory,
                         "params": n_params, "train_seconds": train_seconds}
    print(f"recall_batched: {n} seeds trained in {train_seconds:.1f}s", flush=True)
    return metrics
