#!/usr/bin/env python3
"""Run a sweep: ``experiment_runner.py train`` for every config, several at once, resumable.

  python examples/run_sweep.py sweeps/yy_pal/yy_pal_configs.txt results/yy_pal --jobs 8
  python examples/run_sweep.py sweeps/yy_pal results/yy_pal --set sim_config.n_epochs=100
  python examples/run_sweep.py sweeps/yy_pal results/yy_pal --address auto      # Ray cluster

CONFIGS is a folder of .yaml configs, a .txt list of config paths (relative paths are taken
relative to the list's folder, as generate_sweep_cfg_files.py writes them) or a single .yaml.
Every config runs in its own process as

  python examples/experiment_runner.py train CFG OUT --quiet [--set KEY=VALUE ...]

(the runner beside this script, so any working directory will do), at most --jobs at once.

Files in OUT (<sweep> is the stem of CONFIGS):
  <name>_<date>/            one result directory per run, written by the runner
  sweep_logs/<stem>.log     stdout and stderr of each run (appended to on a retry or resume)
  <sweep>_runs.txt          result directories of the finished runs, one per line; the input
                            of evaluate_sweep.py
  <sweep>_state.json        what this script knows about each run (written atomically)

Re-running the same command continues the sweep: finished runs (a testing row in their
metrics.csv; for ALIF runs the validation row at their n_iterations) are skipped, interrupted
ones continue with ``train --resume DIR`` from their last checkpoint, and runs that never
produced a result directory start again. Ctrl-C (or SIGTERM) stops the running children
(SIGINT, SIGKILL after a grace period; the runner's checkpoints are written atomically, so
either is safe), records them as interrupted and exits with 130.

With --address the runs are Ray tasks (one CPU each, or --threads-per-job). Every node must
see the same paths: the runner at this script's location, the configs, and OUT (a shared file
system), since the runs write their result directories and logs there.

Exit status: 0 every run finished; 1 some run failed (each named on stderr with its log);
2 bad input (one line on stderr); 130 interrupted.
"""
import argparse
import collections
import csv
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_RUNNER = os.path.join(HERE, "experiment_runner.py")

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130
STATE_VERSION = 1
POLL_S = 0.2          # how often finished children and new result directories are looked for
GRACE_S = 10.0        # after SIGINT, how long a child may take to exit before SIGKILL
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
RAY_HINT = 'install it with pip install -e ".[ray]"'
# experiment_runner.py names a result directory <name>_<YYYY-MM-DD_HH-MM-SS>[_k]
RUN_DIR_STAMP = r"_(\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d)(?:_\d+)?"


class SweepError(Exception):
    """Bad input (command line, configs, output folder): reported as one line, exit 2."""


# ------------------------------------------------------------------------------ command line
def parse_args(argv=None):
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Train every config of a sweep with experiment_runner.py, several at once; "
                    "re-running the same command skips finished runs and resumes interrupted ones.",
        epilog="Writes OUT/<sweep>_runs.txt (the result directories, for evaluate_sweep.py), "
               "OUT/<sweep>_state.json and OUT/sweep_logs/<config>.log, <sweep> being the stem of "
               "CONFIGS. Exit status: 0 all finished, 1 some run failed, 2 bad input, 130 "
               "interrupted.")
    parser.add_argument("configs", metavar="CONFIGS",
                        help="folder of .yaml configs, or a .txt file listing config paths "
                             "(e.g. NAME_configs.txt from generate_sweep_cfg_files.py)")
    parser.add_argument("out", metavar="OUT", help="folder for the result directories (created)")
    parser.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                        help="runs at the same time (default: the number of CPUs available, "
                             "divided by --threads-per-job; with --address: as many as Ray "
                             "schedules)")
    parser.add_argument("--address", metavar="RAY_ADDRESS", default=None,
                        help="run the jobs as Ray tasks on this cluster (ray.init(address=...), "
                             "e.g. 'auto' or 'ray://host:10001'); needs ray (pip install -e '.[ray]')")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to every fresh run as --set KEY=VALUE (e.g. "
                             "sim_config.n_epochs=100); repeatable. Resumed runs keep the config "
                             "they were started with")
    parser.add_argument("--threads-per-job", type=int, default=None, metavar="K",
                        help="CPU threads per run: sets the config's num_threads=K (CPU backend) "
                             "and OMP/OpenBLAS/MKL thread counts, pins each local run to its own K "
                             "cores when they suffice, and asks Ray for K CPUs per task (default: "
                             "the configs' num_threads, BLAS libraries limited to 1 thread)")
    # For the tests only: a stand-in for experiment_runner.py that follows the same contract.
    parser.add_argument("--runner", default=DEFAULT_RUNNER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("jobs", "threads_per_job"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    for text in args.overrides:
        if "=" not in text or not text.partition("=")[0].strip():
            parser.error(f"--set {text}: expected KEY=VALUE (e.g. sim_config.n_epochs=5)")
    return args


def sweep_name(configs_path):
    """The sweep's name: the stem of CONFIGS (folder name or file name without suffix)."""
    base = os.path.basename(os.path.normpath(configs_path))
    return os.path.splitext(base)[0] if os.path.isfile(configs_path) else base


# ------------------------------------------------------------------------------ configs
def list_configs(path):
    """Absolute paths of the sweep's configs, in order; SweepError when there are none."""
    if os.path.isdir(path):
        configs = [os.path.join(path, f) for f in sorted(os.listdir(path))
                   if f.endswith((".yaml", ".yml"))]
    elif os.path.isfile(path):
        configs = [path] if path.endswith((".yaml", ".yml")) else read_config_list(path)
    else:
        raise SweepError(f"{path}: no such file or folder")
    if not configs:
        raise SweepError(f"{path}: no configs found (expected .yaml files or a .txt list)")
    configs = [os.path.abspath(c) for c in configs]
    missing = [c for c in configs if not os.path.isfile(c)]
    if missing:
        raise SweepError(f"{path}: config {missing[0]} does not exist"
                         + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    stems = collections.Counter(config_stem(c) for c in configs)
    twice = [s for s, n in stems.items() if n > 1]
    if twice:   # the log files and the state are keyed by the stem
        raise SweepError(f"{path}: two configs share the file name {twice[0]!r}")
    if len(set(configs)) != len(configs):
        raise SweepError(f"{path}: a config is listed twice")
    return configs


def read_config_list(path):
    """Config paths from a .txt list: one per line, '#' comments and blank lines skipped."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [line.strip() for line in fh]
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"{path}: cannot read the config list: {getattr(exc, 'strerror', None) or exc}")
    base = os.path.dirname(os.path.abspath(path))
    configs = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        beside = os.path.join(base, os.path.expanduser(line))
        # generate_sweep_cfg_files.py lists names relative to the list; accept cwd-relative too
        configs.append(beside if os.path.exists(beside) or not os.path.exists(line) else line)
    return configs


def config_stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def config_identity(path, overrides):
    """(run name, numpy_seed) the runner will use for this config; they identify its result
    directory. Only read, not validated: a broken config is the runner's to report."""
    name, seed = None, None
    try:
        with open(path, encoding="utf-8") as fh:
            docs = list(yaml.safe_load_all(fh))
        meta = docs[0] if docs else None
        if isinstance(meta, list) and meta:        # reference layout: one document [meta, network]
            meta = meta[0]
        if isinstance(meta, dict):
            name, seed = meta.get("name"), meta.get("numpy_seed")
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        pass
    for text in overrides:
        key, _, value = text.partition("=")
        key = key.strip()
        key = key[len("meta."):] if key.startswith("meta.") else key
        if key in ("name", "numpy_seed"):
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError:
                continue
            name, seed = (value, seed) if key == "name" else (name, value)
    name = name if isinstance(name, str) and name else config_stem(path)
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
    return name, seed


# ------------------------------------------------------------------------------ result dirs
def read_test_row(run_dir):
    """The row of run_dir/metrics.csv that marks a finished run, as a dict, or None (not finished):
    the testing row of a microcircuit run; for an ALIF run (config with a ``task``), the validation
    row at its ``n_iterations``."""
    meta = run_dir_meta(run_dir)
    alif = isinstance(meta, dict) and "task" in meta
    if alif and not isinstance(meta.get("n_iterations"), int):
        return None
    try:
        with open(os.path.join(run_dir, "metrics.csv"), newline="", encoding="utf-8") as fh:
            if alif:
                last = str(meta["n_iterations"])
                rows = [r for r in csv.DictReader(fh) if r.get("stage") == "validation" and r.get("iteration") == last]
            else:
                rows = [r for r in csv.DictReader(fh) if r.get("stage") == "testing"]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return rows[-1] if rows else None


def test_accuracy(row):
    """Accuracy of a testing row (None when missing or not a number)."""
    try:
        return float(row["accuracy"])
    except (TypeError, KeyError, ValueError):
        return None


def resumable(run_dir):
    """Whether `train --resume` can continue run_dir (it needs the config and a checkpoint)."""
    return all(os.path.isfile(os.path.join(run_dir, f)) for f in ("config.yaml", "checkpoint.json"))


def run_dir_meta(run_dir):
    """The meta document of run_dir/config.yaml, or None."""
    try:
        with open(os.path.join(run_dir, "config.yaml"), encoding="utf-8") as fh:
            return next(yaml.safe_load_all(fh), None)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def run_dir_seed(run_dir):
    """numpy_seed in run_dir/config.yaml, or None."""
    meta = run_dir_meta(run_dir)
    return meta.get("numpy_seed") if isinstance(meta, dict) else None


def run_dir_time(dirname, name):
    """Creation time encoded in a result directory's name, or None if it is not one of `name`."""
    match = re.fullmatch(re.escape(name) + RUN_DIR_STAMP, dirname)
    if not match:
        return None
    return datetime.datetime.strptime(match.group(1), "%Y-%m-%d_%H-%M-%S").timestamp()


def subdirs(folder):
    """Absolute paths of the folders in `folder` (empty when it does not exist)."""
    try:
        return [e.path for e in os.scandir(os.path.abspath(folder)) if e.is_dir()]
    except OSError:
        return []


def find_run_dir(candidates, name, seed, claimed, since=None):
    """The result directory of run (name, seed) among `candidates`: named <name>_<date>, not
    claimed by another config, created at `since` or later (the run's start; the name holds
    whole seconds), with a config.yaml of the same seed. The earliest such, or None.

    The runner prints its directory only when it finishes; this is how a run that is still
    going, or was killed, is matched to its directory so that it can be resumed."""
    best = None
    for path in candidates:
        created = run_dir_time(os.path.basename(os.path.normpath(path)), name)
        if created is None or path in claimed or (since is not None and created < since - 2):
            continue
        if not os.path.isfile(os.path.join(path, "config.yaml")):
            continue                      # not a result dir, or one still being created
        found_seed = run_dir_seed(path)
        if seed is not None and found_seed is not None and found_seed != seed:
            continue
        if best is None or created < best[0]:
            best = (created, path)
    return best[1] if best else None


def read_runs_file(path):
    """Result directories listed in a runs file (absolute paths), [] if there is none."""
    try:
        with open(path, encoding="utf-8") as fh:
            return [os.path.abspath(line.strip()) for line in fh if line.strip()]
    except (OSError, UnicodeDecodeError):
        return []


# ------------------------------------------------------------------------------ state
def write_atomic(path, text):
    """Replace `path` by `text` in one step: a reader (or a crash) sees the old or the new file."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Sweep:
    """The sweep's files in OUT and the state of every run (one entry per config path)."""

    def __init__(self, configs_path, out, overrides):
        self.name = sweep_name(configs_path)
        self.out = os.path.abspath(out)
        self.logs = os.path.join(self.out, "sweep_logs")
        self.state_path = os.path.join(self.out, f"{self.name}_state.json")
        self.runs_path = os.path.join(self.out, f"{self.name}_runs.txt")
        self.overrides = list(overrides)
        self.state = {"version": STATE_VERSION, "sweep": self.name,
                      "configs": os.path.abspath(configs_path), "set": self.overrides, "runs": {}}

    def load(self):
        """Read an earlier state; refuse one written with other --set values, whose runs would
        otherwise be taken for runs of this command."""
        if not os.path.exists(self.state_path):
            return
        try:
            with open(self.state_path, encoding="utf-8") as fh:
                old = json.load(fh)
            runs = old["runs"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SweepError(f"{self.state_path}: unreadable sweep state ({exc}); move it away "
                             f"to start the bookkeeping afresh")
        if old.get("set", []) != self.overrides and any(r.get("result_dir") for r in runs.values()):
            raise SweepError(f"{self.state_path} was written with --set {old.get('set', [])}, not "
                             f"{self.overrides}; use the same options or another OUT")
        self.state["runs"] = runs

    def entry(self, config):
        """The state of one config's run (created on first use)."""
        return self.state["runs"].setdefault(config, {
            "status": "pending", "result_dir": None, "returncode": None, "attempts": 0,
            "log": os.path.join(self.logs, config_stem(config) + ".log")})

    def claimed(self, but=None):
        """Result directories that belong to configs (other than `but`)."""
        return {e["result_dir"] for c, e in self.state["runs"].items()
                if e.get("result_dir") and c != but}

    def save(self, configs):
        """Write the state, then the runs file (the finished runs in config order)."""
        write_atomic(self.state_path, json.dumps(self.state, indent=1) + "\n")
        finished = [self.entry(c)["result_dir"] for c in configs
                    if self.entry(c)["status"] == "finished"]
        write_atomic(self.runs_path, "".join(d + "\n" for d in finished))


def lock_sweep(sweep):
    """Hold a lock on the sweep's state while this process runs: two invocations on the same
    OUT would start the same runs twice. The lock goes with the process, however it ends."""
    try:
        import fcntl
    except ImportError:                   # not on POSIX: no lock
        return None
    handle = open(os.path.join(sweep.out, f".{sweep.name}_state.lock"), "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise SweepError(f"another run_sweep.py is working on {sweep.state_path}; wait for it or "
                         f"stop it first")
    return handle


# ------------------------------------------------------------------------------ planning
class Job:
    """One run to start: a fresh `train CFG OUT` or a `train --resume DIR`."""

    def __init__(self, config, name, seed, resume=None):
        self.config, self.name, self.seed, self.resume = config, name, seed, resume
        self.stem = config_stem(config)
        self.log = self.started = None


def plan(sweep, configs):
    """Split the configs into finished ones (skipped) and jobs to run, matching each config to
    its result directory: the one in the state, else one listed in the runs file (a finished run
    whose state was lost), else a directory an interrupted run left in OUT."""
    listed = read_runs_file(sweep.runs_path)
    skipped, jobs = [], []
    for config in configs:
        entry = sweep.entry(config)
        name, seed = config_identity(config, sweep.overrides)
        run_dir = entry.get("result_dir")
        if run_dir and not os.path.isdir(run_dir):
            run_dir = None                                   # deleted: start again
        if run_dir is None:
            run_dir = find_run_dir(listed, name, seed, sweep.claimed(config))
        if run_dir is None and entry.get("started") and entry["status"] in ("running", "interrupted"):
            run_dir = find_run_dir(subdirs(sweep.out), name, seed, sweep.claimed(config),
                                   since=entry["started"])
        row = read_test_row(run_dir) if run_dir else None
        if row is not None:
            entry.update(status="finished", result_dir=run_dir, test_accuracy=test_accuracy(row))
            skipped.append(config)
        elif run_dir and resumable(run_dir):
            entry["result_dir"] = run_dir
            jobs.append(Job(config, name, seed, resume=run_dir))
        else:
            # a directory without a checkpoint (killed while starting) cannot be resumed
            entry["result_dir"] = None
            jobs.append(Job(config, name, seed))
    return skipped, jobs


def train_args(job, out, overrides, threads):
    """Arguments of the runner (after the interpreter and the script)."""
    if job.resume:
        args = ["train", "--resume", job.resume]     # the run's own config.yaml; no --set allowed
    else:
        args = ["train", job.config, out]
        for text in overrides:
            args += ["--set", text]
        if threads:
            args += ["--set", f"num_threads={threads}"]
    return args + ["--quiet"]           # log lines instead of a progress bar: the output is a file


def child_env(threads, pinned):
    """Environment changes for a run. N runs side by side must not each start a BLAS pool of
    all cores; and with OpenMP threads bound to cores (neurogen's default) but no core set of
    their own, every run would bind to the same first cores."""
    env = {"PYTHONUNBUFFERED": "1"}      # the log fills as the run goes
    for var in THREAD_VARS:
        env[var] = str(threads) if threads else os.environ.get(var, "1")
    if not pinned and "OMP_PROC_BIND" not in os.environ:
        env["OMP_PROC_BIND"] = "false"
    return env


# ------------------------------------------------------------------------------ processes
def open_log(path, args):
    """Open a run's log for appending, with a header line; returns the file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    log = open(path, "ab")
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    log.write(f"=== {stamp} run_sweep.py: {' '.join(args)}\n".encode())
    log.flush()
    return log


def read_outcome(log_path, offset):
    """The result directory from this attempt's `result: DIR` line, and its last log lines."""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(offset)
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        lines = []
    results = [ln[len("result:"):].strip() for ln in lines if ln.startswith("result:")]
    return {"result_dir": results[-1] if results else None, "tail": lines[-5:]}


def send_signal(proc, sig):
    """Signal the child's whole process group (it may have started compilers), if still there."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def stop_processes(procs, grace=GRACE_S):
    """SIGINT to every child (the runner exits 130 after closing its files), then SIGKILL to
    those still running after `grace` seconds (safe: checkpoints are written atomically)."""
    for proc in procs:
        if proc.poll() is None:
            send_signal(proc, signal.SIGINT)
    deadline = time.monotonic() + grace
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    for proc in procs:
        if proc.poll() is None:
            send_signal(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
            proc.wait()


# Every child starts as `python -c CHILD_START RUNNER ARGS...`, which prepares the process and
# then becomes the runner (exec): SIGINT back to its default (a sweep started with `&` from a
# script inherits it ignored, yet the children must stop cleanly on our SIGINT); the cores of
# its job slot; and (Linux) SIGTERM when its parent dies, so that no run goes on writing after
# the sweep, or the Ray worker running it, was killed (a later resume would then share its
# directory). Done here rather than in a preexec_fn, which is unsafe in multi-threaded
# processes such as Ray workers.
CHILD_START = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
cores = os.environ.pop("RUN_SWEEP_CORES", "")
if cores:
    os.sched_setaffinity(0, [int(c) for c in cores.split(",")])
if sys.platform.startswith("linux"):
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
os.execv(sys.executable, [sys.executable] + sys.argv[1:])
"""


def child_command(runner_args):
    """The command line of a child running `runner_args` ([runner script, arguments...])."""
    if os.name != "posix":            # no exec-in-place elsewhere: run the runner directly
        return [sys.executable] + runner_args
    return [sys.executable, "-c", CHILD_START] + runner_args


def run_logged(runner_args, env_updates, log_path):
    """Run the runner to completion with its output appended to log_path (a Ray task's body;
    Ray's force-cancel kills this worker, and the child follows through CHILD_START)."""
    log = open_log(log_path, runner_args)
    offset = log.tell()
    proc = subprocess.Popen(child_command(runner_args), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env={**os.environ, **env_updates},
                            start_new_session=True)
    log.close()
    try:
        rc = proc.wait()
    except BaseException:
        stop_processes([proc])
        raise
    return {"rc": rc, **read_outcome(log_path, offset)}


def core_slots(jobs, threads):
    """Disjoint CPU sets for the job slots when runs use K > 1 threads and the cores suffice;
    else None (then OMP_PROC_BIND=false keeps the runs from binding to the same cores)."""
    if not threads or threads < 2 or not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if jobs * threads > len(cores):
        return None
    return [cores[i * threads:(i + 1) * threads] for i in range(jobs)]


def available_cpus():
    """CPUs this process may use (the affinity mask, which containers and taskset narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class LocalPool:
    """Runs jobs as child processes of this one, at most `jobs` at once."""

    def __init__(self, runner, jobs, threads):
        self.runner, self.threads = runner, threads
        self.cores = core_slots(jobs, threads)
        self.free = list(range(jobs))
        self.running = {}                 # job -> (process, slot, log offset)

    def has_room(self):
        return bool(self.free)

    def active(self):
        return list(self.running)

    def submit(self, job, args, log_path):
        slot = self.free.pop(0)
        cores = self.cores[slot] if self.cores else None
        env = {**os.environ, **child_env(self.threads, bool(cores))}
        if cores:
            env["RUN_SWEEP_CORES"] = ",".join(map(str, cores))
        log = open_log(log_path, [self.runner] + args)
        offset = log.tell()
        try:
            proc = subprocess.Popen(child_command([self.runner] + args), stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    # own session: the terminal's Ctrl-C reaches this script only,
                                    # which then stops the children in order
                                    start_new_session=True)
        except BaseException:
            self.free.insert(0, slot)
            raise
        finally:
            log.close()
        self.running[job] = (proc, slot, offset)
        return proc.pid

    def wait(self, timeout):
        """Jobs that ended within `timeout` seconds, as [(job, outcome)]."""
        deadline = time.monotonic() + timeout
        while True:
            done = [job for job, (proc, _, _) in self.running.items() if proc.poll() is not None]
            if done or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        results = []
        for job in done:
            proc, slot, offset = self.running.pop(job)
            self.free.append(slot)
            results.append((job, {"rc": proc.returncode, **read_outcome(job.log, offset)}))
        return results

    def stop_all(self):
        """Stop every running child; {job: exit status}."""
        stop_processes([proc for proc, _, _ in self.running.values()])
        stopped = {job: proc.returncode for job, (proc, _, _) in self.running.items()}
        self.running.clear()
        return stopped


class RayPool:
    """Runs jobs as Ray tasks, each running the runner in a subprocess on its worker."""

    def __init__(self, ray, address, runner, jobs, threads):
        self.ray, self.runner, self.threads = ray, runner, threads
        try:
            ray.init(address=address, log_to_driver=False)
        except Exception as exc:          # ray raises ConnectionError, RuntimeError, ValueError...
            raise SweepError(f"cannot connect to Ray at {address}: {' '.join(str(exc).split())}")
        self.task = ray.remote(num_cpus=threads or 1)(run_logged)
        self.limit = jobs
        self.refs = {}                    # ObjectRef -> job

    def has_room(self):
        return self.limit is None or len(self.refs) < self.limit

    def active(self):
        return list(self.refs.values())

    def submit(self, job, args, log_path):
        # Ray already limits OMP_NUM_THREADS to the task's CPUs; no core pinning on a cluster
        env = child_env(self.threads, pinned=False)
        self.refs[self.task.remote([self.runner] + args, env, log_path)] = job
        return None

    def wait(self, timeout):
        if not self.refs:
            return []
        done, _ = self.ray.wait(list(self.refs), num_returns=len(self.refs), timeout=timeout)
        results = []
        for ref in done:
            job = self.refs.pop(ref)
            try:
                outcome = self.ray.get(ref)
            except Exception as exc:      # the task itself failed (worker lost, ...)
                outcome = {"rc": EXIT_FAILED, "result_dir": None,
                           "tail": [f"ray task failed: {' '.join(str(exc).split())[:300]}"]}
            results.append((job, outcome))
        return results

    def stop_all(self):
        # Not a plain cancel: its KeyboardInterrupt reaches a task blocked in wait() only once
        # the child has ended. force=True ends the worker; its child gets SIGTERM (CHILD_START).
        for ref in self.refs:
            self.ray.cancel(ref, force=True)
        self.ray.wait(list(self.refs), num_returns=len(self.refs), timeout=GRACE_S)
        stopped = {job: None for job in self.refs.values()}
        self.refs.clear()
        return stopped


# ------------------------------------------------------------------------------ progress
def fmt_duration(seconds):
    """12.3s, 4m05s, 2h07m."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


class Progress:
    """One line per finished run on stdout; a tqdm bar on stderr when tqdm is there and stderr
    is a terminal."""

    def __init__(self, total, done):
        self.total, self.done, self.bar = total, done, None
        try:
            import tqdm
            self.bar = tqdm.tqdm(total=total, initial=done, unit="run", desc="sweep",
                                 file=sys.stderr, disable=None, dynamic_ncols=True)
        except ImportError:
            pass

    def line(self, text):
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def finished(self, name, status, rc, seconds, accuracy, extra=""):
        self.done += 1
        acc = f"{accuracy:.4f}" if accuracy is not None else "-"
        self.line(f"[{self.done}/{self.total}] {name}  {status}  exit {rc}  {fmt_duration(seconds)}  "
                  f"final accuracy {acc}{extra}")
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------------------ the sweep
def start_job(pool, sweep, configs, job, args):
    """Start one job and record it as running."""
    entry = sweep.entry(job.config)
    cmd_args = train_args(job, sweep.out, sweep.overrides, args.threads_per_job)
    job.log, job.started = entry["log"], time.time()
    pid = pool.submit(job, cmd_args, job.log)
    entry.update(status="running", started=job.started, pid=pid, returncode=None,
                 attempts=entry.get("attempts", 0) + 1, resumed=bool(job.resume))
    sweep.save(configs)


def discover(sweep, jobs):
    """Match running fresh jobs to the result directories they have created (for a resume
    after a kill). Returns True if the state changed."""
    waiting = [j for j in jobs if not sweep.entry(j.config).get("result_dir")]
    if not waiting:
        return False
    candidates, changed = subdirs(sweep.out), False
    for job in waiting:
        found = find_run_dir(candidates, job.name, job.seed, sweep.claimed(job.config),
                             since=job.started)
        if found:
            sweep.entry(job.config)["result_dir"] = found
            changed = True
    return changed


def finish_job(sweep, configs, job, outcome, progress):
    """Record a job that ended; returns True if it finished properly."""
    entry = sweep.entry(job.config)
    run_dir = outcome.get("result_dir") or entry.get("result_dir")
    if run_dir is None:
        discover(sweep, [job])
        run_dir = entry.get("result_dir")
    row = read_test_row(run_dir) if run_dir else None
    ok = outcome["rc"] == 0 and row is not None
    seconds = time.time() - job.started
    entry.update(status="finished" if ok else "failed", returncode=outcome["rc"], pid=None,
                 result_dir=run_dir, seconds=round(seconds, 3), test_accuracy=test_accuracy(row))
    entry.pop("problem", None)
    if not ok:          # the runner's last line says why (its error message, one line)
        last = [ln for ln in outcome.get("tail") or [] if ln.strip()]
        entry["problem"] = ("exited 0 without a finished result directory" if outcome["rc"] == 0
                            else last[-1].strip() if last else None)
    sweep.save(configs)
    extra = "" if ok else f"  (log: {entry['log']})"
    progress.finished(job.stem, "ok" if ok else "FAILED", outcome["rc"], seconds,
                      entry["test_accuracy"], extra)
    return ok


def run_all(pool, sweep, configs, jobs, args, progress):
    """Start jobs as room frees up until all have ended; Ctrl-C stops the running ones."""
    queue = collections.deque(jobs)
    try:
        while queue or pool.active():
            while queue and pool.has_room():
                start_job(pool, sweep, configs, queue.popleft(), args)
            for job, outcome in pool.wait(POLL_S):
                finish_job(sweep, configs, job, outcome, progress)
            if discover(sweep, pool.active()):
                sweep.save(configs)
    except KeyboardInterrupt:
        # a second Ctrl-C must not cut the cleanup short (the grace period is bounded)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        progress.line("interrupted: stopping the running runs ...")
        active = pool.active()
        stopped = pool.stop_all()
        discover(sweep, active)
        for job in active:
            sweep.entry(job.config).update(status="interrupted", pid=None,
                                           returncode=stopped.get(job))
        sweep.save(configs)
        return len(active)
    return None


def report(sweep, configs, skipped, progress):
    """Final summary; the failed configs with their logs on stderr. Returns the exit status."""
    entries = [sweep.entry(c) for c in configs]
    failed = [(c, e) for c, e in zip(configs, entries) if e["status"] != "finished"]
    progress.line(f"sweep {sweep.name}: {len(configs) - len(failed)} of {plural(len(configs), 'run')} "
                  f"finished ({len(skipped)} earlier); result directories in {sweep.runs_path}")
    for config, entry in failed:
        why = f": {entry['problem']}" if entry.get("problem") else ""
        print(f"failed: {config} (exit {entry.get('returncode')}{why}); log: {entry['log']}",
              file=sys.stderr)
    return EXIT_FAILED if failed else 0


def import_ray():
    """The ray module, or SweepError with the install hint."""
    try:
        import ray
    except ImportError:
        raise SweepError(f"--address needs Ray, which is not installed; {RAY_HINT}") from None
    return ray


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    args = parse_args(argv)
    try:
        ray = import_ray() if args.address else None
        runner = os.path.abspath(args.runner)
        if not os.path.isfile(runner):
            raise SweepError(f"runner {runner} not found")
        configs = list_configs(args.configs)
        sweep = Sweep(args.configs, args.out, args.overrides)
        try:
            os.makedirs(sweep.logs, exist_ok=True)
        except OSError as exc:
            raise SweepError(f"cannot write to OUT {sweep.out}: {exc.strerror or exc}")
        sweep.lock = lock_sweep(sweep)          # held until this process ends
        sweep.load()
        skipped, jobs = plan(sweep, configs)
        sweep.save(configs)
        if ray is not None:
            pool = RayPool(ray, args.address, runner, args.jobs, args.threads_per_job)
        else:
            n = args.jobs or max(1, available_cpus() // (args.threads_per_job or 1))
            pool = LocalPool(runner, n, args.threads_per_job)
    except SweepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:         # before any run started: nothing to stop
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    # SIGTERM (a scheduler ending the job) is handled like Ctrl-C: children stopped, state kept
    signal.signal(signal.SIGTERM, _raise_interrupt)
    progress = Progress(len(configs), 0)
    for config in skipped:
        entry = sweep.entry(config)
        progress.finished(config_stem(config), "skipped (finished earlier)",
                          entry.get("returncode") or 0, entry.get("seconds"), entry.get("test_accuracy"))
    if jobs:
        resumed = sum(1 for j in jobs if j.resume)
        progress.line(f"sweep {sweep.name}: {plural(len(jobs), 'run')} to do ({resumed} resumed), "
                      f"{len(skipped)} finished earlier")
    try:
        stopped = run_all(pool, sweep, configs, jobs, args, progress)
    finally:
        progress.close()
    if stopped is not None:
        print(f"interrupted: {plural(stopped, 'run')} stopped; run the same command again to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return report(sweep, configs, skipped, progress)


if __name__ == "__main__":
    sys.exit(main())
