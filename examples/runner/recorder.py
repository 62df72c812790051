"""Result files of a training run: ``net_recordings.h5`` and ``metrics.csv``.

HDF5 layout (read by :mod:`runner.plots` and ``evaluate_sweep.py``)::

    /                      attrs: name, numpy_seed, noise_seed, data_seed, dt (ms), steps_per_sample,
                           rec_every, dims, dataset_key, gitsha, precision, created
    /data/<stage>/labels   (n,) int; yin-yang also /data/<stage>/inputs (n, 4)
    /epochs/<E>/<stage>/predictions  (n,) predicted class per presented sample (validation, testing)
    /epochs/<E>/<stage>/order        (n,) data index of each presented sample (validation, testing)
    /epochs/<E>/<stage>/traces/<population>/<variable>  float32 (rows, n_neurons), one row every
                           ``rec_every`` steps for the first ``samples`` samples (attrs); kept on
                           epochs 0, every max(1, n_epochs // 20)-th, the last two and the final one
    /epochs/<E>/<stage>/full_traces/<population>/<variable>  float32 (rows, n_neurons): every
                           ``rec_every`` steps through the whole stage, for ``record.recordings``
    /epochs/<E>/weights/<name>       float32 (n_pre, n_post), weights at the start of epoch E
                           (E = n_epochs: the final weights)

Everything is chunked and gzip-compressed; the file is opened only while writing, so a killed run
leaves at most the stage being written incomplete (the checkpoint keeps a consistent copy).
"""
import csv
import os

import h5py
import numpy as np

COMPRESSION = {"compression": "gzip", "compression_opts": 4}


def _dataset(group, name, data):
    data = np.asarray(data)
    if name in group:
        del group[name]
    if data.size >= 64:
        chunks = tuple(min(s, max(1, 65536 // max(1, data[0].size if data.ndim > 1 else 1))) if i == 0 else s
                       for i, s in enumerate(data.shape))
        return group.create_dataset(name, data=data, chunks=chunks, **COMPRESSION)
    return group.create_dataset(name, data=data)


class Recorder:
    """Appends one run's recordings to ``net_recordings.h5`` and ``metrics.csv`` in ``run_dir``."""

    def __init__(self, run_dir, n_hidden, recs_per_sample):
        self.recs_per_sample = recs_per_sample
        self.h5_path = os.path.join(run_dir, "net_recordings.h5")
        self.csv_path = os.path.join(run_dir, "metrics.csv")
        self.header = ["epoch", "stage", "accuracy", "error"] + [f"angle_{l}" for l in range(1, n_hidden + 1)] \
            + ["seconds"]

    def start(self, attrs, data):
        """Create both files: root attributes, the labels (and small inputs) of every stage."""
        with h5py.File(self.h5_path, "w") as f:
            for key, value in attrs.items():
                f.attrs[key] = value
            for stage, (X, y) in data.items():
                g = f.require_group(f"data/{stage}")
                _dataset(g, "labels", np.asarray(y, dtype=np.int16))
                if X.shape[1] <= 16:
                    _dataset(g, "inputs", np.asarray(X, dtype=np.float32))
        with open(self.csv_path, "w", newline="") as fh:
            csv.writer(fh).writerow(self.header)

    def stage(self, epoch, result, order, store_predictions, angles):
        """One stage of one epoch (batch instance 0): metrics row, predictions, order and traces."""
        with h5py.File(self.h5_path, "a") as f:
            g = f.require_group(f"epochs/{epoch}/{result.stage}")
            if store_predictions:       # training orders are not kept: default_rng([seed, stage, epoch]) redraws them
                _dataset(g, "order", np.asarray(order, dtype=np.int32))
                _dataset(g, "predictions", result.predictions[0].astype(np.int8 if result.predictions.max() < 128
                                                                         else np.int16))
            for (pop, var), values in result.traces.items():
                tg = g.require_group(f"traces/{pop}")
                ds = _dataset(tg, var, values[:, 0, :].astype(np.float32))
                ds.attrs["samples"] = values.shape[0] // self.recs_per_sample
        row = [epoch, result.stage, f"{result.accuracy[0]:.6f}", f"{result.error[0]:.6f}"] \
            + [f"{a:.4f}" for a in angles] + [f"{result.seconds:.3f}"]
        with open(self.csv_path, "a", newline="") as fh:
            csv.writer(fh).writerow(row)

    def full_traces(self, epoch, stage, variables):
        """A writer for the complete traces of ``variables`` ((pop, var) pairs) in one stage:
        call it with each chunk, then ``.close()``; datasets grow along the first axis."""
        return _FullTraceWriter(self.h5_path, f"epochs/{epoch}/{stage}/full_traces", set(variables))

    def weights(self, epoch, weights):
        with h5py.File(self.h5_path, "a") as f:
            g = f.require_group(f"epochs/{epoch}/weights")
            for name, w in weights.items():
                _dataset(g, name, np.asarray(w, dtype=np.float32))


class _FullTraceWriter:
    def __init__(self, path, group, variables):
        self.path, self.group, self.variables = path, group, variables
        self.file = None

    def __call__(self, first_sample, chunk):
        if self.file is None:
            self.file = h5py.File(self.path, "a")
            if self.group in self.file:
                del self.file[self.group]
        g = self.file.require_group(self.group)
        for (pop, var), values in chunk.items():
            if (pop, var) not in self.variables:
                continue
            values = np.asarray(values[:, 0, :], dtype=np.float32)
            name = f"{pop}/{var}"
            if name not in g:
                g.create_dataset(name, data=values, maxshape=(None, values.shape[1]),
                                 chunks=(max(1, min(4096, 262144 // max(1, values.shape[1]))), values.shape[1]),
                                 **COMPRESSION)
            else:
                ds = g[name]
                ds.resize(ds.shape[0] + values.shape[0], axis=0)
                ds[-values.shape[0]:] = values

    def close(self):
        if self.file is not None:
            self.file.close()
            self.file = None
