"""A worked example: a PyGeNN-5 script running on neurogen (only the import differs).

4,000 LIF neurons (80 % excitatory, 20 % inhibitory), 10 % random connectivity, exponential
currents; prints the firing rate and the simulation speed and saves a raster plot.

    python examples/lif_network.py [--steps 10000] [--threads 1] [--out raster.png]
"""
import argparse
import time

from neurogen import GeNNModel, init_postsynaptic, init_sparse_connectivity, init_var, init_weight_update


def build(num_threads=1, seed=1234):
    model = GeNNModel("float", "lif_example", num_threads=num_threads)
    model.dt = 0.1
    model.seed = seed
    lif = {"C": 1.0, "TauM": 20.0, "Vrest": -49.0, "Vreset": -60.0, "Vthresh": -50.0, "Ioffset": 0.0,
           "TauRefrac": 5.0}
    init = {"V": init_var("Uniform", {"min": -60.0, "max": -50.0}), "RefracTime": 0.0}
    exc = model.add_neuron_population("E", 3200, "LIF", lif, init)
    inh = model.add_neuron_population("I", 800, "LIF", lif, init)
    exc.spike_recording_enabled = inh.spike_recording_enabled = True
    conn = init_sparse_connectivity("FixedProbability", {"prob": 0.1})
    for src, weight, tau in ((exc, 0.0027, 5.0), (inh, -0.0405, 10.0)):
        for trg in (exc, inh):
            model.add_synapse_population(f"{src.name}{trg.name}", "SPARSE", src, trg,
                                         init_weight_update("StaticPulseConstantWeight", {"g": weight}),
                                         init_postsynaptic("ExpCurr", {"tau": tau}), conn)
    return model, exc, inh


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="lif_raster.png")
    args = parser.parse_args()
    model, exc, inh = build(args.threads)
    t0 = time.perf_counter()
    model.build()
    model.load(num_recording_timesteps=args.steps)
    t1 = time.perf_counter()
    model.run(args.steps)
    t2 = time.perf_counter()
    model.pull_recording_buffers_from_device()
    times, ids = exc.spike_recording_data[0]
    itimes, iids = inh.spike_recording_data[0]
    seconds = args.steps * model.dt / 1000.0
    rate = (len(times) + len(itimes)) / (4000 * seconds)
    print(f"build+load {t1 - t0:.2f} s; {args.steps} steps in {t2 - t1:.3f} s "
          f"({1e6 * (t2 - t1) / args.steps:.1f} us/step); mean rate {rate:.1f} Hz (seed {model.effective_seed})")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.scatter(times, ids, s=0.5, c="tab:blue", label="excitatory")
    ax.scatter(itimes, iids + 3200, s=0.5, c="tab:red", label="inhibitory")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    ax.set_xlim(0, args.steps * model.dt)
    ax.legend(loc="upper right", markerscale=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"raster plot written to {args.out}")


if __name__ == "__main__":
    main()
