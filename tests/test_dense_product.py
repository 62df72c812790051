"""The lowered dense product (``addToPost(g * x_pre)`` -> register-blocked / BLAS product).

Checked against a NumPy product and against the same synapses written so that the pattern is not
recognised (plain per-synapse loop), over awkward sizes (fewer columns than a SIMD vector, not a
multiple of the tile, one row block or four), batch sizes, shared and per-batch weights; and for
bit-identical results across thread counts and between a batch instance and a batch-1 model.
"""
import numpy as np
import pytest

from neurogen import GeNNModel, VarAccess, VarAccessMode, create_neuron_model, create_weight_update_model, init_weight_update

SOURCE = create_neuron_model("source", vars=[("x", "scalar", VarAccess.READ_ONLY_DUPLICATE)])
SINK = create_neuron_model("sink", vars=[("I", "scalar")], sim_code="I = Isyn;")


def wu(access, lowered):
    code = "addToPost(g * x_pre);" if lowered else "addToPost(x_pre * g + 0.0);"
    return create_weight_update_model(f"prod_{access.name}_{lowered}", vars=[("g", "scalar", access)],
                                      pre_neuron_var_refs=[("x_pre", "scalar", VarAccessMode.READ_ONLY)],
                                      synapse_dynamics_code=code)


def run(npre, npost, batch, lowered=True, batched_g=False, threads=1, use_blas=None, precision="double", seed=3):
    rng = np.random.default_rng(seed)
    g = rng.normal(0, 1, (batch, npre * npost) if batched_g else npre * npost)
    x = rng.uniform(-1, 1, (batch, npre))   # drawn after g: row 0 is the same for every batch size
    m = GeNNModel(precision, f"prod_{npre}_{npost}_{batch}", num_threads=threads, use_blas=use_blas)
    m.batch_size = batch
    src = m.add_neuron_population("src", npre, SOURCE, {}, {"x": x if batch > 1 else x[0]})
    dst = m.add_neuron_population("dst", npost, SINK, {}, {"I": 0.0})
    access = VarAccess.READ_ONLY_DUPLICATE if batched_g else VarAccess.READ_ONLY
    m.add_synapse_population("syn", "DENSE", src, dst, init_weight_update(wu(access, lowered), {}, {"g": g},
                                                                          pre_var_refs={"x_pre": "x"}), "DeltaCurr")
    m.build()
    m.load()
    m.run(2)
    dst.vars["I"].pull_from_device()
    got = dst.vars["I"].values.reshape(batch, npost)
    G = g.reshape((batch if batched_g else 1), npre, npost)
    expected = np.einsum("bi,bij->bj", x, np.broadcast_to(G, (batch, npre, npost)))
    return got, expected, m


SIZES = [(3, 5), (7, 16), (20, 20), (64, 100), (130, 127), (600, 500), (520, 9)]


@pytest.mark.parametrize("npre,npost", SIZES)
@pytest.mark.parametrize("batch", [1, 3, 5])
def test_product_matches_numpy_and_plain_loop(npre, npost, batch):
    got, expected, _ = run(npre, npost, batch)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * npre)   # float64: summation order only
    plain, _, m = run(npre, npost, batch, lowered=False)
    assert "ng_acc" not in m._backend.source          # not the register-blocked product
    np.testing.assert_allclose(got, plain, rtol=1e-12, atol=1e-12 * npre)


@pytest.mark.parametrize("npre,npost", [(64, 100), (600, 500)])
def test_product_with_per_batch_weights(npre, npost):
    got, expected, _ = run(npre, npost, 3, batched_g=True)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * npre)


@pytest.mark.parametrize("npre,npost,batch", [(600, 500, 1), (600, 500, 4), (130, 127, 3)])
def test_product_bitwise_across_threads_and_batch(npre, npost, batch):
    one, _, _ = run(npre, npost, batch, threads=1)
    two, _, _ = run(npre, npost, batch, threads=2)
    np.testing.assert_array_equal(one, two)
    single, _, _ = run(npre, npost, 1)
    np.testing.assert_array_equal(one[0], single[0])


@pytest.mark.parametrize("use_blas", [True, False])
def test_blas_and_generated_product_agree(use_blas):
    got, expected, m = run(600, 500, 4, use_blas=use_blas, precision="float")
    assert ("ng_gemm(" in m._backend.source) == use_blas
    # float32 sums of 600 products in different orders: capped relative tolerance
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-5 * np.abs(expected).max())
