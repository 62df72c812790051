#!/usr/bin/env python
"""Write one config per seed for a sweep over ``numpy_seed``.

    python examples/generate_sweep_cfg_files.py experiment_configs/yinyang_pal.yaml \\
        sweeps/yinyang_pal yinyang_pal --n-seeds 10

loads and validates the base config (with any ``--set`` overrides), then writes
``SAVE_DIR/NAME_seed<seed>.yaml`` for seeds S .. S+N-1 (``numpy_seed`` = seed, ``name`` =
``NAME_seed<seed>``, so every run has its own results and build folder) and
``SAVE_DIR/NAME_configs.txt`` listing the written files, one file name per line, relative to
SAVE_DIR. ``data_seed`` is left alone: every seed of a sweep sees the same data (as the paper).

Every config is checked before anything is written; existing files are not overwritten unless
``--force`` is given. Errors are one line on stderr and exit status 2.
"""
import argparse
import copy
import os
import sys

# runner/ lives beside this script; make it importable from any working directory.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from runner.config import ConfigError  # noqa: E402
from runner.experiments import config_kind, config_module  # noqa: E402

EXIT_BAD_INPUT = 2


class SweepError(Exception):
    """A problem with the command line or the output folder (reported as one line)."""


def parse_args(argv=None):
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Write one experiment config per seed (numpy_seed = S .. S+N-1) from a base "
                    "config, plus NAME_configs.txt listing them.",
        epilog="Example: %(prog)s experiment_configs/yinyang_pal.yaml sweeps/yy_pal yy_pal "
               "--n-seeds 10 --set sim_config.n_epochs=100")
    parser.add_argument("base_cfg", metavar="BASE_CFG",
                        help="base config file (YAML: meta, network)")
    parser.add_argument("save_dir", metavar="SAVE_DIR", help="folder for the generated configs "
                                                             "(created if missing)")
    parser.add_argument("name", metavar="NAME", help="sweep name: files NAME_seed<seed>.yaml, "
                                                     "run names NAME_seed<seed>")
    parser.add_argument("--n-seeds", type=int, default=10, metavar="N",
                        help="number of seeds (default: %(default)s)")
    parser.add_argument("--first-seed", type=int, default=None, metavar="S",
                        help="first seed (default: the base config's numpy_seed)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a key of the base config, value in YAML syntax; meta keys "
                             "as they are (sim_config.n_epochs=100), network keys with the prefix "
                             "network. (network.dims=[4,50,3]); repeatable")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    return parser.parse_args(argv)


def seed_configs(base, name, first_seed, n_seeds, source, schema):
    """[(seed, validated config)] for the seeds of the sweep (``schema``: the config module)."""
    configs = []
    for seed in range(first_seed, first_seed + n_seeds):
        cfg = copy.deepcopy(base)
        cfg["meta"]["numpy_seed"] = seed
        cfg["meta"]["name"] = f"{name}_seed{seed}"
        configs.append((seed, schema.validate_config(cfg, f"{source} (seed {seed})")))
    return configs


def planned_files(save_dir, name, seeds):
    """Paths of the config files and of the list file."""
    configs = [os.path.join(save_dir, f"{name}_seed{seed}.yaml") for seed in seeds]
    return configs, os.path.join(save_dir, f"{name}_configs.txt")


def refuse_overwrite(paths):
    existing = [p for p in paths if os.path.exists(p)]
    if existing:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise SweepError(f"refusing to overwrite {existing[0]}{more} (use --force)")


def write_sweep(args):
    """Check everything, then write the files; returns the written config paths."""
    if args.n_seeds < 1:
        raise SweepError(f"--n-seeds must be >= 1, got {args.n_seeds}")
    # microcircuit or ALIF config: the base config's meta document decides the schema
    schema = config_module(config_kind(args.base_cfg))
    base = schema.load_config(args.base_cfg, args.overrides)
    first = base["meta"]["numpy_seed"] if args.first_seed is None else args.first_seed
    configs = seed_configs(base, args.name, first, args.n_seeds, args.base_cfg, schema)
    paths, list_path = planned_files(args.save_dir, args.name, [seed for seed, _ in configs])
    # Render every file before writing any, so a problem leaves nothing half written.
    texts = [schema.config_to_string(cfg, header=_header(args, seed)) for seed, cfg in configs]
    if not args.force:
        refuse_overwrite(paths + [list_path])
    os.makedirs(args.save_dir, exist_ok=True)
    for path, text in zip(paths, texts):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    with open(list_path, "w", encoding="utf-8") as f:
        f.write("".join(os.path.basename(p) + "\n" for p in paths))
    return paths, list_path


def _header(args, seed):
    lines = [f"Sweep '{args.name}', seed {seed}: generated by generate_sweep_cfg_files.py",
             f"from {args.base_cfg}"]
    lines += [f"with --set {o}" for o in args.overrides]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    try:
        paths, list_path = write_sweep(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except SweepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"error: cannot write {exc.filename or args.save_dir}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {len(paths)} configs and {list_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
