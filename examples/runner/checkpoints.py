"""Checkpoints of a result directory, shared by every kind of training job.

A checkpoint is a folder ``checkpoint_<position>`` holding ``state.npz`` (the flat arrays a job
gives) and copies of the run's result files as they are at that moment. The pointer file
``checkpoint.json`` is replaced atomically only after the folder is complete, so a run killed at
any time leaves either the previous checkpoint or the new one. ``finish`` writes the final state
and marks the run finished.
"""
import json
import os
import shutil

import numpy as np

POINTER = "checkpoint.json"


class NoCheckpoint(Exception):
    """The directory has no checkpoint pointer (it was not written by a training job)."""


def atomic_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _drop_checkpoints(run_dir, keep=None):
    for old in os.listdir(run_dir):
        if old.startswith("checkpoint_") and old != keep:
            shutil.rmtree(os.path.join(run_dir, old), ignore_errors=True)


def save(run_dir, name, arrays, files, info):
    """Write checkpoint folder ``name`` (``arrays`` -> state.npz, copies of ``files``), then point
    ``checkpoint.json`` at it with ``info`` (e.g. the next epoch) and drop older checkpoints."""
    path = os.path.join(run_dir, name)
    tmp = path + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    np.savez(os.path.join(tmp, "state.npz"), **arrays)
    for fname in files:
        shutil.copy2(os.path.join(run_dir, fname), os.path.join(tmp, fname))
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)
    atomic_json(os.path.join(run_dir, POINTER), {**info, "dir": name})
    _drop_checkpoints(run_dir, keep=name)


def load(run_dir, files):
    """Copy the checkpoint's ``files`` back into the run and return (pointer info, state arrays)."""
    pointer = os.path.join(run_dir, POINTER)
    if not os.path.exists(pointer):
        raise NoCheckpoint(f"{run_dir}: no {POINTER}, so this run cannot be resumed (was it started by "
                           "experiment_runner.py train?)")
    with open(pointer) as fh:
        info = json.load(fh)
    path = os.path.join(run_dir, info["dir"])
    with np.load(os.path.join(path, "state.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    for fname in files:
        shutil.copy2(os.path.join(path, fname), os.path.join(run_dir, fname))
    return info, arrays


def finish(run_dir, arrays, info):
    """Write ``final_state.npz``, drop the checkpoints and mark the run finished."""
    np.savez(os.path.join(run_dir, "final_state.npz"), **arrays)
    _drop_checkpoints(run_dir)
    atomic_json(os.path.join(run_dir, POINTER), {**info, "dir": None, "finished": True})
