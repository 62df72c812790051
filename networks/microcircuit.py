"""Dendritic cortical microcircuits of any depth with Latent Equilibrium, learning with PAL, feedback
alignment (FA) or backprop-like transposed feedback (BP), built as one neurogen model.

Layers for ``dims = [n0, ..., nL]``: input players (level 0), hidden levels 1..L-1 each with n_l
pyramids and n_{l+1} interneurons, output (level L), supervisor players (n_L). Connections (spec
``microcircuit_le_pal.md`` section 5), all dense and continuous unless stated:

===========  ===========================================  ===================  ======================
name         from -> to                                   into                 plasticity
===========  ===========================================  ===================  ======================
``up{l}``    level l-1 rates -> level l (l = 1..L)         basal ``I_up``       forward rule, eta.up[l-1]
``fb{l}``    level l+1 rates -> hidden pyramids l (B)      apical ``I_down``    PAL eta.down[l] or static
``ip{l}``    hidden pyramids l -> interneurons l           ``I_dend``           rate rule, eta.ip[l-1]
``pi{l}``    interneurons l -> hidden pyramids l           apical ``I_inter``   apical rule, eta.pi[l-1]
``fbi{l}``   level l+1 u_hat -> interneurons l, 1:1, g=1   ``I_down``           static
``sup``      supervisor -> output, 1:1, g=1                ``I_target``         gated by learning_on
``lab``      supervisor -> output, 1:1, g=1                ``I_label``          readout only (error)
===========  ===========================================  ===================  ======================

Several seeds run as one batched simulation (``seeds=[...]``): weights and states are per batch
instance (GeNN 5 READ_WRITE duplication), each instance online with batch size 1. The data and
the code are shared. Noise streams are keyed by the model seed and the batch slot.

This module builds and drives the model; it knows nothing of files or configs (DESIGN.md 1).
"""
from dataclasses import dataclass, field
import time

import numpy as np

from neurogen import GeNNModel, SynapseMatrixType, create_var_ref, init_postsynaptic, init_sparse_connectivity, \
    init_weight_update
from genn_models import dendritic
from genn_models.activations import ACTIVATIONS
from genn_models.inputs import rate_player

STAGES = ("training", "validation", "testing")

DEFAULTS = {
    "activation_template": "sigmoid", "threshold": 15.0, "alpha": 1e-6, "bias": {"on": False, "val": 0.0},
    "gl": 0.03, "gb": 0.1, "ga": 0.06, "gd": 0.1, "gsom": 0.06, "gtar": 0.06, "highpass_tau": 0.1,
    "init_weights": {"down": 1.0, "ip": 0.1, "pi": 1.0, "up": 0.1}, "le_active": 1, "learning_lag": 0,
    "noise_sig": 0.0, "noise_tau": 0.1, "out_lag": 0.0, "reinforce_self_predict": False,
    "set_wBackw_to_wTransp": False, "start_in_self_predict": True, "t_pattern": 1.0, "tau_0": 0.01,
    "tau_w_ff": 100.0, "tau_w_ip": 0.01, "tau_w_pi": 0.01, "debug_mode": False,
}


class MicrocircuitError(ValueError):
    """A network description that cannot be built (one clear sentence)."""


@dataclass
class StageResult:
    """What one pass over a data split produced (arrays have a leading batch axis)."""
    stage: str
    predictions: np.ndarray          # (batch, n) predicted class per presented sample
    labels: np.ndarray               # (batch, n) true class per presented sample
    accuracy: np.ndarray             # (batch,)
    error: np.ndarray                # (batch,) RMS of (u_hat_out - r_sup) over the readout records
    seconds: float
    steps: int
    traces: dict = field(default_factory=dict)   # (pop, var) -> (rows, batch, n), first samples only


def _uniform_bounds(spec):
    if isinstance(spec, (list, tuple)):
        return float(spec[0]), float(spec[1])
    return -float(spec), float(spec)


class Microcircuit:
    """A dendritic microcircuit network on neurogen.

    Parameters
    ----------
    dims : list of int, at least [n_in, n_hidden, n_out]
    params : dict with the network keys of the spec (section 9); missing keys take the shipped values
    data : dict stage -> (X (n, n_in) rates, labels (n,) ints); every stage that will be run
    seeds : list of int, one batch instance per seed (weights drawn from ``RandomState(seed)`` in
        the reference order: forward, B, lateral); the first seed also keys the OU noise
    dt, steps_per_sample, recs_per_sample, ulow, uhigh : protocol (spec 7, 8)
    precision : "float" | "double";  backend : neurogen backend name or None;  num_threads : int
    trace_vars : list of (population, variable) recorded every rec_every steps for the first
        ``trace_samples`` samples of every stage (population names: see :meth:`population_names`)
    chunk_samples : samples per native call (bounds recording memory; progress callbacks per chunk)
    model_name : name of the generated model;  noise_seed : model seed keying the OU noise (default:
        the first seed);  weights : initial weights ({name: (n_pre, n_post)} for every batch instance,
        or one such dict per instance) instead of the seeded draw
    """

    def __init__(self, dims, params, data, seeds=(123456,), *, dt=0.01, steps_per_sample=100,
                 recs_per_sample=5, ulow=0.1, uhigh=1.0, precision="float", backend=None, num_threads=1,
                 trace_vars=(), trace_samples=0, chunk_samples=200, model_name="microcircuit", noise_seed=None,
                 weights=None):
        self.dims = [int(d) for d in dims]
        if len(self.dims) < 3 or min(self.dims) < 1:
            raise MicrocircuitError(f"dims must list at least three positive layer sizes (input, hidden, output), "
                                    f"got {list(dims)}")
        self.p = {**DEFAULTS, **params}
        self.L = len(self.dims) - 1
        self._check_params()
        self.seeds = [int(s) for s in seeds]
        self.batch = len(self.seeds)
        self.dt = float(dt)
        self.steps_per_sample = int(steps_per_sample)
        self.recs_per_sample = int(recs_per_sample)
        if self.steps_per_sample % self.recs_per_sample:
            raise MicrocircuitError(f"recs_per_sample ({recs_per_sample}) must divide the {steps_per_sample} "
                                    "steps of a sample")
        self.rec_every = self.steps_per_sample // self.recs_per_sample
        self.ulow, self.uhigh = float(ulow), float(uhigh)
        self.trace_vars = [tuple(tv) for tv in trace_vars]
        self.trace_samples = int(trace_samples)
        self.chunk_samples = max(1, int(chunk_samples), self.trace_samples)
        self._load_data(data)
        self.model = GeNNModel(precision, model_name, backend=backend, num_threads=num_threads)
        self.model.dt = self.dt
        self.model.batch_size = self.batch
        self.model.seed = int(self.seeds[0] if noise_seed is None else noise_seed)
        self._build()
        # the players' data (and a first order) must exist before load() allocates them
        self.input.extra_global_params["data"].set_init_values(self._inputs)
        self.supervisor.extra_global_params["data"].set_init_values(self._targets)
        for pop in (self.input, self.supervisor):
            pop.extra_global_params["order"].set_init_values(np.zeros(self.batch, dtype=np.int32))
        self.model.build()
        self.model.load(num_recording_timesteps=self.chunk_samples * self.steps_per_sample)
        self._init_state(weights)

    # ------------------------------------------------------------------ description
    def _eta(self, key, index):
        values = list(self.p["eta"].get(key, []))
        return float(values[index]) if index < len(values) else 0.0

    def _check_params(self):
        p = self.p
        if p["activation_template"] not in ACTIVATIONS:
            raise MicrocircuitError(f"activation_template must be one of {', '.join(ACTIVATIONS)}, "
                                    f"got {p['activation_template']!r}")
        if p.get("bias", {}).get("on", False):
            raise MicrocircuitError("bias.on: true is not supported yet (every shipped config has it off; "
                                    "the mirrored yin-yang inputs make a bias unnecessary)")
        if p.get("learning_lag", 0):
            raise MicrocircuitError("learning_lag > 0 (settling before plasticity) is not implemented")
        for key in ("up", "down"):
            if len(p["eta"].get(key, [])) < self.L:
                raise MicrocircuitError(f"eta.{key} needs {self.L} entries for dims {self.dims}, "
                                        f"got {p['eta'].get(key)}")
        for key in ("gl", "gb", "ga", "gd", "gsom", "gtar", "highpass_tau", "noise_tau", "tau_0",
                    "tau_w_ff", "tau_w_ip", "tau_w_pi"):
            if not float(p[key]) > 0:
                raise MicrocircuitError(f"{key} must be positive, got {p[key]!r}")

    @property
    def pal_active(self):
        """True when some top-down weights learn (then W_PI learns too, to keep cancelling B)."""
        return any(self._eta("down", l) != 0 for l in range(1, self.L))

    def population_names(self):
        names = ["input"] + [f"pyr{l}" for l in range(1, self.L)] + [f"int{l}" for l in range(1, self.L)]
        return names + ["output", "supervisor"]

    def _level_pop(self, level):
        if level == 0:
            return self.input
        if level == self.L:
            return self.output
        return self.pyr[level]

    def _load_data(self, data):
        blocks, self.stage_index = [], {}
        start = 0
        for stage, (X, y) in data.items():
            X = np.asarray(X, dtype=np.float64)
            y = np.asarray(y, dtype=np.int64)
            if X.ndim != 2 or X.shape[1] != self.dims[0]:
                raise MicrocircuitError(f"{stage} inputs have shape {X.shape}; the network needs "
                                        f"(n, {self.dims[0]})")
            if y.shape != (X.shape[0],) or (y.size and (y.min() < 0 or y.max() >= self.dims[-1])):
                raise MicrocircuitError(f"{stage} labels must be {X.shape[0]} integers in [0, {self.dims[-1]})")
            self.stage_index[stage] = (start, X.shape[0], y)
            blocks.append(X)
            start += X.shape[0]
        if not blocks:
            raise MicrocircuitError("no data: give at least one stage as data={'training': (X, y), ...}")
        self._inputs = np.concatenate(blocks)
        labels = np.concatenate([self.stage_index[s][2] for s in self.stage_index])
        self._targets = np.full((labels.size, self.dims[-1]), self.ulow)
        self._targets[np.arange(labels.size), labels] = self.uhigh

    def _build(self):
        m, p, d, L = self.model, self.p, self.dims, self.L
        act = p["activation_template"]
        le = 1.0 if p["le_active"] else 0.0
        th = float(p["threshold"])
        player = rate_player()
        sps = float(self.steps_per_sample)
        mute = float(round(float(p["out_lag"]) / self.dt))
        self.input = m.add_neuron_population(
            "input", d[0], player, {"steps_per_sample": sps, "tau": p["tau_0"], "mute_steps": 0.0,
                                    "base_rate": 0.0, "n_samples": 1.0},
            {"r": 0.0, "r_last": 0.0, "sample_value": 0.0, "s": 0, "k": 0})
        self.supervisor = m.add_neuron_population(
            "supervisor", d[L], player, {"steps_per_sample": sps, "tau": p["tau_0"], "mute_steps": mute,
                                         "base_rate": self.ulow, "n_samples": 1.0},
            {"r": 0.0, "r_last": 0.0, "sample_value": 0.0, "s": 0, "k": 0})
        for pop in (self.input, self.supervisor):
            pop.set_param_dynamic("n_samples")
        noisy = float(p["noise_sig"]) > 0
        pyr_model = dendritic.pyramidal_neuron(act, noise=noisy)
        int_model = dendritic.interneuron(act)
        self.pyr, self.inter = {}, {}
        for l in range(1, L):
            self.pyr[l] = m.add_neuron_population(
                f"pyr{l}", d[l], pyr_model,
                {"gl": p["gl"], "gb": p["gb"], "ga": p["ga"], "sigma": p["noise_sig"], "tau_xi": p["noise_tau"],
                 "tau_hp": p["highpass_tau"], "le": le, "threshold": th},
                {v: 0.0 for v in ("V", "v_B", "v_A", "xi", "u_hat", "r", "r_last", "r_B", "h")})
            self.inter[l] = m.add_neuron_population(
                f"int{l}", d[l + 1], int_model,
                {"gl": p["gl"], "gd": p["gd"], "gsom": p["gsom"], "le": le, "threshold": th},
                {v: 0.0 for v in ("V", "v_D", "v_down", "u_hat", "r", "r_last", "r_D")})
        out_model = dendritic.output_neuron(act)
        self.output = m.add_neuron_population(
            "output", d[L], out_model,
            {"gl": p["gl"], "gb": p["gb"], "gtar": p["gtar"], "tau_hp": p["highpass_tau"], "le": le,
             "threshold": th, "learning_on": 0.0, "steps_per_sample": sps, "rec_every": float(self.rec_every)},
            {**{v: 0.0 for v in ("V", "v_B", "v_T", "u_hat", "r", "r_last", "r_B", "h", "u_acc", "e_acc")}, "s": 0})
        self.output.set_param_dynamic("learning_on")

        self.syn = {}
        self.plastic = []                      # synapse groups whose learning_on follows the stage
        forward = dendritic.dendritic_prediction_rule("rate")
        apical = dendritic.dendritic_prediction_rule("apical")
        static = dendritic.static_continuous()
        pal = dendritic.pal_feedback_rule()
        # build order of the spec (6): forward, feedback (B and fbi), lateral, teacher
        for l in range(1, L + 1):
            pre, post = self._level_pop(l - 1), self._level_pop(l)
            eta = self._eta("up", l - 1)
            self._dense(f"up{l}", pre, post, "I_up", forward if eta else static,
                        {"eta": eta, "tau_w": p["tau_w_ff"], "learning_on": 0.0} if eta else {},
                        post_refs={"r_post": "r", "rB_post": "r_B"} if eta else None, pre_last=bool(eta))
        one_to_one = dendritic.static_continuous()
        for l in range(1, L):
            upper = self._level_pop(l + 1)
            eta = self._eta("down", l)
            if eta:
                self._dense(f"fb{l}", upper, self.pyr[l], "I_down", pal,
                            {"eta": eta, "alpha": p["alpha"], "learning_on": 0.0},
                            pre_refs={"r_pre": "r", "h_pre": "h"}, post_refs={"xi_post": "xi"})
            else:
                self._dense(f"fb{l}", upper, self.pyr[l], "I_down", static, {})
            self._one_to_one(f"fbi{l}", upper, self.inter[l], "I_down", one_to_one, {}, "u_hat")
        for l in range(1, L):
            eta_ip = self._eta("ip", l - 1)
            self._dense(f"ip{l}", self.pyr[l], self.inter[l], "I_dend", forward if eta_ip else static,
                        {"eta": eta_ip, "tau_w": p["tau_w_ip"], "learning_on": 0.0} if eta_ip else {},
                        post_refs={"r_post": "r", "rB_post": "r_D"} if eta_ip else None, pre_last=bool(eta_ip))
            eta_pi = self._eta("pi", l - 1)
            if p["start_in_self_predict"] and not self.pal_active:
                eta_pi = 0.0                    # spec 5.6: W_PI frozen in FA and noise-control runs
            self._dense(f"pi{l}", self.inter[l], self.pyr[l], "I_inter", apical if eta_pi else static,
                        {"eta": eta_pi, "tau_w": p["tau_w_pi"], "learning_on": 0.0} if eta_pi else {},
                        post_refs={"vA_post": "v_A"} if eta_pi else None, pre_last=bool(eta_pi))
        gated = dendritic.one_to_one_gated()
        self._one_to_one("sup", self.supervisor, self.output, "I_target", gated, {"learning_on": 0.0}, "r")
        self.plastic.append(self.syn["sup"])
        # the label reaches the output's error readout in every stage; it never nudges
        self._one_to_one("lab", self.supervisor, self.output, "I_label", one_to_one, {}, "r")
        self.output.record_var("u_acc", self.steps_per_sample)
        self.output.record_var("e_acc", self.steps_per_sample)
        for pop_name, var in self.trace_vars:
            pop = self._pop_by_name(pop_name)
            if var not in pop.vars:
                raise MicrocircuitError(f"cannot trace '{var}' of population '{pop_name}' "
                                        f"(variables: {', '.join(pop.vars)})")
            if var in pop.var_recording:
                raise MicrocircuitError(f"'{var}' of population '{pop_name}' is traced twice")
            pop.record_var(var, self.rec_every)

    def _dense(self, name, pre, post, target_var, model, params, pre_refs=None, post_refs=None, pre_last=False):
        pre_refs = dict(pre_refs or {"r_pre": "r"})
        if pre_last:
            pre_refs["r_pre_last"] = "r_last"
        sg = self.model.add_synapse_population(
            name, SynapseMatrixType.DENSE, pre, post,
            init_weight_update(model, params, {v.name: 0.0 for v in model.vars},
                               pre_var_refs={k: create_var_ref(pre, v) for k, v in pre_refs.items()},
                               post_var_refs={k: create_var_ref(post, v) for k, v in (post_refs or {}).items()}),
            init_postsynaptic("DeltaCurr"))
        sg.post_target_var = target_var
        if "learning_on" in params:
            sg.set_param_dynamic("learning_on")
            self.plastic.append(sg)
        self.syn[name] = sg
        return sg

    def _one_to_one(self, name, pre, post, target_var, model, params, pre_var):
        sg = self.model.add_synapse_population(
            name, SynapseMatrixType.SPARSE, pre, post,
            init_weight_update(model, params, {"g": 1.0}, pre_var_refs={"r_pre": create_var_ref(pre, pre_var)}),
            init_postsynaptic("DeltaCurr"), init_sparse_connectivity("OneToOne"))
        sg.post_target_var = target_var
        if "learning_on" in params:
            sg.set_param_dynamic("learning_on")
        self.syn[name] = sg
        return sg

    def _pop_by_name(self, name):
        pops = self.model.neuron_populations
        if name not in pops:
            raise MicrocircuitError(f"unknown population '{name}' (populations: {', '.join(pops)})")
        return pops[name]

    # ------------------------------------------------------------------ state
    def _init_state(self, weights):
        self.model_weights_names = [n for n in self.syn if n.startswith(("up", "fb", "ip", "pi"))
                                    and not n.startswith("fbi")]
        if weights is None:
            weights = [self.initial_weights(seed) for seed in self.seeds]
        elif isinstance(weights, dict):
            weights = [weights] * self.batch
        for b, w in enumerate(weights):
            self.set_weights(w, b)
        if self.p["start_in_self_predict"]:
            self.check_self_predicting()

    def initial_weights(self, seed):
        """Initial weights for one seed, drawn from ``RandomState(seed)`` in the reference order:
        forward weights (level order), then B, then lateral weights unless self-predicting (spec 5.6)."""
        rs = np.random.RandomState(seed)
        d, L, iw = self.dims, self.L, self.p["init_weights"]
        w = {}
        for l in range(1, L + 1):
            w[f"up{l}"] = rs.uniform(*_uniform_bounds(iw["up"]), size=(d[l - 1], d[l]))
        for l in range(1, L):
            w[f"fb{l}"] = rs.uniform(*_uniform_bounds(iw["down"]), size=(d[l + 1], d[l]))
        for l in range(1, L):
            if self.p["start_in_self_predict"]:
                w[f"ip{l}"] = w[f"up{l + 1}"].copy()
                w[f"pi{l}"] = -w[f"fb{l}"].copy()
            else:
                w[f"ip{l}"] = rs.uniform(*_uniform_bounds(iw["ip"]), size=(d[l], d[l + 1]))
                w[f"pi{l}"] = rs.uniform(*_uniform_bounds(iw["pi"]), size=(d[l + 1], d[l]))
        return w

    def _var_rows(self, view, b):
        return view if self.batch == 1 else view[b]

    def get_weights(self, batch=0):
        """Weights of one batch instance as (n_pre, n_post) arrays, by connection name."""
        out = {}
        for name in self.model_weights_names:
            sg = self.syn[name]
            g = sg.vars["g"]
            g.pull_from_device()
            out[name] = np.array(self._var_rows(g.view, batch)).reshape(sg.src.num_neurons, sg.trg.num_neurons)
        return out

    def set_weights(self, weights, batch=0):
        for name, value in weights.items():
            sg = self.syn[name]
            value = np.asarray(value)
            if value.shape != (sg.src.num_neurons, sg.trg.num_neurons):
                raise MicrocircuitError(f"weights '{name}' must have shape "
                                        f"({sg.src.num_neurons}, {sg.trg.num_neurons}), got {value.shape}")
            g = sg.vars["g"]
            self._var_rows(g.view, batch)[...] = value.ravel()
            g.push_to_device()

    def check_self_predicting(self):
        """Real check of the self-predicting start (reference quirk 10): W_IP = W_{l+1}, W_PI = -B."""
        for b in range(self.batch):
            w = self.get_weights(b)
            for l in range(1, self.L):
                if not (np.array_equal(w[f"ip{l}"], w[f"up{l + 1}"]) and np.array_equal(w[f"pi{l}"], -w[f"fb{l}"])):
                    raise MicrocircuitError(f"batch {b}: layer {l} does not start self-predicting "
                                            "(W_IP must equal W_up of the next level and W_PI must equal -B)")

    def alignment_angles(self):
        """Angle in degrees between W_{l+1}^T and B_l for every hidden level: (batch, L-1)."""
        out = np.zeros((self.batch, self.L - 1))
        for b in range(self.batch):
            w = self.get_weights(b)
            for l in range(1, self.L):
                # A = W_{l+1}^T and B_l as (n_l, n_{l+1}) matrices: the stored up{l+1} is (pre n_l, post
                # n_{l+1}) = W^T already; the stored fb{l} is (pre n_{l+1}, post n_l) = B^T
                a, bb = w[f"up{l + 1}"], w[f"fb{l}"].T
                cos = np.sum(a * bb) / (np.linalg.norm(a) * np.linalg.norm(bb))
                out[b, l - 1] = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        return out

    def epoch_start(self):
        """Start-of-epoch hook: the BP baseline sets B <- W_{l+1}^T and W_PI <- -W_{l+1}^T (any depth)."""
        if not self.p["set_wBackw_to_wTransp"]:
            return
        for b in range(self.batch):
            w = self.get_weights(b)
            new = {}
            for l in range(1, self.L):
                # stored (pre, post): up{l+1} is (n_l, n_{l+1}), fb{l} and pi{l} are (n_{l+1}, n_l)
                new[f"fb{l}"] = w[f"up{l + 1}"].T.copy()
                new[f"pi{l}"] = -w[f"up{l + 1}"].T
            self.set_weights(new, b)

    def after_training(self):
        """End-of-training-epoch hook: ``reinforce_self_predict`` copies W_{l+1} into W_IP (any depth)."""
        if not self.p["reinforce_self_predict"]:
            return
        for b in range(self.batch):
            w = self.get_weights(b)
            self.set_weights({f"ip{l}": w[f"up{l + 1}"] for l in range(1, self.L)}, b)

    def _state_storages(self):
        for kind, groups in (("neuron", self.model.neuron_populations), ("synapse", self.model.synapse_populations)):
            for gname, group in groups.items():
                for vname, view in group.vars.items():
                    yield f"{kind}/{gname}/{vname}", view

    def get_state(self):
        """Every variable of every group plus the time step: what a checkpoint needs to continue
        bit-identically (inSyn is zero between steps; the OU noise is keyed by the time step)."""
        state = {}
        for key, view in self._state_storages():
            view.pull_from_device()
            state[key] = np.array(view.view)
        state["timestep"] = np.array(self.model.timestep, dtype=np.int64)
        return state

    def set_state(self, state):
        for key, view in self._state_storages():
            if key not in state:
                raise MicrocircuitError(f"checkpoint has no '{key}' (it was written by a different network)")
            if np.shape(state[key]) != view.view.shape:
                raise MicrocircuitError(f"checkpoint '{key}' has shape {np.shape(state[key])}, the network "
                                        f"needs {view.view.shape}")
            view.view[...] = state[key]
            view.push_to_device()
        self.model.timestep = int(state["timestep"])

    # ------------------------------------------------------------------ running
    def _set_learning(self, on):
        value = 1.0 if on else 0.0
        for sg in self.plastic:
            sg.set_dynamic_param_value("learning_on", value)
        self.output.set_dynamic_param_value("learning_on", value)

    def stage_order(self, stage, rngs):
        """Presentation order per batch instance: a permutation from each generator (or identity)."""
        n = self.stage_index[stage][1]
        if rngs is None:
            return np.tile(np.arange(n), (self.batch, 1))
        return np.stack([rng.permutation(n) for rng in rngs])

    def prepare_stage(self, stage, learning, order=None):
        """Point the players at ``stage`` in ``order`` ((batch, n) local indices; identity by default)
        and switch plasticity and teacher; the next step starts its first sample. Returns the order."""
        if stage not in self.stage_index:
            raise MicrocircuitError(f"no data for stage '{stage}' (stages: {', '.join(self.stage_index)})")
        start, n, labels = self.stage_index[stage]
        if order is None:
            order = self.stage_order(stage, None)
        order = np.asarray(order)
        if order.shape != (self.batch, n):
            raise MicrocircuitError(f"order for stage '{stage}' must have shape {(self.batch, n)}, got {order.shape}")
        if self.model.timestep % self.steps_per_sample:
            raise MicrocircuitError("a stage must start at a sample boundary")
        glob = (order + start).astype(np.int32)
        for pop in (self.input, self.supervisor):
            pop.extra_global_params["order"].set_init_values(glob)
            pop.set_dynamic_param_value("n_samples", float(n))
            pop.vars["k"].view[...] = 0
            pop.vars["k"].push_to_device()
        self._set_learning(learning)
        return order

    def run_stage(self, stage, learning, order=None, progress=None, on_chunk=None):
        """Present every sample of ``stage`` once (in ``order``, (batch, n) local indices) with
        plasticity and teacher on or off; return the readout (spec 7).

        ``progress(samples_done)`` is called after every chunk of ``chunk_samples`` samples;
        ``on_chunk(first_sample, {(pop, var): (rows, batch, n)})`` receives the traces of every
        chunk (full traces with memory bounded by the chunk)."""
        order = self.prepare_stage(stage, learning, order)
        _, n, labels = self.stage_index[stage]
        u_sum = np.empty((n, self.batch, self.dims[-1]))
        e_sum = np.empty((n, self.batch, self.dims[-1]))
        traces = {}
        t0 = time.perf_counter()
        done = 0
        while done < n:
            m = min(self.chunk_samples, n - done)
            self.model.run(m * self.steps_per_sample)
            self.model.pull_recording_buffers_from_device()
            _, u = self.output.var_recording_data("u_acc")
            _, e = self.output.var_recording_data("e_acc")
            u_sum[done:done + m] = u[-m:].reshape(m, self.batch, -1)
            e_sum[done:done + m] = e[-m:].reshape(m, self.batch, -1)
            if on_chunk is not None and self.trace_vars:
                rows = m * self.recs_per_sample
                chunk = {}
                for pop_name, var in self.trace_vars:
                    _, vals = self.model.neuron_populations[pop_name].var_recording_data(var)
                    chunk[(pop_name, var)] = vals[-rows:].reshape(rows, self.batch, -1)
                on_chunk(done, chunk)
            if done == 0 and self.trace_samples:
                rows = min(m, self.trace_samples) * self.recs_per_sample
                for pop_name, var in self.trace_vars:
                    _, vals = self.model.neuron_populations[pop_name].var_recording_data(var)
                    # the ring buffer may hold older rows: this chunk's records are its last m * recs rows
                    first = vals[len(vals) - m * self.recs_per_sample:]
                    traces[(pop_name, var)] = first[:rows].reshape(rows, self.batch, -1).copy()
            done += m
            if progress is not None:
                progress(done)
        seconds = time.perf_counter() - t0
        self._set_learning(False)
        predictions = np.argmax(u_sum, axis=2).T                     # (batch, n)
        true = labels[order]                                          # (batch, n)
        accuracy = np.mean(predictions == true, axis=1)
        n_rec = self.recs_per_sample - 1
        error = np.sqrt(e_sum.sum(axis=(0, 2)) / (n * n_rec * self.dims[-1]))
        return StageResult(stage, predictions, true, accuracy, error, seconds, n * self.steps_per_sample, traces)
