"""One trainer for every reproduction; it knows nothing about any model.

It trains a module's model for `cfg.steps` optimizer steps, where the module provides
`build_model`, `build_data`, `training_step` and optionally `build_optimizer`. Around that it
adds: device choice (CUDA, MPS, CPU), seeding, bf16 autocast on CUDA, gradient clipping
(`cfg.grad_clip` if the Config has it), self-describing checkpoints with exact resume, a progress
callback, and data parallelism when launched by `torchrun`.

Data parallelism is DDP's algorithm: every process holds an identical replica, takes its own
share of the batches (process r of R gets batches r, r+R, r+2R, ... of the module's loader, so
`batch_size` is per process), and before each step the gradients are averaged across processes
by one all-reduce: g = (1/R) sum_r g_r. We all-reduce ourselves instead of wrapping the model in
`DistributedDataParallel`, because a `training_step` may call submodules directly or
back-propagate several losses (GANs), which DDP's forward hooks do not see; the arithmetic is the
same. Backend: NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from reproductions.common.config import ConfigError, config_from_dict, config_to_dict

log = logging.getLogger("reproductions")
CHECKPOINT_FORMAT = "reproductions-checkpoint/1"


@dataclass(frozen=True)
class TrainOptions:
    """How a run trains and keeps its state, beside what it trains (the Config): the same
    Config with other options gives the same model (accumulation to float tolerance)."""

    accumulate: int = 1  # micro-batches per optimizer step: batch_size x accumulate per step
    checkpoint_every: int | None = None  # also save every this many steps
    checkpoint_minutes: float = 1.0  # save when this long has passed since the last save
    keep_checkpoints: int = 1  # the newest k saves stay (VARIANT.pt, then VARIANT-stepN.pt)
    eval_every: int | None = None  # evaluate every this many steps (rank 0), logged as eval rows
    best_metric: str | None = None  # keep VARIANT-best.pt by this evaluated metric (max; a
    # name ending in "loss" or "error": min); default: the first accuracy metric, else none
    compile: str | None = None  # torch.compile the model with this backend ("inductor")
    channels_last: bool = False  # NHWC weights and image batches (faster convolutions on GPUs)
Progress = Callable[[int, int, dict[str, float]], None]  # (step, steps, scalars)


def select_device(name: str | None = None) -> torch.device:
    """`name` if given, else CUDA (this process's LOCAL_RANK), else MPS, else CPU."""
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS


def setup_distributed(device: torch.device) -> tuple[int, int]:
    """Join the process group when launched by torchrun (env WORLD_SIZE > 1); (rank, world)."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            torch.cuda.set_device(device)
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def _to(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    if isinstance(batch, torch.Tensor):
        if channels_last and batch.dim() == 4 and batch.is_floating_point():
            return batch.to(device, non_blocking=True, memory_format=torch.channels_last)
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device, channels_last) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, device, channels_last) for k, v in batch.items()}
    return batch


def fast_math(device: torch.device) -> None:
    """On CUDA: TF32 for float32 matrix products and convolutions (Ampere and later: 10-bit
    mantissa inputs, float32 accumulation; bf16 autocast covers most of the step anyway)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest kernels


class _ShardBatches:
    """Batch sampler yielding every `world`-th batch of indices from `rank`: no data is loaded
    for the other processes' batches."""

    def __init__(self, batch_sampler, rank: int, world: int):
        self.batch_sampler, self.rank, self.world = batch_sampler, rank, world

    def __iter__(self):
        for i, indices in enumerate(self.batch_sampler):
            if i % self.world == self.rank:
                yield indices

    def __len__(self):
        return len(range(self.rank, len(self.batch_sampler), self.world))


class _SkipBatches:
    """Batch sampler yielding the batches of `batch_sampler` after its first `skip`: the skipped
    batches' indices are drawn (the shuffle stays the same) but no sample of theirs is read."""

    def __init__(self, batch_sampler, skip: int):
        self.batch_sampler, self.skip = batch_sampler, skip

    def __iter__(self):
        for i, indices in enumerate(self.batch_sampler):
            if i >= self.skip:
                yield indices

    def __len__(self):
        return max(0, len(self.batch_sampler) - self.skip)


def _loader_like(loader, batch_sampler):
    """A DataLoader reading `loader`'s dataset as `loader` does, batches from `batch_sampler`;
    the same generator, so it draws the same worker base seed an epoch of `loader` draws."""
    extra = {"prefetch_factor": loader.prefetch_factor,
             "persistent_workers": loader.persistent_workers} if loader.num_workers else {}
    return torch.utils.data.DataLoader(
        loader.dataset, batch_sampler=batch_sampler, num_workers=loader.num_workers,
        collate_fn=loader.collate_fn, pin_memory=loader.pin_memory,
        worker_init_fn=loader.worker_init_fn, generator=loader.generator, **extra)


def _resumed_loader_epochs(loader, batch_sampler, skip: int):
    """(the rest of the epoch `skip` batches into it, then whole epochs): skipped whole epochs
    draw their shuffles only, and the partial epoch draws its indices without reading them,
    so a resumed run reads O(1) samples before its first step and sees the batches an
    uninterrupted run would (with a seeded `generator` on the loader)."""
    epochs, offset = divmod(skip, len(batch_sampler))
    for _ in range(epochs):  # as an epoch of the DataLoader: its base seed, then its shuffle
        torch.empty((), dtype=torch.int64).random_(generator=loader.generator)
        for _ in batch_sampler:
            pass
    yield _loader_like(loader, _SkipBatches(batch_sampler, offset))
    full = _loader_like(loader, batch_sampler)
    while True:
        yield full


_TOO_FEW = ("the training data has fewer batches than the {world} processes: this run cannot be "
            "split across processes (one batch: a single map or image optimised); run it "
            "without torchrun")


def batch_stream(batches: Iterable, rank: int, world: int, skip: int = 0) -> Iterator[Any]:
    """Endless epochs over `batches`, keeping this process's share, after `skip` own batches.

    Every process must see the same order of batches: seed the loader's shuffle with cfg.seed.
    A DataLoader is split among processes by index (no process reads another's samples), and
    `skip` batches cost no sample reads (resuming at step 300k decodes nothing to get there);
    any other iterable of batches is replayed.
    """
    if isinstance(batches, torch.utils.data.DataLoader) and batches.batch_sampler is not None:
        sampler = batches.batch_sampler
        if world > 1:
            sampler = _ShardBatches(sampler, rank, world)
        if len(sampler) == 0:
            raise ConfigError("the training data has no batch" if world == 1 else
                              _TOO_FEW.format(world=world))
        for epoch in _resumed_loader_epochs(batches, sampler, skip):
            yield from epoch
    seen = 0
    while True:
        mine = 0
        for i, batch in enumerate(batches):
            if i % world != rank:
                continue
            mine += 1
            seen += 1
            if seen > skip:
                yield batch
        if mine == 0:
            raise ConfigError(_TOO_FEW.format(world=world))


def _as_list(x: Any) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _optimizers(module: Any, model: torch.nn.Module, cfg: Any) -> tuple[list, list]:
    """The module's `build_optimizer(model, cfg)`, else AdamW(lr) (fused into one kernel per
    step when the weights are on CUDA); as (optimizers, schedulers)."""
    if hasattr(module, "build_optimizer"):
        opts, scheds = module.build_optimizer(model, cfg)
    else:
        on_cuda = next(model.parameters()).is_cuda
        opts = torch.optim.AdamW(model.parameters(), lr=cfg.lr, fused=True if on_cuda else None)
        scheds = None
    return _as_list(opts), _as_list(scheds)


def sgd_with_steps(model: torch.nn.Module, cfg: Any):
    """The detectors' recipe (SSD Sec. 3, RetinaNet Sec. 4.1, YOLO Sec. 2.2): SGD with momentum
    0.9 and `cfg.weight_decay`, the learning rate divided by 10 at each of `cfg.lr_milestones`;
    Adam at `cfg.lr` instead when `cfg.optimizer` is not "sgd" (the miniatures, from scratch).
    A module's `build_optimizer` may return it as is."""
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9,
                              weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, list(cfg.lr_milestones), 0.1)


def sgd_with_drops(model: torch.nn.Module, cfg: Any, at: Iterable[float] = (0.5, 0.75),
                   nesterov: bool = False):
    """The ImageNet classifiers' recipe: SGD with `cfg.momentum` and `cfg.weight_decay`, the
    learning rate divided by 10 at each fraction `at` of `cfg.steps` (ResNet Sec. 3.4 drops at
    50% and 75%; AlexNet, VGG, ZFNet and NIN pass their `cfg.lr_drops`)."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay, nesterov=nesterov)
    milestones = [int(cfg.steps * f) for f in at]
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma=0.1)


def _params(opt: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for g in opt.param_groups for p in g["params"] if p.requires_grad]


def backward_each(losses: list[torch.Tensor], opts: list[torch.optim.Optimizer],
                  scale: float = 1.0, fresh: bool = True) -> None:
    """Gradients of `scale` x loss i in the parameters of optimizer i only (a GAN's two
    players): fresh ones, or (`fresh=False`) added to those already there (accumulation)."""
    if fresh:
        for o in opts:
            o.zero_grad(set_to_none=True)
    for i, (loss, o) in enumerate(zip(losses, opts, strict=True)):
        torch.autograd.backward(loss * scale if scale != 1.0 else loss, inputs=_params(o),
                                retain_graph=i < len(losses) - 1)


def _average(tensors: list[torch.Tensor], world: int) -> None:
    """In place: t = (1/R) sum over processes of t, with one all-reduce for all tensors."""
    if world == 1 or not tensors:
        return
    flat = torch.cat([t.reshape(-1).float() for t in tensors])
    dist.all_reduce(flat)
    flat /= world
    for t, chunk in zip(tensors, flat.split([t.numel() for t in tensors]), strict=True):
        t.copy_(chunk.view_as(t))


def check_replicas(model: torch.nn.Module, world: int, tolerance: float = 1e-6) -> None:
    """Under torchrun, every replica must end with the same weights (the same averaged gradients,
    the same updates); a training step that decides or draws randomly per process (a GAN
    re-initialising its discriminator when *its* loss collapsed) makes them drift apart
    silently. Raises RuntimeError with the largest difference."""
    if world == 1:
        return
    flat = torch.cat([p.detach().reshape(-1).double() for p in model.parameters()])
    mean = flat.clone()
    dist.all_reduce(mean)
    gap = (flat - mean / world).abs().max()
    dist.all_reduce(gap, op=dist.ReduceOp.MAX)
    if gap.item() > tolerance:
        raise RuntimeError(f"the {world} replicas' weights differ by up to {gap.item():.3g} after "
                           "training: a training step took a decision or drew randomness per "
                           "process (every process must take the same ones)")


def save_checkpoint(path, module, cfg, variant, model, opts, scheds, step,
                    accumulate: int = 1) -> None:
    """Everything needed to rebuild and resume: config, weights, optimizer state, RNG, step.
    Written to a temporary file and renamed: a kill leaves the previous checkpoint whole."""
    state = {
        "accumulate": accumulate,
        "format": CHECKPOINT_FORMAT,
        "paper": module.PAPER,
        "variant": variant,
        "config": config_to_dict(cfg),
        "model": model.state_dict(),
        "optimizers": [o.state_dict() for o in opts],
        "schedulers": [s.state_dict() for s in scheds],
        "step": step,
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state() if torch.cuda.is_initialized() else None,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, module) -> tuple[Any, dict]:
    """`(cfg, state)` from a checkpoint: the file says which Config built it."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return config_from_dict(module.Config, state["config"]), state


def train(module, cfg, *, variant: str = "main", data=None, device=None, run=None,
          resume: bool = False, progress: Progress | None = None, log_every: int | None = None,
          checkpoint_every: int | None = None, options: TrainOptions | None = None
          ) -> torch.nn.Module:
    """Train `module.build_model(cfg)` for `cfg.steps` steps and return the model.

    `data` is `module.build_data(cfg)` if the caller already built it; `run` a RunFolder for
    metrics and checkpoints; `progress(step, steps, scalars)` is called after every step;
    `options` say how (accumulation, checkpoints, periodic evaluation).
    """
    options = options or TrainOptions(checkpoint_every=checkpoint_every)
    if options.accumulate < 1 or options.keep_checkpoints < 1:
        raise ConfigError("accumulate and keep_checkpoints must be >= 1")
    device = device or select_device()
    rank, world = setup_distributed(device)
    seed_everything(cfg.seed)
    fast_math(device)
    model = module.build_model(cfg).to(device)
    if options.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opts, scheds = _optimizers(module, model, cfg)
    # the step runs the compiled module; checkpoints keep the original's parameter names
    stepped = torch.compile(model, backend=options.compile) if options.compile else model
    data = data if data is not None else module.build_data(cfg)
    train_batches = data[0]
    ckpt = run.checkpoint_path(variant) if run is not None else None
    start = 0
    if resume and ckpt is not None and ckpt.exists():
        saved_cfg, state = load_checkpoint(ckpt, module)
        if saved_cfg != cfg:
            raise ConfigError(f"{ckpt} was written with another config; use a new --out folder")
        if state.get("accumulate", 1) != options.accumulate:
            raise ConfigError(f"{ckpt} was written with --accumulate {state.get('accumulate', 1)}"
                              f"; resume with the same")
        model.load_state_dict(state["model"])
        for o, s in zip(opts, state["optimizers"], strict=True):
            o.load_state_dict(s)
        for s, s_state in zip(scheds, state["schedulers"], strict=True):
            s.load_state_dict(s_state)
        start = state["step"]
        log.info("%s: resumed at step %d from %s", variant, start, ckpt)
    _average([p.data for p in model.parameters()], world)  # replicas start identical
    log_every = log_every or max(1, cfg.steps // 100)
    stream = batch_stream(train_batches, rank, world, skip=start * options.accumulate)
    if start:  # after replaying the data order, as if never stopped
        torch.set_rng_state(state["rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
    amp = torch.autocast("cuda", torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    grad_clip = getattr(cfg, "grad_clip", None)
    model.train()
    t0, last_save = time.monotonic(), time.monotonic()
    scalars: dict[str, float] = {}
    best: float | None = None  # the tracked metric's best value so far (periodic evaluation)
    for step in range(start + 1, cfg.steps + 1):
        out = _accumulated_step(module, stepped, opts, stream, device, amp, options)
        for o in opts:
            grads = [p.grad for p in _params(o) if p.grad is not None]
            _average(grads, world)
            if grad_clip:
                torch.nn.utils.clip_grad_norm_(_params(o), grad_clip)
            o.step()
        lr = opts[0].param_groups[0]["lr"]  # the rate this step used
        for s in scheds:
            s.step()
        if step % log_every == 0 or step == cfg.steps:
            scalars = {k: float(v.detach() if isinstance(v, torch.Tensor) else v)
                       for k, v in out.items() if k != "losses" and _is_scalar(v)}
            values = torch.tensor(list(scalars.values()), dtype=torch.float64, device=device)
            _average([values], world)  # the logged loss is the global batch's loss
            scalars = dict(zip(scalars, values.tolist(), strict=True))
            scalars["lr"] = lr
            if run is not None:
                run.log_metrics({"variant": variant, "step": step, **scalars,
                                 "time": round(time.monotonic() - t0, 3)})
        if progress is not None:
            progress(step, cfg.steps, scalars)
        if options.eval_every and step % options.eval_every == 0 and step < cfg.steps:
            best = _evaluate_now(module, model, data, cfg, options, run, variant, step, rank,
                                 best, save_args=(module, cfg, variant, model, opts, scheds))
        due = options.checkpoint_every and step % options.checkpoint_every == 0
        late = time.monotonic() - last_save > 60 * options.checkpoint_minutes
        if rank == 0 and ckpt is not None and (due or late):
            _save_kept(ckpt, options, step, module, cfg, variant, model, opts, scheds)
            last_save = time.monotonic()
    check_replicas(model, world)
    _average([b.data for b in model.buffers() if b.is_floating_point()], world)  # BN statistics
    if rank == 0 and ckpt is not None:
        _save_kept(ckpt, options, cfg.steps, module, cfg, variant, model, opts, scheds)
    return model


def _accumulated_step(module, model, opts, stream, device, amp, options: TrainOptions) -> dict:
    """The gradients of one optimizer step from k = `options.accumulate` micro-batches, each
    loss scaled by 1/k: for a loss averaged over its batch, the gradient of one batch of
    k x batch_size. Returns the step's output (k = 1) or its scalars averaged over the
    micro-batches."""
    means: dict[str, float] = {}
    k = options.accumulate
    for i in range(k):
        batch = _to(next(stream), device, options.channels_last)
        with amp:
            out = module.training_step(model, batch)
        backward_each(out.get("losses", [out["loss"]]), opts, scale=1.0 / k, fresh=i == 0)
        if k == 1:
            return out
        for key, v in out.items():
            if key != "losses" and _is_scalar(v):
                value = float(v.detach() if isinstance(v, torch.Tensor) else v)
                means[key] = means.get(key, 0.0) + value / k
    return means


def _evaluate_now(module, model, data, cfg, options, run, variant, step, rank, best, save_args):
    """Periodic evaluation on rank 0 (an eval row in metrics.jsonl); saves VARIANT-best.pt when
    the tracked metric improves. Returns the best value so far."""
    if rank != 0 or data is None:
        return best
    model.eval()
    with torch.no_grad():
        metrics = {k: float(v) for k, v in module.evaluate(model, data[1], cfg).items()}
    model.train()
    if run is not None:
        run.log_metrics({"variant": variant, "step": step, "eval": True, **metrics})
    name = options.best_metric or next((k for k in metrics if "accuracy" in k), None)
    if name is None or name not in metrics or run is None:
        return best
    value = metrics[name] * (-1 if name.endswith(("loss", "error")) else 1)  # higher is better
    if best is None or value > best:
        save_checkpoint(run.checkpoint_path(variant).with_name(f"{variant}-best.pt"),
                        *save_args, step)
        return value
    return best


def _save_kept(ckpt: Path, options: TrainOptions, step: int, *save_args) -> None:
    """Save VARIANT.pt (the one resume reads); keeping k: a hard link VARIANT-stepN.pt to it
    (no second copy on disk), the oldest beyond k removed."""
    save_checkpoint(ckpt, *save_args, step, accumulate=options.accumulate)
    if options.keep_checkpoints == 1:
        return
    kept = ckpt.with_name(f"{ckpt.stem}-step{step:09d}.pt")
    kept.unlink(missing_ok=True)  # the final save of a step saved on schedule: the newer one
    os.link(ckpt, kept)
    older = sorted(ckpt.parent.glob(f"{ckpt.stem}-step*.pt"))
    for old in older[:-options.keep_checkpoints]:
        old.unlink(missing_ok=True)


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float)) or (isinstance(v, torch.Tensor) and v.numel() == 1)
