"""Generator and compile-cache hygiene (testing_practices.md §9).

(a) hash-sensitivity table: which changes must (and must not) change the generated source and digest;
(b) an identical second build loads from the cache without running the compiler;
(c) several models in one process (identical code, identical population names) stay independent;
(d) concurrent builds of one new model into one fresh cache by 4 processes;
(e) build(path_to_model=DIR) writes DIR/<name>_CODE/.
"""
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import neurogen as ng
from neurogen import GeNNModel
from neurogen.backends.cpu import compiler as cpu_compiler

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers

@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh, private compile cache for one test (libraries compiled at -O0 for speed)."""
    d = tmp_path / "cache"
    monkeypatch.setenv("NEUROGEN_CACHE_DIR", str(d))
    monkeypatch.setenv("NEUROGEN_OPT", "-O0")
    return d


@pytest.fixture
def compiler_calls(monkeypatch):
    """Records every invocation of the C compiler that produces a library (``-o``)."""
    calls = []
    real_run = cpu_compiler.subprocess.run

    def spy(cmd, *args, **kwargs):
        if isinstance(cmd, (list, tuple)) and "-o" in cmd:
            calls.append(list(cmd))
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(cpu_compiler.subprocess, "run", spy)
    return calls


def integrator(var_type="scalar"):
    """Deterministic neuron: V += a each step (a is a parameter), spikes above 'thr' and resets to 0."""
    return ng.create_neuron_model(
        "Integrator", params=["a", "thr"], vars=[("V", var_type), ("n", "unsigned int")],
        sim_code="V += a;", threshold_condition_code="V >= thr", reset_code="V = 0.0;\nn++;")


BASE = dict(name="hashbase", a=0.25, thr=100.0, code="V += a;", var_type="scalar", size=8, batch=1,
            precision="float", dt=0.1, num_threads=1, V0=0.0, seed=0, dynamic_a=False, optimize=True,
            pop_name="p")


def make_model(**changes):
    c = {**BASE, **changes}
    nm = ng.create_neuron_model(
        "Integrator", params=["a", "thr"], vars=[("V", c["var_type"]), ("n", "unsigned int")],
        sim_code=c["code"], threshold_condition_code="V >= thr", reset_code="V = 0.0;\nn++;")
    m = GeNNModel(c["precision"], c["name"], num_threads=c["num_threads"], optimize_code=c["optimize"])
    m.dt = c["dt"]
    m.batch_size = c["batch"]
    m.seed = c["seed"]
    pop = m.add_neuron_population(c["pop_name"], c["size"], nm, {"a": c["a"], "thr": c["thr"]},
                                  {"V": c["V0"], "n": 0})
    if c["dynamic_a"]:
        pop.set_param_dynamic("a")
    return m


def build(m, **kw):
    m.build(**kw)
    return m._backend


def so_files(folder):
    return sorted(Path(folder).rglob("*.so"))


# --------------------------------------------------------------------------- (a) hash sensitivity

# change -> must the generated code (source and digest) change?
SENSITIVITY = [
    ("parameter value", dict(a=0.5), True),
    ("dynamic-parameter flag", dict(dynamic_a=True), True),
    ("code string", dict(code="V += 2.0 * a;"), True),
    ("var type", dict(var_type="double"), True),
    ("population size", dict(size=9), True),
    ("batch size", dict(batch=2), True),
    ("precision", dict(precision="double"), True),
    ("dt", dict(dt=0.05), True),
    ("num_threads", dict(num_threads=2), True),
    ("constant initial value", dict(V0=3.5), False),
    ("array initial value", dict(V0=np.arange(8.0)), False),
    ("seed", dict(seed=1234), False),
    ("model name", dict(name="hashbase_renamed"), False),
]


@pytest.fixture(scope="module")
def base_build(tmp_path_factory):
    d = tmp_path_factory.mktemp("hash_cache")
    old = {k: os.environ.get(k) for k in ("NEUROGEN_CACHE_DIR", "NEUROGEN_OPT")}
    os.environ["NEUROGEN_CACHE_DIR"] = str(d)
    os.environ["NEUROGEN_OPT"] = "-O0"
    try:
        be = build(make_model())
        yield be.source, be.digest, d
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("what, change, must_change", SENSITIVITY, ids=[s[0].replace(" ", "_") for s in SENSITIVITY])
def test_hash_sensitivity(base_build, monkeypatch, what, change, must_change):
    base_source, base_digest, d = base_build
    monkeypatch.setenv("NEUROGEN_CACHE_DIR", str(d))
    monkeypatch.setenv("NEUROGEN_OPT", "-O0")
    be = build(make_model(**change))
    if must_change:
        assert be.source != base_source, f"changing the {what} left the generated source unchanged"
        assert be.digest != base_digest, f"changing the {what} left the digest unchanged"
    else:
        assert be.source == base_source, f"changing the {what} changed the generated source"
        assert be.digest == base_digest, f"changing the {what} changed the digest (needless rebuild)"


def test_compile_flags_change_digest_but_not_source(cache, monkeypatch):
    """optimize_code only changes compiler flags: same generated source, different library."""
    monkeypatch.delenv("NEUROGEN_OPT")
    a = build(make_model(optimize=True))
    b = build(make_model(optimize=False))
    assert a.source == b.source
    assert a.digest != b.digest and a.lib_path != b.lib_path


def test_library_named_by_model_and_digest(cache):
    be = build(make_model(name="named_model"))
    lib = Path(be.lib_path)
    assert re.fullmatch(r"named_model_[0-9a-f]{16}\.so", lib.name), lib.name
    assert lib.name == f"named_model_{be.digest[:16]}.so"
    assert cache in lib.parents, f"{lib} is not inside NEUROGEN_CACHE_DIR={cache}"


def test_identical_models_generate_identical_source(cache):
    """Generation is deterministic: two fresh, identical models give byte-identical source."""
    a, b = build(make_model()), build(make_model())
    assert a.source == b.source and a.digest == b.digest


# --------------------------------------------------------------------------- (b) cache hits

def test_second_build_hits_cache_without_compiling(cache, compiler_calls):
    first = build(make_model(name="cached"))
    assert len(compiler_calls) == 1, "the first build of a new model must compile it"
    lib = Path(first.lib_path)
    mtime = lib.stat().st_mtime_ns
    n_files = len(list(cache.rglob("*")))

    t0 = time.perf_counter()
    second = build(make_model(name="cached"))
    elapsed = time.perf_counter() - t0

    assert len(compiler_calls) == 1, f"the compiler ran again: {compiler_calls[1:]}"
    assert Path(second.lib_path) == lib
    assert lib.stat().st_mtime_ns == mtime, "the cached library was rewritten"
    assert len(list(cache.rglob("*"))) == n_files, "the cached build wrote new files"
    assert elapsed < 0.5, f"cached build took {elapsed:.3f} s"


def test_cached_library_runs_like_fresh_one(cache):
    runs = []
    for _ in range(2):
        m = make_model(name="cached_run", V0=np.linspace(0.0, 1.0, 8))
        m.build()
        m.load()
        for _ in range(3):
            m.step_time()
        m.neuron_populations["p"].vars["V"].pull_from_device()
        runs.append(m.neuron_populations["p"].vars["V"].values)
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_allclose(runs[0], np.linspace(0.0, 1.0, 8) + 3 * 0.25, rtol=1e-6)


def test_always_rebuild_forces_compilation(cache, compiler_calls):
    lib = Path(build(make_model(name="forced")).lib_path)
    mtime = lib.stat().st_mtime_ns
    time.sleep(0.01)
    again = build(make_model(name="forced"), always_rebuild=True)
    assert len(compiler_calls) == 2, "always_rebuild=True did not run the compiler"
    assert Path(again.lib_path) == lib
    assert lib.stat().st_mtime_ns != mtime


def test_cache_shared_across_processes(cache):
    """A library compiled by this process is reused by a fresh interpreter (no compile there)."""
    lib = Path(build(make_model(name="xproc")).lib_path)
    mtime = lib.stat().st_mtime_ns
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from neurogen.backends.cpu import compiler
        import subprocess
        real = compiler.subprocess.run
        def spy(cmd, *a, **k):
            if "-o" in cmd:
                raise SystemExit("compiler invoked: " + " ".join(cmd))
            return real(cmd, *a, **k)
        compiler.subprocess.run = spy
        from test_build_cache import make_model
        m = make_model(name="xproc")
        m.build()
        print(m._backend.lib_path)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str(lib)
    assert lib.stat().st_mtime_ns == mtime


def _run(m, steps):
    if not m._loaded:
        m.load()
    for _ in range(steps):
        m.step_time()
    out = {}
    for name, pop in m.neuron_populations.items():
        pop.vars["V"].pull_from_device()
        pop.vars["n"].pull_from_device()
        out[name] = (pop.vars["V"].values, pop.vars["n"].values)
    return out


@pytest.mark.parametrize("same_name", [False, True], ids=["different_names", "same_model_name"])
def test_identical_code_models_are_independent(cache, same_name):
    """Two models with identical generated code, loaded at once, do not share state
    (also when they share one library file because their names are equal too)."""
    a = make_model(name="twin", V0=0.0, thr=1.0)
    b = make_model(name="twin" if same_name else "twin_b", V0=0.5, thr=1.0)
    a.build()
    b.build()
    assert a._backend.digest == b._backend.digest
    a.load()
    b.load()
    va = _run(a, 3)["p"]                  # 0.75, no spike yet
    vb = _run(b, 1)["p"]                  # 0.75
    np.testing.assert_allclose(va[0], 0.75, rtol=1e-6)
    np.testing.assert_allclose(vb[0], 0.75, rtol=1e-6)
    va = _run(a, 2)["p"]                  # step 4: V = 1.0 -> spike, reset to 0, n = 1; step 5: V = 0.25
    np.testing.assert_allclose(va[0], 0.25, rtol=1e-6)
    np.testing.assert_array_equal(va[1], 1)
    vb_again = _run(b, 0)["p"]
    np.testing.assert_allclose(vb_again[0], 0.75, rtol=1e-6, err_msg="stepping model a changed model b")
    np.testing.assert_array_equal(vb_again[1], 0)
    assert a.timestep == 5 and b.timestep == 1


def test_models_with_same_population_names_in_one_process(cache):
    """Different models, same population names ('p', 'q'), loaded and run interleaved."""
    models = []
    for i, (a_val, size) in enumerate([(0.1, 5), (0.3, 7), (0.7, 3)]):
        m = make_model(name=f"samepop_{i}", a=a_val, size=size, thr=1e9)
        m.add_neuron_population("q", 2, integrator(), {"a": -a_val, "thr": 1e9}, {"V": 0.0, "n": 0})
        m.build()
        m.load()
        models.append((m, a_val, size))
    prefixes = {m._backend.prefix for m, _, _ in models}
    assert len(prefixes) == len(models), "exported symbols must carry a per-model prefix"
    for steps in (2, 5, 1):
        for m, a_val, size in models:
            _run(m, steps)
    for m, a_val, size in models:
        res = _run(m, 0)
        np.testing.assert_allclose(res["p"][0], np.full(size, 8 * a_val), rtol=1e-5)
        np.testing.assert_allclose(res["q"][0], np.full(2, -8 * a_val), rtol=1e-5)


def test_exported_symbols_carry_model_prefix(cache):
    libs = [build(make_model(name=f"sym_{i}", a=0.1 * (i + 1))) for i in range(2)]
    exported = []
    for be in libs:
        out = subprocess.run(["nm", "-D", "--defined-only", str(be.lib_path)], capture_output=True, text=True)
        if out.returncode != 0:
            pytest.skip(f"nm failed: {out.stderr}")
        names = {line.split()[-1] for line in out.stdout.splitlines() if " T " in line}
        assert names, "the library exports no functions"
        assert all(n.startswith(be.prefix) for n in names), f"unprefixed exports: {sorted(names)}"
        exported.append(names)
    assert not exported[0] & exported[1], "two different models export the same symbol"


@pytest.mark.parametrize("pop_name", ["step", "run", "init", "time", "malloc", "free", "main", "rand", "printf_"])
def test_population_names_that_are_libc_symbols(cache, pop_name):
    """Generic names must not collide with libc or with generated symbols."""
    m = make_model(name=f"libc_{pop_name}", pop_name=pop_name, thr=1e9)
    m.build()
    res = _run(m, 4)
    np.testing.assert_allclose(res[pop_name][0], 1.0, rtol=1e-6)


# --------------------------------------------------------------------------- (d) concurrent builds

CONCURRENT_SCRIPT = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {repo!r})
    import numpy as np
    import neurogen as ng
    idx, sync = int(sys.argv[1]), sys.argv[2]
    from neurogen.backends.cpu import compiler
    real_run, compiled = compiler.subprocess.run, []

    def slow_compile(cmd, *a, **k):
        # widen the race window: every worker that finds no library yet compiles for >= 0.5 s
        if "-o" in cmd:
            compiled.append(1)
            time.sleep(0.5)
        return real_run(cmd, *a, **k)

    compiler.subprocess.run = slow_compile
    nm = ng.create_neuron_model(
        "Conc", params=["a"], vars=[("V", "scalar"), ("W", "scalar")],
        sim_code="V += a * sin(W + t);\\nW = fma(W, 0.5, cos(V));",
        threshold_condition_code="V > 1000.0", reset_code="V = 0.0;")
    m = ng.GeNNModel("double", "concurrent_model")
    pops = [m.add_neuron_population(f"p{{k}}", 50 + k, nm, {{"a": 0.01 * (k + 1)}}, {{"V": 0.0, "W": 0.1}})
            for k in range(12)]
    open(os.path.join(sync, f"ready{{idx}}"), "w").close()
    deadline = time.time() + 60
    while not os.path.exists(os.path.join(sync, "go")):
        if time.time() > deadline:
            sys.exit("timed out waiting for the start signal")
        time.sleep(0.001)
    m.build()
    m.load()
    for _ in range(10):
        m.step_time()
    pops[3].vars["V"].pull_from_device()
    print(m._backend.lib_path)
    print(m._backend.digest)
    print(repr(float(pops[3].vars["V"].values.sum())))
    print(len(compiled))
""")


def test_concurrent_builds_of_same_new_model(tmp_path):
    cache_dir = tmp_path / "fresh_cache"
    sync = tmp_path / "sync"
    sync.mkdir()
    script = tmp_path / "build_one.py"
    script.write_text(CONCURRENT_SCRIPT.format(repo=str(REPO)))
    env = {**os.environ, "NEUROGEN_CACHE_DIR": str(cache_dir), "NEUROGEN_OPT": "-O0"}
    procs = [subprocess.Popen([sys.executable, str(script), str(i), str(sync)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    try:
        deadline = time.time() + 90
        while len(list(sync.glob("ready*"))) < 4:
            assert time.time() < deadline, "worker processes did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
            time.sleep(0.01)
        (sync / "go").touch()
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, f"worker failed (rc {p.returncode}):\n{err[-3000:]}"
    outputs = [out.split() for out, _ in results]
    assert all(len(o) == 4 for o in outputs), outputs
    n_compiled = sum(int(o[3]) for o in outputs)
    assert n_compiled >= 2, f"only {n_compiled} worker(s) compiled: the builds did not overlap"
    assert len({o[0] for o in outputs}) == 1, f"different libraries: {[o[0] for o in outputs]}"
    assert len({o[1] for o in outputs}) == 1, "different digests"
    assert len({o[2] for o in outputs}) == 1, f"different results: {[o[2] for o in outputs]}"
    libs = so_files(cache_dir)
    assert [str(p) for p in libs] == [outputs[0][0]], f"expected exactly one library, found {libs}"
    leftovers = [p for p in cache_dir.rglob("*") if p.is_file() and ".tmp" in p.name]
    assert not leftovers, f"temporary files left behind: {leftovers}"


# --------------------------------------------------------------------------- (e) path_to_model

def test_build_into_path_to_model(cache, tmp_path, compiler_calls):
    out = tmp_path / "models"
    out.mkdir()
    m = make_model(name="pathmodel")
    be = build(m, path_to_model=str(out))
    code_dir = out / "pathmodel_CODE"
    assert code_dir.is_dir(), f"{code_dir} was not created: {list(out.iterdir())}"
    lib = Path(be.lib_path)
    assert lib.parent == code_dir and lib.exists()
    assert lib.name == f"pathmodel_{be.digest[:16]}.so"
    sources = list(code_dir.glob("*.c"))
    assert sources and sources[0].read_text() == be.source, "the generated C is not kept next to the library"
    assert not cache.exists() or not so_files(cache), "path_to_model build also wrote into the cache"

    # the same model again into the same folder: nothing recompiled or rewritten
    stamps = {p: p.stat().st_mtime_ns for p in code_dir.iterdir()}
    n_calls = len(compiler_calls)
    m2 = make_model(name="pathmodel")
    be2 = build(m2, path_to_model=out)             # a pathlib.Path works too
    assert len(compiler_calls) == n_calls
    assert Path(be2.lib_path) == lib
    assert {p: p.stat().st_mtime_ns for p in code_dir.iterdir()} == stamps

    # and it runs
    res = _run(m2, 2)
    np.testing.assert_allclose(res["p"][0], 0.5, rtol=1e-6)


def test_path_to_model_relative_to_cwd(cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    be = build(make_model(name="relmodel"), path_to_model="./")
    assert Path(be.lib_path).resolve().parent == (tmp_path / "relmodel_CODE").resolve()
