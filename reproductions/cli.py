"""`python -m reproductions list | run | check | describe`.

```
python -m reproductions list [--json]
python -m reproductions run NAME --preset mini --set lr=1e-3 --out runs/x [--resume]
python -m reproductions check NAME [--seeds 5]     # runs `mini`; exit 1 if a claim fails
                                                    # or could not be evaluated
python -m reproductions describe NAME --json        # Config fields, presets and claims
python -m reproductions evaluate resnet --preset resnet50 --weights resnet50.pth --data imagenet/
                                                    # a checkpoint against the paper's table
torchrun --nproc_per_node=2 -m reproductions run resnet --preset mini
```
Exit status: 0 success, 1 a claim expected to hold did not, a claim was not evaluated, or the
preset evaluates none (`tiny` is a smoke test); for `evaluate`, 1 when the weights miss one of
the paper's figures by more than its tolerance; 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from reproductions.common.config import ConfigError, describe

log = logging.getLogger("reproductions")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _module(name: str):
    from reproductions import get

    try:
        return get(name)
    except KeyError as err:
        raise ConfigError(err.args[0]) from None


def _summary(name: str, module) -> dict:
    return {
        "name": name,
        "paper": module.PAPER,
        "title": " ".join((module.__doc__ or "").strip().split("\n\n")[0].split()),
        "presets": list(module.PRESETS),
        "claims": len(module.CLAIMS),
    }


def cmd_list(args) -> int:
    from reproductions import REPRODUCTIONS

    rows = [_summary(n, m) for n, m in REPRODUCTIONS.items()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['name']:<12} {r['paper']:<12} presets: {', '.join(r['presets']):<40} {r['title']}")
    return 0


def cmd_describe(args) -> int:
    from reproductions.common.runner import variants_of

    module = _module(args.name)
    info = {
        **_summary(args.name, module),
        "fields": describe(module.Config, module.PRESETS),
        "variants": {p: list(variants_of(module, c)) for p, c in module.PRESETS.items()},
        "claim_list": [
            {"id": c.id, "text": c.text, "paper": c.paper, "source": c.source,
             "expected": c.expected, "presets": list(c.presets) if c.margins else [],
             "needs": c.needs}
            for c in module.CLAIMS
        ],
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"{args.name} ({module.PAPER}): {info['title']}")
        for f in info["fields"]:
            defaults = ", ".join(f"{p}={v!r}" for p, v in f["defaults"].items())
            print(f"  {f['name']}: {f['type']}  [{defaults}]  {f['help']}")
    return 0


def _execute(args, preset: str, out: Path) -> dict:
    """Run with a tqdm bar (rank 0 only); returns result.json's content."""
    from tqdm import tqdm

    from reproductions.common.runner import make_config, run
    from reproductions.common.trainer import TrainOptions

    module = _module(args.name)
    cfg = make_config(module, preset, args.set)
    if args.threads:
        import torch
        from threadpoolctl import threadpool_limits  # ships with scikit-learn

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)  # numpy/scikit-learn's BLAS too (the baselines)
    rank = int(os.environ.get("RANK", 0))
    bar = tqdm(total=None, unit="step", disable=rank != 0 or args.quiet, dynamic_ncols=True)

    def on_progress(variant, done, total, scalars):
        bar.total = total
        bar.set_description(variant, refresh=False)
        if "loss" in scalars:
            bar.set_postfix(loss=f"{scalars['loss']:.4f}", refresh=False)
        bar.update(done - bar.n)

    try:
        options = TrainOptions(
            accumulate=args.accumulate, checkpoint_every=args.checkpoint_every,
            checkpoint_minutes=args.checkpoint_minutes, keep_checkpoints=args.keep_checkpoints,
            eval_every=args.eval_every, best_metric=args.best_metric, compile=args.compile,
            channels_last=args.channels_last)
        return run(module, cfg, preset, out, name=args.name, argv=args.argv, resume=args.resume,
                   device=args.device, on_progress=on_progress, options=options)
    finally:
        bar.close()


def _print_claims(result: dict) -> None:
    for name, metrics in result.get("baselines", {}).items():
        print(f"baseline {name}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    for c in result["claims"]:
        measured = f"  [{c['measured']}]" if c["measured"] else ""
        margin = (f"  margin {c['margin']:+.3g} over {', '.join(c['compared_with'])}"
                  if c.get("margin") is not None else "")
        print(f"{c['verdict']:<28} {c['id']}: {c['text']}{measured}{margin}")


def _smoke_test(args) -> bool:
    """True (and says so) when the preset evaluates no claim: `check` would check nothing."""
    from reproductions.common.claims import evaluated_for

    module = _module(args.name)
    if evaluated_for(module.CLAIMS, args.preset):
        return False
    meant = sorted({p for c in module.CLAIMS if c.margins is not None for p in c.presets})
    print(f"{args.name}: preset '{args.preset}' is a smoke test and evaluates no claim; "
          f"check a preset that does: {', '.join(meant) or 'none has claims yet'}")
    return True


def _verdict_line(name: str, rows: list[dict]) -> str:
    from reproductions.common.claims import NOT_EVALUATED, failed

    bad = failed(rows)
    unevaluated = [r["id"] for r in rows if r["verdict"] == NOT_EVALUATED]
    checked = [r["id"] for r in rows if r["margin"] is not None]
    if unevaluated:
        return (f"{name}: {len(unevaluated)} claim(s) not evaluated ({', '.join(unevaluated)}): "
                f"this run lacks what they compare; evaluated: {', '.join(checked) or 'none'}")
    if bad:
        return f"{name}: {len(bad)} claim(s) expected to hold did not ({', '.join(r['id'] for r in bad)})"
    return f"{name}: every claim expected to hold held; evaluated: {', '.join(checked)}"


def cmd_run(args) -> int:
    if args.resume and not args.out:
        raise ConfigError("--resume needs --out: the run folder to continue")
    out = Path(args.out or f"runs/{args.name}-{args.preset}-{time.strftime('%Y%m%d-%H%M%S')}")
    result = _execute(args, args.preset, out)
    if int(os.environ.get("RANK", 0)) == 0:
        for variant, metrics in result["metrics"].items():
            shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            print(f"{variant}: {shown}")
        _print_claims(result)
        print(f"run folder: {out}")
    return 0


def cmd_check(args) -> int:
    from reproductions.common.claims import failed

    if _smoke_test(args):
        return 1
    if args.seeds:
        return _check_seeds(args)
    with tempfile.TemporaryDirectory(prefix=f"check-{args.name}-") as tmp:
        result = _execute(args, args.preset, Path(args.out) if args.out else Path(tmp))
    if int(os.environ.get("RANK", 0)) != 0:
        return 0
    _print_claims(result)
    print(f"{_verdict_line(args.name, result['claims'])} ({result['wall_time_s']:.0f} s)")
    return 1 if failed(result["claims"]) else 0


def _check_seeds(args) -> int:
    """`check --seeds N`: seeds 0..N-1; each claim expected to hold must hold for >= 80% of
    them, and every evaluated claim's margins are printed with their mean and 95% interval."""
    from reproductions.common.claims import NOT_EVALUATED, REPRODUCED, mean_interval

    rows: dict[str, list[dict]] = {}
    base = list(args.set)
    with tempfile.TemporaryDirectory(prefix=f"check-{args.name}-") as tmp:
        root = Path(args.out) if args.out else Path(tmp)
        for seed in range(args.seeds):
            args.set = [*base, f"seed={seed}"]
            result = _execute(args, args.preset, root / f"seed{seed}")
            print(f"seed {seed} ({result['wall_time_s']:.0f} s)")
            _print_claims(result)
            for c in result["claims"]:
                if c["verdict"] != "not applicable":
                    rows.setdefault(c["id"], []).append(c)
    need = math.ceil(0.8 * args.seeds)
    short = []
    for cid, cs in rows.items():
        held = sum(c["verdict"] == REPRODUCED for c in cs)
        if any(c["verdict"] == NOT_EVALUATED for c in cs) or (cs[0]["expected"] and held < need):
            short.append(cid)
        line = f"{cid}: held for {held} of {args.seeds} seeds"
        for against in cs[0]["compared_with"]:
            values = [c["margins"][against] for c in cs if against in c["margins"]]
            mean, half = mean_interval(values)
            line += f"; margin over {against} {mean:+.3g} ± {half:.2g}"
        print(line + ("" if cs[0]["expected"] else " (not expected in miniature)"))
    print(f"{args.name}: " + (f"{len(short)} claim(s) short of {need} of {args.seeds} seeds or not "
                              f"evaluated: {', '.join(short)}" if short else
                              f"every claim expected to hold held in >= {need} of {args.seeds} seeds"))
    return 1 if short or not rows else 0


def _threads(n: int | None) -> None:
    if n:
        import torch
        from threadpoolctl import threadpool_limits  # ships with scikit-learn

        torch.set_num_threads(n)
        threadpool_limits(n)


def cmd_evaluate(args) -> int:
    """A checkpoint the user passes, measured with the paper's protocol, beside the paper's
    figures; writes a run folder the app lists like any other run."""
    from tqdm import tqdm

    from reproductions.common import evaluation as E
    from reproductions.common.claims import NOT_REPRODUCED_AT_SCALE, number_verdicts
    from reproductions.common.config import config_to_dict
    from reproductions.common.runfolder import RunFolder, git_commit
    from reproductions.common.trainer import select_device

    module = _module(args.name)
    if args.preset not in module.PRESETS:
        raise ConfigError(f"{args.name} has no preset '{args.preset}'; "
                          f"choose one of: {', '.join(module.PRESETS)}")
    path = Path(args.weights)
    state, header = E.read_weights(path)
    if header is not None and header.get("paper") != module.PAPER:
        raise ConfigError(f"--weights {path.name} is a checkpoint of '{header.get('paper')}', "
                          f"not of {args.name} ('{module.PAPER}')")
    # ImageNet protocol for a reference's weights, or our checkpoint with an image folder; a
    # run checkpoint alone is evaluated on its own Config's data (a mini run's generated split)
    classifier = args.name in E.PIXELS and (header is None or args.data is not None)
    if classifier and not args.data:
        raise ConfigError(f"{args.name}: --data is needed (an ImageFolder: DIR/val/<class>/*)")
    cfg = E.config_for(module, args.preset, header, args.data)
    _threads(args.threads)
    model = module.build_model(cfg)
    E.load_into(args.name, module, args.preset, model, state, path)
    model.to(select_device(args.device))
    numbers = [n for c in module.CLAIMS for n in c.numbers if args.preset in n.presets]
    protocol = (args.protocol or next((n.protocol for n in numbers), "center-crop")
                if classifier and args.name != "clip" else "center-crop" if classifier
                else getattr(module, "EVAL_PROTOCOL", "module"))
    out = Path(args.out or f"runs/{args.name}-{args.preset}-eval-{time.strftime('%Y%m%d-%H%M%S')}")
    if (out / "status.json").exists():
        raise ConfigError(f"{out} already holds a run; choose a new --out")
    folder = RunFolder(out)
    folder.start(args.argv, {"name": args.name, "paper": module.PAPER, "preset": args.preset,
                             "config": config_to_dict(cfg), "variants": {"weights": config_to_dict(cfg)},
                             "evaluate": {"weights": str(path.resolve()), "data": args.data,
                                          "protocol": protocol, "limit": args.limit}})
    started = time.monotonic()
    bar = tqdm(unit="image", disable=args.quiet, dynamic_ncols=True)
    try:
        pixels = E.pixels_for(args.name, cfg, args.resize)
        kwargs = {"batch_size": args.batch_size, "limit": args.limit,
                  "progress": lambda n: bar.update(n - bar.n)}
        if args.name == "clip":
            measured = E.clip_zero_shot(model, args.data, pixels, **kwargs)
        elif classifier:
            measured = E.classify(model, args.data, pixels, protocol, **kwargs)
        else:
            measured = E.module_metrics(module, model, cfg)
        bar.close()
        rows = number_verdicts(module.CLAIMS, args.preset, protocol, measured)
        folder.log_metrics({"variant": "weights", "step": 0, "eval": True, **measured})
        result = {
            "name": args.name, "paper": module.PAPER, "preset": args.preset,
            "metrics": {"weights": measured}, "baselines": {}, "figures": [], "claims": rows,
            "weights": {"file": str(path.resolve()), "sha256": E.file_digest(path),
                        "our_checkpoint": header is not None},
            "protocol": protocol, "seed": cfg.seed, "device": str(next(model.parameters()).device),
            "world_size": 1, "torch": __import__("torch").__version__,
            "python": sys.version.split()[0], "git_commit": git_commit(),
            "wall_time_s": round(time.monotonic() - started, 2),
        }
        folder.finish(result)
    except BaseException as err:
        bar.close()
        folder.fail(err)
        raise
    print(", ".join(f"{k} {v:.2f}" if k != "images" else f"{v:.0f} images"
                    for k, v in measured.items()) + f" ({protocol})")
    for r in rows:
        print(f"{r['verdict']:<30} {r['id']}: {r['measured']} ({r['source']})"
              + (f"; note: {r['note']}" if r.get("note") else ""))
    if not rows:
        print(f"{args.name} --preset {args.preset}: no figure of the paper is recorded for this "
              "preset; the numbers above are this checkpoint's")
    print(f"run folder: {out}")
    return 1 if any(r["verdict"] == NOT_REPRODUCED_AT_SCALE for r in rows) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reproductions", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="the registered reproductions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("describe", help="a reproduction's Config fields, presets and claims")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_describe)
    for command, func, helptext in (("run", cmd_run, "train and evaluate into a run folder"),
                                    ("check", cmd_check, "run a preset and print claim verdicts")):
        p = sub.add_parser(command, help=helptext)
        p.add_argument("name")
        p.add_argument("--preset", default="mini")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a Config field (typed, e.g. --set lr=1e-3)")
        p.add_argument("--out", help="run folder (default: runs/NAME-PRESET-TIME; check: a temp folder)")
        p.add_argument("--resume", action="store_true", help="continue from the folder's checkpoints")
        p.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: the best available)")
        p.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS",
                       help="also save a checkpoint every STEPS steps")
        p.add_argument("--checkpoint-minutes", type=float, default=1.0, metavar="M",
                       help="save a checkpoint when M minutes passed since the last (default 1)")
        p.add_argument("--keep-checkpoints", type=_positive, default=1, metavar="K",
                       help="keep the newest K checkpoints (hard links, default 1)")
        p.add_argument("--eval-every", type=_positive, default=None, metavar="STEPS",
                       help="evaluate every STEPS steps; keeps VARIANT-best.pt by --best-metric")
        p.add_argument("--best-metric", default=None, metavar="NAME",
                       help="the metric VARIANT-best.pt tracks (default: the first accuracy)")
        p.add_argument("--accumulate", type=_positive, default=1, metavar="K",
                       help="K micro-batches of batch_size per optimizer step (a batch of "
                            "K x batch_size in the memory of one)")
        p.add_argument("--compile", nargs="?", const="inductor", default=None,
                       metavar="BACKEND", help="torch.compile the model (default backend "
                       "inductor; worth it for long GPU runs, minutes of compiling first)")
        p.add_argument("--channels-last", action="store_true",
                       help="NHWC memory layout for convolutional nets (faster on GPUs)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.add_argument("--threads", type=int, metavar="N",
                       help="CPU threads for torch and the baselines' BLAS (default: their "
                       "choice; 1 is often faster for the small mini models on a busy machine)")
        if command == "check":
            p.add_argument("--seeds", type=int, default=0, metavar="N",
                           help="run seeds 0..N-1; a claim expected to hold must hold for 80%%")
        p.set_defaults(func=func)
    p = sub.add_parser("evaluate", help="a checkpoint (ours, torchvision's, timm's, open_clip's) "
                       "measured with the paper's protocol, beside the paper's figures")
    p.add_argument("name")
    p.add_argument("--weights", required=True, metavar="FILE",
                   help="a run checkpoint or a reference state dict (read weights-only)")
    p.add_argument("--data", metavar="DIR", help="ImageFolder (DIR/val/<class>/*) for image "
                   "classifiers and CLIP; the module's data_root otherwise")
    p.add_argument("--preset", default="paper")
    p.add_argument("--protocol", choices=("center-crop", "ten-crop"),
                   help="test-time crops (default: the paper's for this preset)")
    p.add_argument("--resize", type=_positive, metavar="PIXELS",
                   help="shorter side before cropping (default: the weights' convention)")
    p.add_argument("--limit", type=_positive, metavar="N", help="evaluate N images only")
    p.add_argument("--batch-size", type=_positive, default=64)
    p.add_argument("--out", help="run folder (default: runs/NAME-PRESET-eval-TIME)")
    p.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: the best available)")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv) if argv is None else ["python", "-m", "reproductions", *argv]
    console = logging.StreamHandler()  # warnings on the console; log.txt gets everything
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logging.getLogger().addHandler(console)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        _shutdown_distributed()


def _shutdown_distributed() -> None:
    if "torch" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
