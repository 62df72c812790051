"""Input models that play data sets into a network from inside the simulation loop."""
from neurogen import create_neuron_model


def rate_player():
    """Rate player: presents one sample per ``steps_per_sample`` steps (spec microcircuit 4.4).

    One neuron per input dimension (or class, for a supervisor). Extra global parameters:
    ``data`` (n_total x num_neurons values, row-major, every sample of every stage) and ``order``
    (num_batch x n_samples row indices into ``data``: the shuffled presentation order of the current
    stage, one row per batch instance). Per step::

        r_last <- r
        at s = 0 (first step of a window): sample_value <- data[order[batch, k], id]; k <- k + 1 (wraps)
        target = base_rate while s < mute_steps (teacher muted at pattern onset), else sample_value
        r <- r_last + (dt / tau) (target - r_last)          (tau = dt: switches in one step)
        s <- (s + 1) mod steps_per_sample

    Parameters: steps_per_sample, tau (ms), mute_steps (reference ``out_lag``/dt; 0), base_rate,
    n_samples (dynamic: length of the current order rows). Variables: r, r_last, sample_value, s (step in
    window), k (position in the order).

    Differences from the reference player (spec 11, quirk 8): ``mute_steps`` is honoured and the
    position wraps inside bounds. Both are identical to the reference at ``out_lag = 0``.
    """
    return create_neuron_model(
        "rate_player",
        params=["steps_per_sample", "tau", "mute_steps", "base_rate", "n_samples"],
        derived_params=[("k_tau", lambda p, dt: dt / p["tau"])],
        vars=[("r", "scalar"), ("r_last", "scalar"), ("sample_value", "scalar"), ("s", "int"), ("k", "int")],
        extra_global_params=[("data", "scalar*"), ("order", "int*")],
        sim_code="""
    r_last = r;
    if (s == 0) {
        if (k >= (int)n_samples) {
            k = 0;
        }
        sample_value = data[order[batch * (int)n_samples + k] * num_neurons + id];
        k += 1;
    }
    const scalar target = (s < (int)mute_steps) ? base_rate : sample_value;
    r = r_last + k_tau * (target - r_last);
    s = (s + 1 == (int)steps_per_sample) ? 0 : s + 1;
    """)
