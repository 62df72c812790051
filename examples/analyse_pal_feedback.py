#!/usr/bin/env python3
"""What changes the top-down weights B in a PAL run: alignment learning or the weight decay?

    python examples/analyse_pal_feedback.py RUN_DIR [RUN_DIR ...] [--out OUTDIR]

For every stored epoch E of every run, with B_0 the initial feedback weights and W the forward
weights of the next level (stored every epoch in net_recordings.h5), it splits

    B_E = d_E * B_0 + B_learned,    d_E = (1 - dt * eta_B * alpha) ** (training steps so far)

(the decay alone would leave d_E * B_0) and reports the Frobenius norms of both parts, the angle of
B_E, of B_learned and of B_0 to W^T, and writes the per-epoch table as CSV/NPZ plus a plot
``pal_feedback.png``. If B_learned stays small and its angle is not small, the accuracy gain of PAL
over FA is not explained by B aligning to W^T but by the shrinking B (spec microcircuit_le_pal.md 10).
"""
import argparse
import csv
import os
import sys

import h5py
import numpy as np
import yaml


def angle(a, b):
    cos = np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def analyse(run_dir):
    meta, net = list(yaml.safe_load_all(open(os.path.join(run_dir, "config.yaml"))))
    eta_b = float(net["eta"]["down"][1])
    dt, alpha = float(meta["dt"]), float(net["alpha"])
    n_train = meta["sim_config"]["n_train"] * meta["sim_config"]["n_class"]
    steps_per_epoch = n_train * int(round(net["t_pattern"] / dt))
    rows = []
    with h5py.File(os.path.join(run_dir, "net_recordings.h5"), "r") as f:
        epochs = sorted(int(e) for e in f["epochs"] if "weights" in f[f"epochs/{e}"])
        b0 = f[f"epochs/{epochs[0]}/weights/fb1"][:].T.astype(np.float64)        # (n_hidden, n_out)
        for e in epochs:
            w = f[f"epochs/{e}/weights/up2"][:].astype(np.float64)               # W^T, (n_hidden, n_out)
            b = f[f"epochs/{e}/weights/fb1"][:].T.astype(np.float64)
            d = (1.0 - dt * eta_b * alpha) ** (e * steps_per_epoch)
            learned = b - d * b0
            rows.append({"epoch": e, "decay": d, "norm_B": np.linalg.norm(b), "norm_decayed_B0": np.linalg.norm(d * b0),
                         "norm_learned": np.linalg.norm(learned), "angle_B_W": angle(b, w),
                         "angle_learned_W": angle(learned, w) if e else float("nan"), "angle_B0_W": angle(b0, w)})
    return meta["name"], rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", default=None, help="folder for pal_feedback.csv/.npz/.png (default: the first run)")
    args = p.parse_args(argv)
    out = args.out or args.runs[0]
    os.makedirs(out, exist_ok=True)
    table = []
    for run in args.runs:
        try:
            name, rows = analyse(run)
        except (OSError, KeyError) as exc:
            print(f"error: {run}: {exc}", file=sys.stderr)
            sys.exit(2)
        for r in rows:
            table.append({"run": name, **r})
        last = rows[-1]
        print(f"{name}: epoch {last['epoch']}: |B| {last['norm_B']:.3f} = decay {last['decay']:.3f} x |B0| "
              f"({last['norm_decayed_B0']:.3f}) + learned part |{last['norm_learned']:.3f}|; angle(B, W^T) "
              f"{last['angle_B_W']:.1f} deg, angle(learned, W^T) {last['angle_learned_W']:.1f} deg, "
              f"angle(B0, W^T) {last['angle_B0_W']:.1f} deg")
    keys = list(table[0])
    with open(os.path.join(out, "pal_feedback.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, keys)
        w.writeheader()
        w.writerows(table)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for run in sorted({r["run"] for r in table}):
        rs = [r for r in table if r["run"] == run]
        ep = [r["epoch"] for r in rs]
        axes[0].plot(ep, [r["norm_decayed_B0"] for r in rs], "C0", lw=0.8)
        axes[0].plot(ep, [r["norm_learned"] for r in rs], "C3", lw=0.8)
        axes[1].plot(ep, [r["angle_B_W"] for r in rs], "C0", lw=0.8)
        axes[1].plot(ep, [r["angle_learned_W"] for r in rs], "C3", lw=0.8)
    axes[0].set(xlabel="epoch", ylabel="Frobenius norm", title="B = decay x B0 (blue) + learned part (red)")
    axes[1].set(xlabel="epoch", ylabel="angle to W^T (deg)", title="B (blue) and its learned part (red)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "pal_feedback.png"), dpi=120)
    print(f"wrote {os.path.join(out, 'pal_feedback.csv')} and pal_feedback.png")


if __name__ == "__main__":
    main()
