#!/usr/bin/env python3
"""Train, evaluate and inspect dendritic-microcircuit experiments (PAL / Latent Equilibrium) and
recurrent ALIF networks trained with BPTT / e-prop / MDGL on evidence accumulation. The config's
meta document decides which (``dataset_key``: microcircuit, ``task``: ALIF network; see
runner/experiments.py); for the ALIF runs "epoch" below reads "iteration".

  python examples/experiment_runner.py train CFG OUT [--set key.path=value ...] [--eval] [--quiet]
      trains; results go to OUT/<name>_<YYYY-MM-DD_HH-MM-SS>/ (config.yaml, gitsha.txt,
      net_recordings.h5, metrics.csv, train.log); the last line printed is "result: <dir>"
  python examples/experiment_runner.py train --resume DIR
      continues an interrupted run from its last epoch checkpoint (bit-identical result)
  python examples/experiment_runner.py train --resume DIR --extend-to N
      continues a finished ALIF run to N iterations (equal to an uninterrupted N-iteration run)
  python examples/experiment_runner.py eval DIR [PLOT_WEIGHTS 0|1] [SHOW 0|1]
      PNGs in DIR/plots/ (accuracy, error, W-B angles, self-prediction, output vs supervisor,
      yin-yang decision map); no model is rebuilt
  python examples/experiment_runner.py detail_plot DIR EPOCH
      the traces and weights of one epoch in DIR/epoch_<EPOCH>/

Exit codes: 0 done, 2 bad input (one line on stderr, nothing written), 1 failure during the run,
130 interrupted (resume with --resume DIR).
"""
import argparse
import datetime
import os
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def fail(message, code=2):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def code_version():
    """The project's own version (git commit of the installed package, '+dirty' when modified),
    found from the package location rather than the working directory."""
    import neurogen
    root = os.path.dirname(os.path.dirname(os.path.abspath(neurogen.__file__)))
    try:
        sha = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    version = getattr(neurogen, "__version__", "unknown")
    return f"{sha}{'+dirty' if dirty else ''}" if sha else f"neurogen {version} (no git checkout)"


def check_writable(out):
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, f".write_probe_{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as exc:
        fail(f"cannot write results to OUT '{out}': {exc.strerror or exc}")


def new_run_dir(out, name):
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    path = os.path.join(out, f"{name}_{stamp}")
    k = 1
    while os.path.exists(path):
        k += 1
        path = os.path.join(out, f"{name}_{stamp}_{k}")
    os.makedirs(path)
    return os.path.abspath(path)


def run_finished(run_dir):
    import json
    pointer = os.path.join(run_dir, "checkpoint.json")
    if not os.path.exists(pointer):
        return False
    with open(pointer) as fh:
        return bool(json.load(fh).get("finished"))


def make_logger(run_dir, quiet):
    log_path = os.path.join(run_dir, "train.log")

    def log(message):
        line = f"{datetime.datetime.now().isoformat(timespec='seconds')} {message}"
        with open(log_path, "a") as fh:
            fh.write(line + "\n")
        if quiet:
            print(line, flush=True)
    return log


def cmd_train(args):
    from runner.config import ConfigError
    from runner.experiments import dump_any_config, job_module, load_any_config

    resume = args.resume is not None
    if resume:
        if args.cfg or args.out:
            fail("train --resume DIR takes no CFG or OUT (the run's own config.yaml is used)")
        run_dir = os.path.abspath(args.resume)
        cfg_path = os.path.join(run_dir, "config.yaml")
        if not os.path.isfile(cfg_path):
            fail(f"--resume {args.resume}: no config.yaml there, so it is not a result directory")
        overrides = ()
        if args.set:
            fail("--set cannot change a run that is being resumed")
        if args.extend_to is not None and args.extend_to < 1:
            fail(f"--extend-to {args.extend_to}: expected a positive number of iterations")
    else:
        if args.extend_to is not None:
            fail("--extend-to N continues a finished run: use it with --resume DIR")
        if not args.cfg or not args.out:
            fail("train needs CFG and OUT (or --resume DIR)")
        cfg_path, overrides = args.cfg, args.set or ()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            kind, cfg = load_any_config(cfg_path, overrides)
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
    except ConfigError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read config '{cfg_path}': {exc.strerror or exc}")
    if resume and args.extend_to is not None:
        if kind != "snn":
            fail("--extend-to is for ALIF (e-prop / MDGL / BPTT) runs; a microcircuit run's epochs set "
                 "its learning-rate schedule, so start a longer run instead")
    elif resume:
        if run_finished(run_dir):
            fail(f"{run_dir}: this run has already finished (add --extend-to N to continue it to N iterations)")
    else:
        check_writable(args.out)
    job = job_module(kind)
    try:
        if kind == "snn":
            data, net = None, job.build_network(cfg)
        else:
            data = job.load_data(cfg["meta"])
            net = job.build_network(cfg, data)
    except job.JobError as exc:
        fail(f"{cfg_path}: {exc}")
    if not resume:
        run_dir = new_run_dir(args.out, cfg["meta"]["name"])
        dump_any_config(kind, cfg, os.path.join(run_dir, "config.yaml"))
        with open(os.path.join(run_dir, "gitsha.txt"), "w") as fh:
            fh.write(code_version() + "\n")
    log = make_logger(run_dir, args.quiet)
    if kind == "snn":
        if args.extend_to is not None:
            extend_snn_run(job, kind, cfg, run_dir, net, args.extend_to, log)
        return train_snn(args, job, cfg, run_dir, net, log, resume)
    meta = cfg["meta"]
    if not resume:
        from runner.recorder import Recorder
        Recorder(run_dir, net.L - 1, net.recs_per_sample).start(
            {"name": meta["name"], "numpy_seed": meta["numpy_seed"], "noise_seed": meta["numpy_seed"],
             "data_seed": meta["sim_config"]["data_seed"], "dt": meta["dt"],
             "steps_per_sample": net.steps_per_sample, "rec_every": net.rec_every, "dims": net.dims,
             "dataset_key": meta["dataset_key"], "gitsha": code_version(), "precision": meta["precision"],
             "created": datetime.datetime.now().isoformat(timespec="seconds")}, data)
        log(f"run {meta['name']} seed {meta['numpy_seed']} dims {net.dims} -> {run_dir}")
    try:
        test = job.run_training(cfg, run_dir, net, data, log, resume=resume, quiet=args.quiet,
                                stop_after_epoch=args.stop_after_epoch)
    except job.JobError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: python {os.path.relpath(__file__)} train --resume {run_dir}",
              file=sys.stderr)
        sys.exit(130)
    if test is not None:
        log(f"final test accuracy {test.accuracy[0]:.4f}")
        if args.eval:
            from runner import plots
            written = plots.evaluate(run_dir)
            print(f"plots: {os.path.join(run_dir, 'plots')} ({len(written)} figures)")
    print(f"result: {run_dir}")


def extend_snn_run(job, kind, cfg, run_dir, net, n_iterations, log):
    """Reopen a finished ALIF run as the checkpoint before its last iteration count, then record the
    new iteration count in its config.yaml (in this order: a crash in between leaves a run that
    --resume --extend-to N reopens again). The code version of the extension is logged."""
    from runner.experiments import dump_any_config
    try:
        done = job.reopen_finished(run_dir, net, cfg["meta"], n_iterations)
    except job.JobError as exc:
        fail(str(exc))
    cfg["meta"]["n_iterations"] = n_iterations
    dump_any_config(kind, cfg, os.path.join(run_dir, "config.yaml"))
    log(f"extended from {done} to {n_iterations} iterations (code {code_version()})")


def train_snn(args, job, cfg, run_dir, net, log, resume):
    """train for the ALIF / e-prop / MDGL experiments (runner/snn_job.py)."""
    meta = cfg["meta"]
    if not resume:
        job.start_recording(run_dir, cfg, net, code_version(), datetime.datetime.now().isoformat(timespec="seconds"))
        log(f"run {meta['name']} seed {meta['numpy_seed']} {net!r} -> {run_dir}")
    try:
        final = job.run_training(cfg, run_dir, net, log, resume=resume, quiet=args.quiet,
                                 stop_after_iteration=args.stop_after_iteration)
    except job.JobError as exc:
        fail(str(exc))
    except job.InvariantError as exc:
        log(f"FAILED: {exc}")
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: python {os.path.relpath(__file__)} train --resume {run_dir}",
              file=sys.stderr)
        sys.exit(130)
    if final is not None:
        log(f"final validation loss {final.loss:.4f} accuracy {final.accuracy:.4f}")
        if args.eval:
            from runner import snn_plots
            written = snn_plots.evaluate(run_dir)
            print(f"plots: {os.path.join(run_dir, 'plots')} ({len(written)} figures)")
    print(f"result: {run_dir}")


def cmd_eval(args):
    from runner.experiments import plots_module, run_kind
    plots = plots_module(run_kind(args.dir))
    try:
        paths = plots.evaluate(args.dir, plot_weights=bool(args.plot_weights), show=bool(args.show))
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    for p in paths:
        print(p)


def cmd_detail_plot(args):
    from runner.experiments import plots_module, run_kind
    plots = plots_module(run_kind(args.dir))
    try:
        paths = plots.detail_plot(args.dir, args.epoch)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    for p in paths:
        print(p)


def flag(text):
    if text not in ("0", "1"):
        raise argparse.ArgumentTypeError(f"expected 0 or 1, got {text!r}")
    return int(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train a network from a config")
    tr.add_argument("cfg", nargs="?", help="config YAML (two documents: meta, network)")
    tr.add_argument("out", nargs="?", help="folder for the result directory")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override a config value, e.g. --set sim_config.n_epochs=5 --set network.dims=[4,50,3]")
    tr.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR")
    tr.add_argument("--extend-to", type=int, metavar="N",
                    help="with --resume DIR: continue a finished ALIF run to N iterations (the result equals "
                         "an uninterrupted N-iteration run)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar; log lines on stdout")
    tr.add_argument("--eval", action="store_true", help="write the eval plots when training has finished")
    tr.add_argument("--stop-after-epoch", type=int, default=None, help=argparse.SUPPRESS)   # tests
    tr.add_argument("--stop-after-iteration", type=int, default=None, help=argparse.SUPPRESS)   # tests (ALIF runs)
    ev = sub.add_parser("eval", help="plot a finished (or running) result directory")
    ev.add_argument("dir")
    ev.add_argument("plot_weights", nargs="?", type=flag, default=0, help="1: also plot stored weights")
    ev.add_argument("show", nargs="?", type=flag, default=0, help="1: show the figures interactively")
    dp = sub.add_parser("detail_plot", help="traces and weights of one epoch (ALIF runs: iteration)")
    dp.add_argument("dir")
    dp.add_argument("epoch", type=int, metavar="epoch|iteration")
    args = parser.parse_args(argv)
    {"train": cmd_train, "eval": cmd_eval, "detail_plot": cmd_detail_plot}[args.command](args)


if __name__ == "__main__":
    main()
