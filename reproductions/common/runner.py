"""Run one reproduction into a run folder: every variant, its evaluation, the trivial baselines
on the same split (a module's optional `baselines(cfg)`), the claims' verdicts."""

from __future__ import annotations

import dataclasses
import logging
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from reproductions.common.claims import verdicts
from reproductions.common.config import ConfigError, apply_overrides, config_to_dict
from reproductions.common.runfolder import RunFolder, git_commit, read_metrics
from reproductions.common.trainer import TrainOptions, select_device, setup_distributed, train

log = logging.getLogger("reproductions")
OnProgress = Callable[[str, int, int, dict[str, float]], None]  # (variant, done, total, scalars)


def make_config(module, preset: str, overrides: list[str] | None = None):
    """The preset's Config with `--set key=value` overrides applied."""
    if preset not in module.PRESETS:
        known = ", ".join(module.PRESETS)
        raise ConfigError(f"unknown preset '{preset}' for {module.PAPER}; available: {known}")
    return apply_overrides(module.PRESETS[preset], overrides or [])


def training_curve(folder: Path, variant: str) -> list[dict]:
    """The variant's logged training rows from metrics.jsonl, one per step (a resumed run's
    repeated steps keep their last row), in step order."""
    rows = {r["step"]: r for r in read_metrics(folder) if r.get("variant") == variant
            and not r.get("eval")}
    return [rows[s] for s in sorted(rows)]


def variants_of(module, cfg) -> dict[str, Any]:
    return module.variants(cfg) if hasattr(module, "variants") else {"main": cfg}


def baselines_of(module, cfg, variants: dict[str, Any]) -> dict[str, dict[str, float]]:
    """`{baseline: {metric: value}}` from the module's `baselines(cfg)` (none if it has none);
    a baseline's name must not be a variant's, since claims read both from one mapping."""
    if not hasattr(module, "baselines"):
        return {}
    found = {str(b): {k: float(v) for k, v in m.items()} for b, m in module.baselines(cfg).items()}
    if clash := sorted(set(found) & set(variants)):
        raise ConfigError(f"baseline {clash[0]!r} has the name of a variant; rename one")
    return found


def figures_of(module, cfg, models: dict[str, Any], metrics: dict[str, dict[str, float]],
               out: Path) -> list[dict[str, str]]:
    """The module's optional `figures(out_dir, cfg, models, metrics)`: PNGs it drew into
    `out/figures/` (the paper's figure redrawn from this run), as `[{file, caption,
    paper_figure}]` with `file` relative to the run folder; none for a module without it."""
    if not hasattr(module, "figures") or not models:
        return []
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    found = []
    for fig in module.figures(folder, cfg, models, metrics):
        path = (folder / fig["file"]).resolve()
        if path.parent != folder.resolve() or path.suffix != ".png" or not path.is_file():
            raise ConfigError(f"figure {fig['file']!r} is not a PNG the module wrote into "
                              f"{folder}")
        found.append({"file": f"figures/{path.name}", "caption": str(fig["caption"]),
                      "paper_figure": str(fig.get("paper_figure", ""))})
    return found


def run(module, cfg, preset: str, out: str | Path, *, name: str | None = None,
        argv: list[str] | None = None, resume: bool = False, device: str | None = None,
        on_progress: OnProgress | None = None, checkpoint_every: int | None = None,
        options: TrainOptions | None = None) -> dict:
    """Train and evaluate every variant of `cfg`, check the claims, write `out`; the result.
    `options`: how to train (accumulation, checkpoints, periodic evaluation; config.json
    records them)."""
    options = options or TrainOptions(checkpoint_every=checkpoint_every)
    dev = select_device(device)
    rank, world = setup_distributed(dev)
    name = name or module.__name__.rsplit(".", 1)[-1]
    if rank == 0 and not resume and (Path(out) / "status.json").exists():
        raise ConfigError(f"{out} already holds a run; add --resume or choose a new --out")
    folder = RunFolder(out, enabled=rank == 0)
    runs = variants_of(module, cfg)
    started = time.monotonic()
    try:
        folder.start(argv or [], {
            "name": name, "paper": module.PAPER, "preset": preset, "config": config_to_dict(cfg),
            "variants": {v: config_to_dict(c) for v, c in runs.items()}, "world_size": world,
            "train_options": dataclasses.asdict(options),
        }, resume=resume)
        log.info("%s/%s on %s x%d: variants %s", name, preset, dev, world, ", ".join(runs))
        total, done = sum(c.steps for c in runs.values()), 0
        metrics: dict[str, dict[str, float]] = {}
        timing: dict[str, float] = {}
        trained: dict[str, torch.nn.Module] = {}  # kept only for a module that draws figures
        for variant, vcfg in runs.items():
            t0 = time.monotonic()
            data = module.build_data(vcfg)

            def progress(step, steps, scalars, variant=variant, done=done):
                folder.heartbeat(variant=variant, step=step, steps=steps,
                                 fraction=round((done + step) / max(total, 1), 4))
                if on_progress is not None:
                    on_progress(variant, done + step, total, scalars)

            model = train(module, vcfg, variant=variant, data=data, device=dev, run=folder,
                          resume=resume, progress=progress, options=options)
            if rank == 0:
                model.eval()
                with torch.no_grad():
                    metrics[variant] = {k: float(v) for k, v in
                                        module.evaluate(model, data[1], vcfg).items()}
                if hasattr(module, "curve_metrics"):  # claims about the training curve
                    curve = training_curve(folder.path, variant)
                    metrics[variant] |= {k: float(v) for k, v in
                                         module.curve_metrics(curve, vcfg).items()}
                folder.log_metrics({"variant": variant, "step": vcfg.steps, "eval": True,
                                    **metrics[variant]})
                if hasattr(module, "figures"):
                    trained[variant] = model
                log.info("%s: %s", variant, metrics[variant])
            if world > 1:
                dist.barrier()
            timing[variant] = round(time.monotonic() - t0, 2)
            done += vcfg.steps
        t0 = time.monotonic()
        baselines = baselines_of(module, cfg, runs) if rank == 0 else {}
        if baselines:
            timing["baselines"] = round(time.monotonic() - t0, 2)
            log.info("baselines: %s", baselines)
        figures = figures_of(module, cfg, trained, metrics, folder.path) if rank == 0 else []
        result = {
            "name": name, "paper": module.PAPER, "preset": preset,
            "metrics": metrics, "baselines": baselines, "figures": figures,
            "claims": verdicts(module.CLAIMS, preset, {**baselines, **metrics}),
            "seed": cfg.seed, "device": str(dev), "world_size": world,
            "torch": torch.__version__, "python": platform.python_version(),
            "git_commit": git_commit(), "wall_time_s": round(time.monotonic() - started, 2),
            "variant_time_s": timing,
        }
        folder.finish(result)
        return result
    except BaseException as err:
        folder.fail(err)
        raise
