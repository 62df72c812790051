"""OpenMP threads must not leak side effects into the caller's process."""
import os

import pytest

from neurogen import GeNNModel


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs at least 2 CPUs in the affinity mask")
def test_threaded_model_leaves_the_callers_cpu_mask_alone():
    before = os.sched_getaffinity(0)
    m = GeNNModel("float", "affinity", num_threads=2)
    m.add_neuron_population("p", 5000, "Poisson", {"rate": 10.0}, {"timeStepToSpike": 0.0})
    m.build()
    m.load()
    m.run(20)
    m.step_time()
    assert os.sched_getaffinity(0) == before
