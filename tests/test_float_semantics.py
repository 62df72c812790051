"""Floating-point semantics the generated code must keep while being fast: fmax / fmin (inlined as
selects, not libm calls) with C99's NaN rule, and the ``flush_denormals`` preference (off: IEEE
subnormals as NumPy; on: flushed to zero, with the caller's mode restored after every run)."""
import os

import numpy as np
import pytest

from neurogen import GeNNModel, create_neuron_model

minmax = create_neuron_model(
    "minmax",
    vars=[("a", "scalar"), ("b", "scalar"), ("hi", "scalar"), ("lo", "scalar"), ("clip", "scalar")],
    sim_code="""
    hi = fmax(a, b);
    lo = fmin(a, b);
    clip = fmax(0.0, 1.0 - fabs(a));
    """)


@pytest.mark.parametrize("precision", ["float", "double"])
def test_fmax_fmin_follow_c99_including_nan(precision):
    dtype = np.float32 if precision == "float" else np.float64
    a = np.array([1.0, -2.0, np.nan, 3.0, np.nan, -0.5, np.inf, -np.inf, 0.25, 5.0], dtype)
    b = np.array([2.0, -3.0, 4.0, np.nan, np.nan, -0.5, 1.0, 0.0, -7.0, 5.0], dtype)
    m = GeNNModel(precision, f"minmax_{precision}")
    pop = m.add_neuron_population("p", len(a), minmax, {},
                                  {"a": a, "b": b, "hi": 0.0, "lo": 0.0, "clip": 0.0})
    m.build()
    m.load()
    m.step_time()
    for v in ("hi", "lo", "clip"):
        pop.vars[v].pull_from_device()
    np.testing.assert_array_equal(pop.vars["hi"].values, np.fmax(a, b))
    np.testing.assert_array_equal(pop.vars["lo"].values, np.fmin(a, b))
    np.testing.assert_array_equal(pop.vars["clip"].values,
                                  np.fmax(dtype(0.0), dtype(1.0) - np.abs(a)))


@pytest.mark.skipif(os.environ.get("NEUROGEN_BACKEND") == "cuda", reason="a CPU backend preference")
def test_fmax_in_a_neuron_loop_is_not_a_library_call():
    """The reason for the inline select: with a libm call GCC kept the whole element loop scalar."""
    m = GeNNModel("float", "minmax_src")
    m.add_neuron_population("p", 8, minmax, {}, {"a": 0.0, "b": 0.0, "hi": 0.0, "lo": 0.0, "clip": 0.0})
    m.build()
    body = m._backend.source.split("ng_neuron_p_body")[1]
    assert "fmax(" in body                      # the user's call, now the prelude's type-generic macro
    assert "#define fmax(a, b) _Generic" in m._backend.source


decay = create_neuron_model(
    "decay", params=["k"], vars=[("x", "scalar")], sim_code="x *= k;")


def _decayed(flush, steps):
    m = GeNNModel("float", f"decay_{int(flush)}", flush_denormals=flush)
    pop = m.add_neuron_population("p", 4, decay, {"k": 0.5}, {"x": 1.0})
    m.build()
    m.load()
    m.run(steps)
    pop.vars["x"].pull_from_device()
    return pop.vars["x"].values.copy()


@pytest.mark.skipif(os.environ.get("NEUROGEN_BACKEND") == "cuda", reason="a CPU backend preference")
def test_flush_denormals_off_keeps_ieee_subnormals_like_numpy():
    # 0.5^130 = 7.3e-40 lies below float32's smallest normal (1.2e-38)
    expected = np.float32(1.0)
    for _ in range(130):
        expected = np.float32(expected * np.float32(0.5))
    assert 0 < expected < np.finfo(np.float32).tiny
    np.testing.assert_array_equal(_decayed(False, 130), np.full(4, expected, np.float32))


@pytest.mark.skipif(os.environ.get("NEUROGEN_BACKEND") == "cuda", reason="a CPU backend preference")
def test_flush_denormals_on_flushes_and_restores_the_callers_mode():
    x = _decayed(True, 130)
    np.testing.assert_array_equal(x, np.zeros(4, np.float32))
    # normal numbers are untouched
    np.testing.assert_array_equal(_decayed(True, 100), np.full(4, np.float32(0.5) ** 100, np.float32))
    # the run restored the caller's floating-point mode: NumPy still produces subnormals
    tiny = np.finfo(np.float32).tiny
    assert np.float32(tiny) / np.float32(4.0) > 0
