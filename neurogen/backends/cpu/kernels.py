"""The generated functions of one model: neuron, synapse, custom-update, init and run kernels."""
from ...code import Name, translate, translate_expression
from ...errors import ModelDefinitionError
from ...models import VarInit, VarReference
from ...types import SynapseMatrixType, VarAccessMode
from .codegen import Kernel, c_ctype
from .compiler import vector_bytes


TILE = 256          # elements per tile of neuron loops


def _omp(gen, text):
    return f"#pragma omp {text}" if gen.m.preferences["num_threads"] > 1 else ""


def _line_block(scope_ctx, code):
    """Wrap translated user code in #line markers so compiler errors name the code string."""
    ctx = scope_ctx.replace("\\", "\\\\").replace('"', "'")
    return f'#line 1 "{ctx}"\n{code}\n//@@RESTORE_LINE'


class KernelWriter:
    def __init__(self, gen):
        self.g = gen
        self.m = gen.m
        self.B = gen.B
        self.static_functions = []
        self.step_calls = []          # code lines of one step, in order
        self.spike_pops = []

    # ================================================================== helpers
    def uses(self, code, name):
        from ...code import tokenize
        if not code:
            return False
        return any(t.kind == "ident" and t.text == name for t in tokenize(code, "scan"))

    def has_threshold(self, pop):
        return bool(pop.model.code.get("threshold_condition_code"))

    def spike_arrays(self, pop):
        g = self.g
        cnt = g.internal_array(pop, "spk_cnt", "uint32_t", True, lambda: 1, element_dim=False)
        cnt.batched = True
        spk = g.internal_array(pop, "spk", "uint32_t", True, lambda: pop.num_neurons)
        return cnt, spk

    def st_array(self, pop):
        return self.g.internal_array(pop, "st", "timepoint", self.B > 1, lambda: pop.num_neurons)

    def ind_array(self, sg):
        """Postsynaptic indices of SPARSE rows: 16 bits when the target has at most 65,535 neurons
        (a quarter less memory traffic per delivered spike)."""
        ctype = "uint16_t" if sg.trg.num_neurons <= 0xFFFF else "uint32_t"
        return self.g.internal_array(sg, "ind", ctype, False, sg._num_syn_slots)

    def insyn_array(self, sg):
        return self.g.internal_array(sg, "inSyn", "scalar", self.B > 1, lambda: sg.trg.num_neurons)

    def outpre_array(self, sg):
        return self.g.internal_array(sg, "outPre", "scalar", self.B > 1, lambda: sg.src.num_neurons)

    def uses_add_to_pre(self, sg):
        return any(self.uses(sg.wu.model.code.get(k), "addToPre")
                   for k in ("pre_spike_syn_code", "post_spike_syn_code", "synapse_dynamics_code"))

    def resolve_neuron_ref(self, owner_desc, ref_name, ref_value, pop):
        """A neuron var ref given as a plain name or create_var_ref(pop, name) -> storage of ``pop``."""
        if isinstance(ref_value, str):
            var = ref_value
        elif isinstance(ref_value, VarReference) and ref_value.kind == "neuron":
            if ref_value.group is not pop:
                raise ModelDefinitionError(f"{owner_desc}: reference '{ref_name}' must point at a variable of "
                                           f"neuron population '{pop.name}', not {ref_value.group._describe()}")
            var = ref_value.var_name
        else:
            raise ModelDefinitionError(f"{owner_desc}: reference '{ref_name}' must be a variable name or "
                                       f"create_var_ref(...), got {ref_value!r}")
        if var not in pop.vars:
            raise ModelDefinitionError(f"{owner_desc}: reference '{ref_name}' targets unknown variable '{var}' of "
                                       f"neuron population '{pop.name}' (variables: {', '.join(pop.vars) or 'none'})")
        return var, pop.vars[var]._st

    def check_ref_type(self, owner_desc, spec_ref, st):
        def norm(t):
            return {"unsigned": "unsigned int"}.get(t, t)
        if norm(spec_ref.type) != norm(st.ctype):
            raise ModelDefinitionError(f"{owner_desc}: reference '{spec_ref.name}' has type '{spec_ref.type}' "
                                       f"but targets '{st.name.split(':')[-1]}' of type '{st.ctype}'")

    def ref_writable(self, spec_ref, st):
        return spec_ref.access.writable and st.access_mode == VarAccessMode.READ_WRITE

    # ================================================================== neuron kernels
    def neuron_kernel(self, pop):
        g, B, N = self.g, self.B, pop.num_neurons
        spec = pop.model
        desc = f"neuron population '{pop.name}'"
        k = Kernel(g, f"neuron_{pop.name}", f"static void ng_neuron_{pop.name}(void** restrict ng_P, int64_t ng_timestep)")
        locals_ = {}
        pre = []                               # lines before user code, per element
        post = []
        for v in spec.vars:
            st = pop.vars[v.name]._st
            idx = g.index(st, "ng_i", N)
            pre.append(f"{c_ctype(v.type)} ng_l_{v.name} = {k.arr(st)}[{idx}];")
            if st.access_mode == VarAccessMode.READ_WRITE:
                post.append(f"{k.arr(st)}[{idx}] = ng_l_{v.name};")
            locals_[v.name] = Name(f"ng_l_{v.name}", st.access_mode == VarAccessMode.READ_WRITE,
                                   g.var_reason(st, pop))
        st_arr = self.st_array(pop)
        sidx = g.index(st_arr, "ng_i", N)
        pre.append(f"const timepoint ng_st = {k.arr(st_arr)}[{sidx}];")
        pre.append("scalar ng_Isyn = 0;")
        aiv = {}
        for a in spec.additional_input_vars:
            pre.append(f"{c_ctype(a.type)} ng_ai_{a.name} = {g.lit(a.access, a.type)};")
            aiv[a.name] = Name(f"ng_ai_{a.name}", False, f"additional input variable '{a.name}' is read-only "
                               "(write to it with injectCurrent from a postsynaptic model)")

        def target_local(target, what):
            if target in (None, "Isyn"):
                return "ng_Isyn"
            if target not in aiv:
                raise ModelDefinitionError(f"{what}: target variable '{target}' is not 'Isyn' or an additional "
                                           f"input variable of {desc} "
                                           f"({', '.join(aiv) or 'it has none'})")
            return f"ng_ai_{target}"

        base = g.common_names({"id": Name("ng_i"), "num_neurons": Name(str(N))})
        blocks = []
        # postsynaptic models of incoming synapse groups
        for sg in pop.incoming:
            ctx = f"synapse population '{sg.name}' postsynaptic sim_code"
            ps = sg.ps.model
            names = dict(base)
            names.update(g.param_names(sg, ps, sg.ps_params, k, "psm"))
            names.update(g.egp_names(sg, ps, k, "psm:"))
            names["inSyn"] = Name("ng_inSyn", True)
            for v in ps.vars:
                st = sg.psm_vars[v.name]._st
                names[v.name] = Name(f"{k.arr(st)}[{g.index(st, 'ng_i', N)}]",
                                     st.access_mode == VarAccessMode.READ_WRITE, g.var_reason(st, sg))
            refs = dict(sg.ps.var_refs)
            for r in ps.neuron_var_refs:
                if r.name not in refs:
                    raise ModelDefinitionError(f"synapse population '{sg.name}': missing postsynaptic neuron "
                                               f"var ref '{r.name}'")
                var, st = self.resolve_neuron_ref(f"postsynaptic model of synapse population '{sg.name}'",
                                                  r.name, refs[r.name], pop)
                self.check_ref_type(f"postsynaptic model of synapse population '{sg.name}'", r, st)
                names[r.name] = Name(f"ng_l_{var}", self.ref_writable(r, st), f"reference '{r.name}' is read-only")
            tgt = target_local(sg.post_target_var, f"synapse population '{sg.name}' post_target_var")
            scope = g.scope(ctx, names, {"injectCurrent": "ng_injectCurrent"})
            code = translate(ps.code.get("sim_code"), scope)
            insyn = self.insyn_array(sg)
            iidx = g.index(insyn, "ng_i", N)
            blocks.append("{\n" + f"scalar ng_inSyn = {k.arr(insyn)}[{iidx}];\n"
                          f"#define ng_injectCurrent(x) ({tgt} += (x))\n"
                          + g.rng_prologue(scope, f"(size_t)ng_b * {N} + ng_i", g.stream_id(sg, "psm")) + "\n"
                          + _line_block(ctx, code) + "\n#undef ng_injectCurrent\n"
                          + f"{k.arr(insyn)}[{iidx}] = ng_inSyn;\n}}")
        # addToPre buffers of outgoing groups
        for sg in pop.outgoing:
            if self.uses_add_to_pre(sg):
                op = self.outpre_array(sg)
                oidx = g.index(op, "ng_i", N)
                tgt = target_local(sg.pre_target_var, f"synapse population '{sg.name}' pre_target_var")
                blocks.append(f"{tgt} += {k.arr(op)}[{oidx}]; {k.arr(op)}[{oidx}] = 0;")
        # current sources
        for cs in pop.current_sources:
            ctx = f"current source '{cs.name}' injection_code"
            names = dict(base)
            names.update(g.param_names(cs, cs.model, cs.params, k, "cs", cs.dynamic_params))
            names.update(g.egp_names(cs, cs.model, k))
            for v in cs.model.vars:
                st = cs.vars[v.name]._st
                names[v.name] = Name(f"{k.arr(st)}[{g.index(st, 'ng_i', N)}]",
                                     st.access_mode == VarAccessMode.READ_WRITE, g.var_reason(st, cs))
            for r in cs.model.neuron_var_refs:
                if r.name not in cs.var_refs:
                    raise ModelDefinitionError(f"current source '{cs.name}': missing neuron var ref '{r.name}'")
                var, st = self.resolve_neuron_ref(f"current source '{cs.name}'", r.name, cs.var_refs[r.name], pop)
                self.check_ref_type(f"current source '{cs.name}'", r, st)
                names[r.name] = Name(f"ng_l_{var}", self.ref_writable(r, st), f"reference '{r.name}' is read-only")
            scope = g.scope(ctx, names, {"injectCurrent": "ng_injectCurrent"})
            code = translate(cs.model.code.get("injection_code"), scope)
            blocks.append("{\n#define ng_injectCurrent(x) (ng_Isyn += (x))\n"
                          + g.rng_prologue(scope, f"(size_t)ng_b * {N} + ng_i", g.stream_id(cs, "cs")) + "\n"
                          + _line_block(ctx, code) + "\n#undef ng_injectCurrent\n}")

        # the neuron's own code: sim, threshold, reset share one scope (locals persist)
        names = dict(base)
        names.update(g.param_names(pop, spec, pop.params, k, "neuron", pop.dynamic_params))
        names.update(g.egp_names(pop, spec, k))
        names.update(locals_)
        names.update(aiv)
        names["Isyn"] = Name("ng_Isyn", False, "'Isyn' is the summed input current (read-only)")
        names["st"] = Name("ng_st", False, "'st' is the last spike time (read-only)")
        ctx_base = f"neuron population '{pop.name}'"
        scope = g.scope(f"{ctx_base} sim_code", names)
        sim = translate(spec.code.get("sim_code"), scope)
        scope.context = f"{ctx_base} threshold_condition_code"
        thr = translate_expression(spec.code.get("threshold_condition_code"), scope) \
            if spec.code.get("threshold_condition_code") else None
        scope.context = f"{ctx_base} reset_code"
        reset = translate(spec.code.get("reset_code"), scope)
        if reset and not thr:
            raise ModelDefinitionError(f"{desc}: model {spec.class_name!r} has reset_code but no "
                                       "threshold_condition_code")
        neuron_rng = g.rng_prologue(scope, f"(size_t)ng_b * {N} + ng_i", g.stream_id(pop, "neuron"))

        # WU pre/post dynamics and spike code of attached synapse groups
        dyn_blocks, spike_blocks = [], []
        for side, sgs in (("pre", pop.outgoing), ("post", pop.incoming)):
            for sg in sgs:
                wu = sg.wu.model
                for kind, dest in ((f"{side}_dynamics_code", dyn_blocks), (f"{side}_spike_code", spike_blocks)):
                    code = wu.code.get(kind)
                    if not code:
                        continue
                    ctx = f"synapse population '{sg.name}' {kind}"
                    wnames = self.wu_neuron_side_names(sg, side, k, locals_, pop)
                    wscope = g.scope(ctx, wnames)
                    text = translate(code, wscope)
                    dest.append("{\n" + g.rng_prologue(wscope, f"(size_t)ng_b * {N} + ng_i",
                                                       g.stream_id(sg, kind)) + "\n" + _line_block(ctx, text) + "\n}")

        body = []
        body.append("    const timepoint ng_t = (timepoint)ng_timestep * ng_dt; (void)ng_t;")
        body.append("    const uint32_t ng_step = (uint32_t)ng_timestep; (void)ng_step;")
        has_spikes = thr is not None
        if has_spikes:
            flag = g.internal_array(pop, "spk_flag", "uint8_t", True, lambda: pop.num_neurons)
            flag.batched = True
        head, foot = self.element_loop(k, N)
        body += head
        body += pre
        body.append(neuron_rng)
        body += blocks
        if spec.auto_refractory_required and thr:
            body.append(f"const bool ng_old_spike = {thr};")
        body.append(_line_block(f"{ctx_base} sim_code", sim))
        body += dyn_blocks
        if has_spikes:
            cond = f"{thr}" + (" && !ng_old_spike" if spec.auto_refractory_required else "")
            body.append(_line_block(f"{ctx_base} threshold_condition_code", f"const bool ng_spike = {cond};"))
            body.append("if (ng_spike) {")
            body += spike_blocks
            body.append(_line_block(f"{ctx_base} reset_code", reset))
            body.append("}")
            # a select, not a store inside the branch: GCC's if-converted (masked) store loses the
            # restrict information, needs run-time alias checks against every other array and, past
            # ten of them, leaves the whole element loop scalar
            body.append(f"{k.arr(st_arr)}[{sidx}] = ng_spike ? ng_t : ng_st;")
            body.append(f"{k.arr(flag)}[(size_t)ng_b * {N} + ng_i] = ng_spike;")
        body += post
        body += foot
        k.lines = body
        self.static_functions.append(k.render())
        self.step_calls.append(("neuron_par" if self._neuron_parallel else "neuron",
                                self.call(f"ng_neuron_{pop.name}", f"{B} * {N}")))
        if has_spikes:
            self.spike_pops.append(pop)

    def element_loop(self, k, N):
        """Loop over batch instances ``ng_b`` and elements ``ng_i`` in fixed tiles; OpenMP shares out
        (batch, tile) pairs, so there is one barrier per population and step, not one per batch."""
        B = self.B
        tiles = (N + TILE - 1) // TILE
        # populations are independent of each other: no barrier after each one (nowait); the run
        # loop puts one barrier after the whole neuron phase
        omp = _omp(self.g, "for schedule(static) nowait") if B * tiles >= 2 else ""
        self._neuron_parallel = bool(omp)
        head = [omp] if omp else []
        head += [f"    for (uint32_t ng_bt = 0; ng_bt < {B * tiles}u; ng_bt++) {{",
                 f"    const int ng_b = (int)(ng_bt / {tiles}u); const uint32_t ng_tile = ng_bt % {tiles}u;",
                 f"    const uint32_t ng_i0 = ng_tile * {TILE}u, ng_i1 = NG_MIN(ng_i0 + {TILE}u, {N}u);",
                 "    for (uint32_t ng_i = ng_i0; ng_i < ng_i1; ng_i++) {"]
        return head, ["    }", "    }"]

    @staticmethod
    def tile_loop_head(n, tile=TILE):
        """Element loop split into fixed tiles: threads take whole tiles, so which elements share a
        SIMD vector (and hence every rounding) is the same for any thread count."""
        return [f"    for (uint32_t ng_tile = 0; ng_tile < {(n + tile - 1) // tile}u; ng_tile++) {{",
                f"    const uint32_t ng_i0 = ng_tile * {tile}u, ng_i1 = NG_MIN(ng_i0 + {tile}u, {n}u);",
                "    for (uint32_t ng_i = ng_i0; ng_i < ng_i1; ng_i++) {"]

    def wu_neuron_side_names(self, sg, side, k, locals_, pop):
        """Names in WU pre/post dynamics and spike code (per neuron of the pre or post side)."""
        g = self.g
        wu = sg.wu.model
        N = pop.num_neurons
        names = g.common_names({"id": Name("ng_i"), f"id_{side}": Name("ng_i"),
                                f"num_{side}": Name(str(N)), "num_neurons": Name(str(N))})
        names.update(g.param_names(sg, wu, sg.params, k, "wu", sg.dynamic_params))
        names.update(g.egp_names(sg, wu, k))
        table = sg.pre_vars if side == "pre" else sg.post_vars
        for v in (wu.pre_vars if side == "pre" else wu.post_vars):
            st = table[v.name]._st
            names[v.name] = Name(f"{k.arr(st)}[{g.index(st, 'ng_i', N)}]",
                                 st.access_mode == VarAccessMode.READ_WRITE, g.var_reason(st, sg))
        refs = sg.wu.pre_var_refs if side == "pre" else sg.wu.post_var_refs
        for r in (wu.pre_neuron_var_refs if side == "pre" else wu.post_neuron_var_refs):
            if r.name not in refs:
                raise ModelDefinitionError(f"synapse population '{sg.name}': missing {side} neuron var ref "
                                           f"'{r.name}'")
            var, st = self.resolve_neuron_ref(f"synapse population '{sg.name}'", r.name, refs[r.name], pop)
            self.check_ref_type(f"synapse population '{sg.name}'", r, st)
            names[r.name] = Name(f"ng_l_{var}", self.ref_writable(r, st), f"reference '{r.name}' is read-only")
        names[f"st_{side}"] = Name("ng_st", False)
        return names

    # ================================================================== synapse kernels
    def synapse_names(self, sg, k, kind):
        g = self.g
        wu = sg.wu.model
        src, trg = sg.src, sg.trg
        names = g.common_names({"id_pre": Name("ng_ipre"), "id_post": Name("ng_ipost"), "id_syn": Name("ng_isyn"),
                                "num_pre": Name(str(src.num_neurons)), "num_post": Name(str(trg.num_neurons))})
        names.update(g.param_names(sg, wu, sg.params, k, "wu", sg.dynamic_params))
        names.update(g.egp_names(sg, wu, k))
        for v in wu.vars:
            st = sg.vars[v.name]._st
            names[v.name] = Name(f"{k.arr(st)}[{g.index(st, 'ng_isyn', 'ng_nsyn')}]",
                                 st.access_mode == VarAccessMode.READ_WRITE, g.var_reason(st, sg))
        for v in wu.pre_vars:
            st = sg.pre_vars[v.name]._st
            names[v.name] = Name(f"{k.arr(st)}[{g.index(st, 'ng_ipre', src.num_neurons)}]",
                                 st.access_mode == VarAccessMode.READ_WRITE, g.var_reason(st, sg))
        for v in wu.post_vars:
            st = sg.post_vars[v.name]._st
            names[v.name] = Name(f"{k.arr(st)}[{g.index(st, 'ng_ipost', trg.num_neurons)}]",
                                 st.access_mode == VarAccessMode.READ_WRITE, g.var_reason(st, sg))
        for side, pop, specs, refs, idx in (("pre", src, wu.pre_neuron_var_refs, sg.wu.pre_var_refs, "ng_ipre"),
                                            ("post", trg, wu.post_neuron_var_refs, sg.wu.post_var_refs, "ng_ipost")):
            for r in specs:
                if r.name not in refs:
                    raise ModelDefinitionError(f"synapse population '{sg.name}': missing {side} neuron var ref "
                                               f"'{r.name}' (give it in init_weight_update(..., {side}_var_refs=...))")
                var, st = self.resolve_neuron_ref(f"synapse population '{sg.name}'", r.name, refs[r.name], pop)
                self.check_ref_type(f"synapse population '{sg.name}'", r, st)
                names[r.name] = Name(f"{k.arr(st)}[{g.index(st, idx, pop.num_neurons)}]",
                                     self.ref_writable(r, st), f"reference '{r.name}' is read-only")
            extra = set(refs) - {r.name for r in specs}
            if extra:
                raise ModelDefinitionError(f"synapse population '{sg.name}': unknown {side} var ref(s) "
                                           f"{', '.join(sorted(extra))}")
            sta = self.st_array(pop)
            names[f"st_{side}"] = Name(f"{k.arr(sta)}[{g.index(sta, idx, pop.num_neurons)}]", False)
        for r in wu.psm_var_refs:
            var = sg.wu.psm_var_refs.get(r.name)
            if var is None or var not in sg.psm_vars:
                raise ModelDefinitionError(f"synapse population '{sg.name}': psm var ref '{r.name}' must name a "
                                           f"postsynaptic model variable ({', '.join(sg.psm_vars) or 'none'})")
            st = sg.psm_vars[var]._st
            names[r.name] = Name(f"{k.arr(st)}[{g.index(st, 'ng_ipost', trg.num_neurons)}]",
                                 self.ref_writable(r, st), f"reference '{r.name}' is read-only")
        return names

    def synapse_kernel(self, sg, kind):
        g = self.g
        code = sg.wu.model.code.get(kind)
        if not code:
            return
        src, trg = sg.src, sg.trg
        npre, npost = src.num_neurons, trg.num_neurons
        sparse = sg.matrix_type == SynapseMatrixType.SPARSE
        fname = f"ng_{kind}_{sg.name}"
        k = Kernel(g, fname, f"static void {fname}(void** restrict ng_P, int64_t ng_timestep)")
        ctx = f"synapse population '{sg.name}' {kind}"
        names = self.synapse_names(sg, k, kind)
        scope = g.scope(ctx, names, {"addToPost": "ng_addToPost", "addToPre": "ng_addToPre"})
        if self.uses(code, "addToPostDelay"):
            raise ModelDefinitionError(f"{ctx}: addToPostDelay (dendritic delays) is not supported by neurogen yet")
        text = translate(code, scope)
        insyn = self.insyn_array(sg)
        lines = ["    const timepoint ng_t = (timepoint)ng_timestep * ng_dt; (void)ng_t;",
                 "    const uint32_t ng_step = (uint32_t)ng_timestep; (void)ng_step;"]
        if sparse:
            stride = g.size_expr(f"stride:{sg.name}")
            lines.append(f"    const size_t ng_stride = (size_t){stride};")
            lines.append(f"    const size_t ng_nsyn = ng_stride * {npre}u; (void)ng_nsyn;")
            g.internal_array(sg, "row_length", "uint32_t", False, lambda: npre)   # used by the row loops
            self.ind_array(sg)
        else:
            lines.append(f"    const size_t ng_nsyn = (size_t){npre}u * {npost}u; (void)ng_nsyn;")
        post_atomic, pre_atomic = self.atomic_outputs(sg, kind, sparse)
        defs = [self.accumulate_def("ng_addToPost", f"{k.arr(insyn)}[{g.index(insyn, 'ng_ipost', npost)}]",
                                    post_atomic)]
        if self.uses(code, "addToPre"):
            op = self.outpre_array(sg)
            defs.append(self.accumulate_def("ng_addToPre", f"{k.arr(op)}[{g.index(op, 'ng_ipre', npre)}]",
                                            pre_atomic))
        rng = g.rng_prologue(scope, "(size_t)ng_b * ng_nsyn + ng_isyn", g.stream_id(sg, kind))
        inner = "{\n" + rng + "\n" + _line_block(ctx, text) + "\n}"
        self.synapse_loops(sg, kind, k, sparse, lines, defs, inner, code, scope)

    def synapse_loops(self, sg, kind, k, sparse, lines, defs, inner, code, scope):
        """CPU loop nests around one synapse's code (the CUDA writer maps them to threads)."""
        g, B = self.g, self.B
        src, trg = sg.src, sg.trg
        npre, npost = src.num_neurons, trg.num_neurons
        lines += defs
        lines.append(f"    for (int ng_b = 0; ng_b < {B}; ng_b++) {{")
        if kind == "pre_spike_syn_code":
            cnt, spk = self.spike_arrays(src)
            # with threads, each thread delivers every spike into its own range of postsynaptic
            # neurons (rows are sorted by target): no atomics, and each target sums in the same order
            parallel = (sparse and self.g.m.preferences["num_threads"] > 1 and not self.uses(code, "addToPre")
                        and not (scope.written & self.side_names(sg, "pre")))
            if parallel:
                lines.insert(len(lines) - 1, self.thread_target_range(npost))
            lines.append(f"    const uint32_t ng_cnt = {k.arr(cnt)}[ng_b];")
            lines.append("    for (uint32_t ng_k = 0; ng_k < ng_cnt; ng_k++) {")
            lines.append(f"    const uint32_t ng_ipre = {k.arr(spk)}[(size_t)ng_b * {npre}u + ng_k];")
            if sparse:
                lines += self.prefetch_next_row(k, sg, scope, spk, npre)
            if parallel:
                lines += self.row_range_loop(k, sg, inner)
            else:
                lines += self.row_loop(k, sg, sparse, inner)
            lines.append("    }")
            if parallel:
                # no barrier here: the kernels of this phase write disjoint inSyn arrays (and a shared
                # target population is split the same way in each); the phase ends with one barrier
                lines.append("    }")
                self.finish_synapse_kernel(k, sg, kind, lines, parallel=True)
                return
        elif kind == "post_spike_syn_code":
            cnt, spk = self.spike_arrays(trg)
            lines.append(f"    const uint32_t ng_cnt = {k.arr(cnt)}[ng_b];")
            lines.append("    for (uint32_t ng_k = 0; ng_k < ng_cnt; ng_k++) {")
            lines.append(f"    const uint32_t ng_ipost = {k.arr(spk)}[(size_t)ng_b * {npost}u + ng_k];")
            if sparse:
                col_len = g.internal_array(sg, "col_length", "uint32_t", False, lambda: npost)
                remap = g.internal_array(sg, "remap", "uint32_t", False,
                                         lambda: npost * self.m._backend.col_stride(sg))
                cstride = g.size_expr(f"colstride:{sg.name}")
                lines.append(f"    const uint32_t ng_cl = {k.arr(col_len)}[ng_ipost];")
                lines.append("    for (uint32_t ng_s = 0; ng_s < ng_cl; ng_s++) {")
                lines.append(f"    const size_t ng_isyn = {k.arr(remap)}[(size_t)ng_ipost * {cstride} + ng_s];")
                lines.append("    const uint32_t ng_ipre = (uint32_t)(ng_isyn / ng_stride);")
            else:
                lines.append(f"    for (uint32_t ng_ipre = 0; ng_ipre < {npre}u; ng_ipre++) {{")
                lines.append(f"    const size_t ng_isyn = (size_t)ng_ipre * {npost}u + ng_ipost;")
            lines.append(inner)
            lines.append("    }")
            lines.append("    }")
        else:   # synapse_dynamics_code
            gemv = None if sparse else self.gemv_operands(sg, code)
            if gemv is not None:
                lines = lines[:-1] + self.gemv_lowered(sg, k, *gemv)
                # a one-block product is a single-threaded kernel (grouped with its neighbours)
                self.finish_synapse_kernel(k, sg, kind, lines, parallel=self.g.m.preferences["num_threads"] > 1
                                           and self.dense_row_blocks(npre, npost) > 1)
                return
            threads = self.g.m.preferences["num_threads"]
            if sparse and threads > 1 and B > 1 and self.writes_only_batched(sg, code, scope):
                # batch instances are independent: each thread takes whole instances (every
                # synapse is updated by one thread in the same order, so results do not depend
                # on the thread count); the loop's implicit barrier closes the kernel
                lines.insert(len(lines) - 1, _omp(self.g, "for schedule(static)"))
                lines.append(f"    for (uint32_t ng_ipre = 0; ng_ipre < {npre}u; ng_ipre++) {{")
                lines += self.row_loop(k, sg, sparse, inner)
                lines.append("    }")
                lines.append("    }")
                self.finish_synapse_kernel(k, sg, kind, lines, parallel=True)
                return
            if not sparse and self.dense_row_blocks(npre, npost) > 1 and not (scope.written & self.side_names(sg, "post")):
                self.row_blocked_dynamics(sg, kind, k, lines[:-1], inner, code)
                return
            # split by postsynaptic neuron only for wide rows: two threads write one cache line of
            # every row at their boundary, which is noise for rows of >= 1 KB and ruinous for short ones
            parallel = (not sparse and threads > 1 and npost >= 256 and not self.uses(code, "addToPre")
                        and not (scope.written & self.side_names(sg, "pre")))
            lo, hi = ("ng_j0", "ng_j1") if parallel else ("0", f"{npost}u")
            if parallel:
                lines.insert(0, self.thread_target_range(npost))
            lines.append(f"    for (uint32_t ng_ipre = 0; ng_ipre < {npre}u; ng_ipre++) {{")
            lines += self.row_loop(k, sg, sparse, inner, lo, hi)
            lines.append("    }")
            lines.append("    }")
            if parallel:
                lines.append("#pragma omp barrier")
            self.finish_synapse_kernel(k, sg, kind, lines, parallel)
            return
        lines.append("    }")
        self.finish_synapse_kernel(k, sg, kind, lines, parallel=False)

    @staticmethod
    def dense_row_blocks(npre, npost):
        """Fixed number of presynaptic row blocks of a dense product or synapse-dynamics kernel: a
        function of the size only, so every thread count runs the same arithmetic. Matrices under
        32 Ki elements take one block (and one thread): splitting a 500 x 10 product cost two
        barriers for half a microsecond of work."""
        if npre * npost < 32768:
            return 1
        return 4 if npre >= 2048 else 2 if npre >= 128 else 1

    def partial_stride(self, n):
        """Elements between the starts of two row blocks' partial sums: n plus one cache line, so
        that blocks written by different threads never share a line (whatever the base alignment);
        a shared line moved between the cores on every pass of a row-streamed product."""
        return n + 64 // self.scalar_bytes()

    def scalar_bytes(self):
        return 4 if self.m.precision == "float" else 8

    def row_blocked_dynamics(self, sg, kind, k, lines, inner, code):
        """DENSE synapse dynamics over fixed blocks of presynaptic rows; threads take whole blocks.

        Splitting by postsynaptic neuron instead made two threads write the same cache line of
        every weight row (a 784 x 100 float matrix has 400-byte rows), and the line moved between
        the cores on every row: 15x slower with two threads than with one. By rows each thread
        streams its own contiguous share of the synapse state (which may then fit its L2). The
        code must not write postsynaptic state; ``addToPost`` goes to a partial input per block,
        added to inSyn in block order afterwards (so the result does not depend on the thread
        count, and with one block it is the plain row loop)."""
        g, B = self.g, self.B
        npre, npost = sg.src.num_neurons, sg.trg.num_neurons
        nblocks = self.dense_row_blocks(npre, npost)
        to_post = self.uses(code, "addToPost")
        if to_post:
            stride = self.partial_stride(B * npost)
            part = g.internal_array(sg, "dynamics_partials", "scalar", False, lambda: nblocks * stride)
            P, C = k.arr(part), k.arr(self.insyn_array(sg))
            lines += ["#undef ng_addToPost",
                      f"#define ng_addToPost(x) (ng_part[(size_t)ng_b * {npost}u + ng_ipost] += (x))"]
        lines += [_omp(g, "for schedule(static)"),
                  f"    for (int ng_rb = 0; ng_rb < {nblocks}; ng_rb++) {{",
                  f"    const uint32_t ng_i0 = (uint32_t)((uint64_t)ng_rb * {npre}u / {nblocks}u);",
                  f"    const uint32_t ng_i1 = (uint32_t)((uint64_t)(ng_rb + 1) * {npre}u / {nblocks}u);"]
        if to_post:
            lines += [f"    scalar* restrict ng_part = {P} + (size_t)ng_rb * {stride}u;",
                      f"    for (size_t ng_e = 0; ng_e < {B * npost}u; ng_e++) ng_part[ng_e] = 0;"]
        lines += [f"    for (int ng_b = 0; ng_b < {B}; ng_b++) {{",
                  "    for (uint32_t ng_ipre = ng_i0; ng_ipre < ng_i1; ng_ipre++) {",
                  *self.row_loop(k, sg, False, inner), "    }", "    }", "    }"]
        if to_post:
            lines += [_omp(g, "for schedule(static)"),
                      f"    for (size_t ng_e = 0; ng_e < {B * npost}u; ng_e++) {{",
                      f"    scalar ng_s = {C}[ng_e];",
                      f"    for (int ng_rb = 0; ng_rb < {nblocks}; ng_rb++) ng_s += {P}[(size_t)ng_rb * {stride}u + ng_e];",
                      f"    {C}[ng_e] = ng_s;", "    }"]
        self.finish_synapse_kernel(k, sg, kind, lines, parallel=self.g.m.preferences["num_threads"] > 1)

    def code_storages(self, sg):
        """{name: (side, storage)} of the arrays a synapse group's code names: its synapse variables
        ("syn"), WU pre / post variables and neuron references ("pre" / "post"), postsynaptic-model
        references ("post")."""
        wu = sg.wu.model
        out = {v.name: ("syn", sg.vars[v.name]._st) for v in wu.vars}
        out.update({v.name: ("pre", sg.pre_vars[v.name]._st) for v in wu.pre_vars})
        out.update({v.name: ("post", sg.post_vars[v.name]._st) for v in wu.post_vars})
        for side, pop, specs, refs in (("pre", sg.src, wu.pre_neuron_var_refs, sg.wu.pre_var_refs),
                                       ("post", sg.trg, wu.post_neuron_var_refs, sg.wu.post_var_refs)):
            for r in specs:
                out[r.name] = (side, self.resolve_neuron_ref(f"synapse population '{sg.name}'", r.name,
                                                             refs[r.name], pop)[1])
        for r in wu.psm_var_refs:
            out[r.name] = ("post", sg.psm_vars[sg.wu.psm_var_refs[r.name]]._st)
        return out

    def writes_only_batched(self, sg, code, scope):
        """Whether every array the synapse code writes has a batch dimension (so that batch
        instances can be split over threads without two threads writing one element)."""
        if self.uses(code, "addToPost") and not self.insyn_array(sg).batched:
            return False
        if self.uses(code, "addToPre") and not self.outpre_array(sg).batched:
            return False
        storages = self.code_storages(sg)
        return all(n in storages and storages[n][1].batched for n in scope.written)

    @staticmethod
    def thread_target_range(npost):
        """[ng_j0, ng_j1): this OpenMP thread's share of the postsynaptic neurons."""
        return ("    const int ng_nth = omp_get_num_threads(), ng_tid = omp_get_thread_num();\n"
                f"    const uint32_t ng_j0 = (uint32_t)((uint64_t){npost}u * ng_tid / ng_nth);\n"
                f"    const uint32_t ng_j1 = (uint32_t)((uint64_t){npost}u * (ng_tid + 1) / ng_nth);")

    def row_range_loop(self, k, sg, inner):
        """The synapses of row ng_ipre whose targets lie in [ng_j0, ng_j1) (binary search)."""
        rowlen = self.g.internal[sg.name, "row_length"]
        ind = self.g.internal[sg.name, "ind"]
        return [f"    const uint32_t ng_rl = {k.arr(rowlen)}[ng_ipre];",
                f"    const {c_ctype(ind.ctype)}* restrict ng_row = {k.arr(ind)} + (size_t)ng_ipre * ng_stride;",
                "    uint32_t ng_lo = 0, ng_hi = ng_rl;",
                "    while (ng_lo < ng_hi) { const uint32_t ng_mid = (ng_lo + ng_hi) >> 1; "
                "if (ng_row[ng_mid] < ng_j0) ng_lo = ng_mid + 1; else ng_hi = ng_mid; }",
                "    for (uint32_t ng_s = ng_lo; ng_s < ng_rl && ng_row[ng_s] < ng_j1; ng_s++) {",
                "    const size_t ng_isyn = (size_t)ng_ipre * ng_stride + ng_s;",
                "    const uint32_t ng_ipost = ng_row[ng_s];",
                inner, "    }"]

    def prefetch_next_row(self, k, sg, scope, spk, npre):
        """Rows of spiking neurons live in L3: fetch the next spike's row while this one is delivered
        (the hardware prefetcher only ramps up part-way through a row)."""
        g = self.g
        arrays = [g.internal[sg.name, "ind"]]
        arrays += [sg.vars[v.name]._st for v in sg.wu.model.vars if v.name in scope.used]
        fetch = []
        for st in arrays:
            base = "(size_t)ng_b * ng_nsyn + " if st.batched else ""
            from ...groups import numpy_dtype
            line = max(1, 64 // numpy_dtype(st.ctype, self.m.precision, self.m.time_precision).itemsize)
            fetch.append(f"    for (uint32_t ng_q = 0; ng_q < ng_nl; ng_q += {line}u) "
                         f"__builtin_prefetch(&{k.arr(st)}[{base}ng_nb + ng_q]);")
        rowlen = g.internal[sg.name, "row_length"]
        return ["    if (ng_k + 1 < ng_cnt) {",
                f"    const uint32_t ng_np = {k.arr(spk)}[(size_t)ng_b * {npre}u + ng_k + 1];",
                f"    const size_t ng_nb = (size_t)ng_np * ng_stride; const uint32_t ng_nl = {k.arr(rowlen)}[ng_np];",
                *fetch, "    }"]

    def atomic_outputs(self, sg, kind, sparse):
        """Whether addToPost / addToPre may race (never in the sequential CPU loops)."""
        return False, False

    @staticmethod
    def accumulate_def(macro, target, atomic):
        if atomic:
            return f"#define {macro}(x) atomicAdd(&{target}, (x))"
        return f"#define {macro}(x) ({target} += (x))"

    def call(self, kernel, threads, timestep="ng_ts"):
        """The statement that runs a kernel once (the CUDA writer launches ``threads`` threads)."""
        return f"{kernel}(ng_P, {timestep});"

    def finish_synapse_kernel(self, k, sg, kind, lines, parallel, threads="1"):
        lines.append("#undef ng_addToPost")
        lines.append("#undef ng_addToPre")
        k.lines = lines
        self.static_functions.append(k.render())
        order = {"synapse_dynamics_code": "dynamics", "pre_spike_syn_code": "presyn",
                 "post_spike_syn_code": "postsyn"}[kind]
        self.step_calls.append((order + ("_par" if parallel else ""), self.call(f"ng_{kind}_{sg.name}", threads)))

    def side_names(self, sg, side):
        """Names in a synapse group's code that address the presynaptic ("pre") or postsynaptic
        ("post") neurons' state rather than the synapse's own."""
        return {n for n, (s, _) in self.code_storages(sg).items() if s == side}

    def gemv_operands(self, sg, code):
        """Recognise ``addToPost(g * x);`` with g a dense weight and x a presynaptic value: a matrix
        product that can be tiled (batch 1) or handed to BLAS (batch > 1)."""
        from ...code import tokenize
        toks = [t.text for t in tokenize(code, "scan")]
        if len(toks) != 7 or toks[:2] != ["addToPost", "("] or toks[3] != "*" or toks[5:] != [")", ";"]:
            return None
        named = self.code_storages(sg)
        syn = {n: st for n, (side, st) in named.items() if side == "syn"}
        pre = {n: st for n, (side, st) in named.items() if side == "pre"}
        for w, x in ((toks[2], toks[4]), (toks[4], toks[2])):
            if w in syn and x in pre and syn[w].ctype == "scalar" and pre[x].ctype == "scalar" \
                    and pre[x].element_dim:
                return syn[w], pre[x]
        return None

    def gemv_lowered(self, sg, k, g_st, x_st):
        """inSyn[b, j] += sum_i x[b, i] g[i, j] for a recognised ``addToPost(g * x_pre)``."""
        insyn = self.insyn_array(sg)
        # The generated register-blocked product is as fast as OpenBLAS here and keeps every batch
        # instance bit-identical to a batch-1 run; BLAS only on request.
        blas = self.m.preferences.get("use_blas") is True and not g_st.batched
        G, X, C = k.arr(g_st), k.arr(x_st), k.arr(insyn)
        return self.blocked_product(sg, k, g_st, x_st, G, X, C, blas)

    def blocked_product(self, sg, k, g_st, x_st, G, X, C, blas=False):
        """Register-blocked product over fixed blocks of presynaptic rows.

        Each row block sums its rows in increasing order (multiply, then add: no fused
        multiply-add, like the rest of the generated code) into a partial held in vector
        registers; the partials are then added to inSyn in block order. Blocks, batch tiles and
        column tiles depend only on the model's sizes, so every thread count, and every batch size
        for a given batch instance, performs exactly the same arithmetic. Threads take whole row
        blocks: each streams a contiguous share of the weights, which stays in its own L2 cache.
        """
        g, B = self.g, self.B
        npre, npost = sg.src.num_neurons, sg.trg.num_neurons
        # fused multiply-adds in this kernel only (half the arithmetic instructions); every thread
        # count and batch size still runs exactly the same operations
        k.attributes = ' __attribute__((optimize("fp-contract=fast")))'
        nblocks = self.dense_row_blocks(npre, npost)
        # one block runs on one thread (the caller makes it a single-threaded kernel)
        par = _omp(g, "for schedule(static)") if nblocks > 1 else ""
        # register tile: bt batch instances x jv vectors of columns (32 vector registers with
        # AVX-512: up to 16 accumulators; half that with 16 registers)
        wide = vector_bytes() == 64                  # AVX-512
        if wide:
            bt = 1 if g_st.batched else min(8, B)
            jv = {1: 8, 2: 4, 3: 2, 4: 4}.get(bt, 3)
        else:
            # 16 registers (AVX2 or SSE) hold bt * jv accumulators, jv weight vectors and the
            # broadcast input; 6 x 2 measured fastest at batch 32 on an AVX2 Zen 2 (4 x 3 spills)
            bt = 1 if g_st.batched else min(6, B)
            jv = {1: 8, 2: 4, 3: 3}.get(bt, 2)
        stride = self.partial_stride(B * npost)
        part = g.internal_array(sg, "product_partials", "scalar", False, lambda: nblocks * stride)
        P = k.arr(part)

        def x_at(b, i):
            return f"{X}[{'(size_t)(' + b + ') * ' + str(npre) + 'u + ' if x_st.batched else ''}{i}]"

        def g_row(b, i):
            base = f"(size_t)({b}) * {npre * npost}u + " if g_st.batched else ""
            return f"{G} + {base}(size_t)({i}) * {npost}u"

        vlen = vector_bytes() // self.scalar_bytes()

        def tile(nv, bt):
            """Sum rows i0..i1 for a tile of bt batch instances x nv vectors of columns at ng_jt."""
            return [
                "    {",
                f"    ng_vec ng_acc[{bt}][{nv}];",
                f"    for (int ng_bb = 0; ng_bb < {bt}; ng_bb++) for (int ng_v = 0; ng_v < {nv}; ng_v++) "
                "ng_acc[ng_bb][ng_v] = ng_vzero();",
                "    for (uint32_t ng_i = ng_i0; ng_i < ng_i1; ng_i++) {",
                f"    const scalar* ng_gr = {g_row('ng_bt', 'ng_i')} + ng_jt;",
                f"    ng_vec ng_g[{nv}];",
                f"    for (int ng_v = 0; ng_v < {nv}; ng_v++) ng_g[ng_v] = ng_vload(ng_gr + ng_v * {vlen});",
                f"    for (int ng_bb = 0; ng_bb < {bt}; ng_bb++) {{",
                f"    const scalar ng_xv = {x_at('ng_bt + ng_bb', 'ng_i')};",
                f"    for (int ng_v = 0; ng_v < {nv}; ng_v++) ng_acc[ng_bb][ng_v] += ng_xv * ng_g[ng_v];",
                "    }", "    }",
                f"    for (int ng_bb = 0; ng_bb < {bt}; ng_bb++) for (int ng_v = 0; ng_v < {nv}; ng_v++) "
                f"ng_vstore(ng_part + (size_t)(ng_bt + ng_bb) * {npost}u + ng_jt + ng_v * {vlen}, ng_acc[ng_bb][ng_v]);",
                "    }"]

        def batches(body):
            # batch tiles of bt inside a column tile (its weights stay in L1 for every batch tile),
            # then one narrower tile of the remaining instances (no instance is computed twice)
            full, tail = B // bt * bt, B % bt
            code = [f"    for (int ng_bt = 0; ng_bt < {full}; ng_bt += {bt}) {{", *body(bt), "    }"]
            if tail:
                code += ["    {", f"    const int ng_bt = {full};", *body(tail), "    }"]
            return code

        jt = jv * vlen
        if bt == 1 and npost >= 4 * vlen and not blas:
            columns = batches(lambda _: self.row_stream(npost, vlen, x_at, g_row))
        elif npost >= vlen:
            # full column tiles, then one tile of the remaining vectors ending exactly at npost (it may
            # overlap the previous tile: overlapping columns get the same values again)
            columns = [f"    for (uint32_t ng_jt = 0; ng_jt + {jt}u <= {npost}u; ng_jt += {jt}u) {{",
                       *batches(lambda b: tile(jv, b)), "    }"]
            rest = npost % jt
            if npost < jt:
                # narrower than one full tile: a tile of whole vectors at 0, and one ending at npost
                nv = npost // vlen
                starts = [0] + ([npost - nv * vlen] if npost % vlen else [])
                columns = []
                for start in starts:
                    columns += ["    {", f"    const uint32_t ng_jt = {start}u;", *batches(lambda b: tile(nv, b)), "    }"]
            elif rest:
                nv = -(-rest // vlen)
                columns += ["    {", f"    const uint32_t ng_jt = {npost - nv * vlen}u;", *batches(lambda b: tile(nv, b)), "    }"]
        else:
            # fewer columns than one vector: one vector per row holds the whole row (and the start of
            # the next, ignored); rows whose vector would run past the weights finish in scalars
            safe = max(0, (npre * npost - vlen) // npost + 1)
            columns = batches(lambda bt: [
                "    const uint32_t ng_jt = 0; (void)ng_jt;",
                f"    ng_vec ng_acc[{bt}];",
                f"    for (int ng_bb = 0; ng_bb < {bt}; ng_bb++) ng_acc[ng_bb] = ng_vzero();",
                "    uint32_t ng_i = ng_i0;",
                f"    for (; ng_i < NG_MIN(ng_i1, {safe}u); ng_i++) {{",
                f"    const ng_vec ng_gv = ng_vload({g_row('ng_bt', 'ng_i')});",
                f"    for (int ng_bb = 0; ng_bb < {bt}; ng_bb++) ng_acc[ng_bb] += {x_at('ng_bt + ng_bb', 'ng_i')} * ng_gv;",
                "    }",
                f"    scalar ng_t[{bt}][{vlen}];",
                f"    for (int ng_bb = 0; ng_bb < {bt}; ng_bb++) ng_vstore(ng_t[ng_bb], ng_acc[ng_bb]);",
                "    for (; ng_i < ng_i1; ng_i++) {",
                f"    for (int ng_bb = 0; ng_bb < {bt}; ng_bb++) for (uint32_t ng_j = 0; ng_j < {npost}u; ng_j++) "
                f"ng_t[ng_bb][ng_j] += {x_at('ng_bt + ng_bb', 'ng_i')} * ({g_row('ng_bt', 'ng_i')})[ng_j];",
                "    }",
                f"    for (int ng_bb = 0; ng_bb < {bt}; ng_bb++) for (uint32_t ng_j = 0; ng_j < {npost}u; ng_j++) "
                f"ng_part[(size_t)(ng_bt + ng_bb) * {npost}u + ng_j] = ng_t[ng_bb][ng_j];"])
        pre = []
        if blas:
            # one GEMM per row block (OpenBLAS kept single-threaded while the model runs):
            # partial(B x npost) = X[:, i0:i1] G[i0:i1, :], i.e. column-major C = G^T X^T
            gemm = g.internal_array(sg, "blas_gemm", "void*", False, lambda: 1)
            gemm.kind = "blas"
            pre = [f"    const ng_gemm_t ng_gemm = (ng_gemm_t)ng_P[{g.slot(gemm)}];"]
            columns = ["    char ng_tn = 'N';",
                       f"    int ng_m = {npost}, ng_n = {B if x_st.batched else 1}, ng_kk = (int)(ng_i1 - ng_i0), "
                       f"ng_lda = {npost}, ng_ldb = {npre}, ng_ldc = {npost};",
                       "    scalar ng_alpha = 1, ng_beta = 0;",
                       f"    ng_gemm(&ng_tn, &ng_tn, &ng_m, &ng_n, &ng_kk, &ng_alpha, {G} + (size_t)ng_i0 * {npost}u, "
                       f"&ng_lda, {X} + ng_i0, &ng_ldb, &ng_beta, ng_part, &ng_ldc);"]
        shared_x = blas and not x_st.batched       # one product row serves every batch instance
        part_index = f"(size_t)ng_rb * {stride}u + " + (f"ng_e % {npost}u" if shared_x else "ng_e")
        return pre + [par,
                f"    for (int ng_rb = 0; ng_rb < {nblocks}; ng_rb++) {{",
                f"    const uint32_t ng_i0 = (uint32_t)((uint64_t)ng_rb * {npre}u / {nblocks}u);",
                f"    const uint32_t ng_i1 = (uint32_t)((uint64_t)(ng_rb + 1) * {npre}u / {nblocks}u);",
                f"    scalar* restrict ng_part = {P} + (size_t)ng_rb * {stride}u;",
                *columns,
                "    }",
                par,
                f"    for (size_t ng_e = 0; ng_e < {B * npost}u; ng_e++) {{",
                f"    scalar ng_s = {C}[ng_e];",
                f"    for (int ng_rb = 0; ng_rb < {nblocks}; ng_rb++) ng_s += {P}[{part_index}];",
                f"    {C}[ng_e] = ng_s;", "    }"]

    @staticmethod
    def row_stream(npost, vlen, x_at, g_row, rows=4):
        """One batch instance's partial over rows i0..i1, streaming whole weight rows.

        With one batch instance per tile a weight vector is used once, so the product is bound by
        reading the weights; walking them row by row (``rows`` rows per pass over the partial,
        which stays in L1) reads memory sequentially and measured 1.5x faster than column tiles
        (which stride through every row once per tile) on a 784 x 500 float matrix from L3.
        Each column still sums its rows in increasing order with the same multiply-adds as a
        column tile, so the results are bit-identical to the tiled product."""
        def update(acc, j, load):
            return [f"    {acc} += ng_x{r} * {load(f'ng_g{r} + {j}')};" for r in range(rows)]

        def group(n):
            """Pass over the partial adding rows ng_i .. ng_i + n - 1, in that order."""
            return [*[f"    const scalar* ng_g{r} = {g_row('ng_bt', f'ng_i + {r}u')};" for r in range(n)],
                    *[f"    const scalar ng_x{r} = {x_at('ng_bt', f'ng_i + {r}u')};" for r in range(n)],
                    "    uint32_t ng_j = 0;",
                    f"    for (; ng_j + {vlen}u <= {npost}u; ng_j += {vlen}u) {{",
                    "    ng_vec ng_a = ng_vload(ng_p + ng_j);",
                    *update("ng_a", "ng_j", lambda a: f"ng_vload({a})")[:n],
                    "    ng_vstore(ng_p + ng_j, ng_a);", "    }",
                    f"    for (; ng_j < {npost}u; ng_j++) {{",
                    "    scalar ng_a = ng_p[ng_j];",
                    *update("ng_a", "ng_j", lambda a: f"*({a})")[:n],
                    "    ng_p[ng_j] = ng_a;", "    }"]
        return [f"    scalar* restrict ng_p = ng_part + (size_t)ng_bt * {npost}u;",
                f"    for (uint32_t ng_j = 0; ng_j < {npost}u; ng_j++) ng_p[ng_j] = 0;",
                "    uint32_t ng_i = ng_i0;",
                f"    for (; ng_i + {rows}u <= ng_i1; ng_i += {rows}u) {{", *group(rows), "    }",
                "    for (; ng_i < ng_i1; ng_i++) {", *group(1), "    }"]

    def row_loop(self, k, sg, sparse, inner, lo="0", hi=None):
        g = self.g
        npost = sg.trg.num_neurons
        if sparse:
            rowlen = g.internal["%s" % sg.name, "row_length"]
            ind = g.internal[sg.name, "ind"]
            return [f"    const uint32_t ng_rl = {k.arr(rowlen)}[ng_ipre];",
                    "    for (uint32_t ng_s = 0; ng_s < ng_rl; ng_s++) {",
                    "    const size_t ng_isyn = (size_t)ng_ipre * ng_stride + ng_s;",
                    f"    const uint32_t ng_ipost = {k.arr(ind)}[ng_isyn];",
                    inner, "    }"]
        hi = hi or f"{npost}u"
        return [f"    for (uint32_t ng_ipost = {lo}; ng_ipost < {hi}; ng_ipost++) {{",
                f"    const size_t ng_isyn = (size_t)ng_ipre * {npost}u + ng_ipost;",
                inner, "    }"]

    # ================================================================== spikes & recording
    def spike_kernel(self, pop):
        g, B, N = self.g, self.B, pop.num_neurons
        k = Kernel(g, f"spikes_{pop.name}", f"static void ng_spikes_{pop.name}(void** restrict ng_P, int64_t ng_ts)")
        cnt, spk = self.spike_arrays(pop)
        flag = g.internal[pop.name, "spk_flag"]
        head, foot = self.batch_loop()
        lines = head + ["    uint32_t ng_c = 0;",
                 f"    const uint8_t* restrict ng_f = {k.arr(flag)} + (size_t)ng_b * {N}u;",
                 f"    uint32_t* restrict ng_out = {k.arr(spk)} + (size_t)ng_b * {N}u;",
                 # scan 8 flags at a time: most words are zero in a sparsely firing population
                 f"    for (uint32_t ng_w = 0; ng_w < {N // 8}u; ng_w++) {{",
                 "    uint64_t ng_v; memcpy(&ng_v, ng_f + 8u * ng_w, 8);",
                 "    if (!ng_v) continue;",
                 "    for (uint32_t ng_i = 8u * ng_w; ng_i < 8u * ng_w + 8u; ng_i++) { ng_out[ng_c] = ng_i; ng_c += ng_f[ng_i]; }",
                 "    }",
                 f"    for (uint32_t ng_i = {8 * (N // 8)}u; ng_i < {N}u; ng_i++) {{ ng_out[ng_c] = ng_i; ng_c += ng_f[ng_i]; }}",
                 f"    {k.arr(cnt)}[ng_b] = ng_c;"]
        if pop.spike_recording_enabled:
            words = (N + 31) // 32
            rec = g.internal_array(pop, "spike_rec", "uint32_t", False,
                                   lambda: self.m._backend.num_recording_timesteps * B * words)
            nrec = g.size_expr("num_recording_timesteps")
            lines += [f"    uint32_t* restrict ng_row = {k.arr(rec)} + ((size_t)(ng_ts % {nrec}) * {B} + ng_b) * {words}u;",
                      f"    memset(ng_row, 0, {words}u * sizeof(uint32_t));",
                      "    for (uint32_t ng_k = 0; ng_k < ng_c; ng_k++) { const uint32_t ng_j = ng_out[ng_k]; "
                      "ng_row[ng_j >> 5] |= 1u << (ng_j & 31u); }"]
        lines += foot
        k.lines = lines
        self.static_functions.append(k.render())
        self.step_calls.append(("spikes", self.call(f"ng_spikes_{pop.name}", str(B))))

    def batch_loop(self):
        """Head and foot of a loop over batch instances ``ng_b`` (one GPU thread each on CUDA)."""
        return [f"    for (int ng_b = 0; ng_b < {self.B}; ng_b++) {{"], ["    }"]

    def recording_buffer(self, pop, name):
        """(variable storage, elements per step, ring buffer, rows expression) of a recorded variable."""
        st = pop.vars[name]._st
        n_elem = (pop.num_neurons if st.element_dim else 1) * (self.B if st.batched else 1)
        buf = self.g.internal_array(pop, f"rec:{name}", st.ctype, False,
                                    lambda: self.m._backend.var_recording_rows(pop, name) * n_elem)
        return st, n_elem, buf, self.g.size_expr(f"recrows:{pop.name}:{name}")

    def stream_buffer(self, pop, name):
        """(variable storage, elements per step, stream data, start and length expressions)."""
        st = pop.vars[name]._st
        n_elem = (pop.num_neurons if st.element_dim else 1) * (self.B if st.batched else 1)
        data = self.g.internal_array(pop, f"stream:{name}", st.ctype, False,
                                     lambda: self.m._backend.stream_length(pop, name) * n_elem)
        return (st, n_elem, data, self.g.size_expr(f"stream_start:{pop.name}:{name}"),
                self.g.size_expr(f"stream_len:{pop.name}:{name}"))

    @staticmethod
    def copy_elements(dst, dst_offset, src, src_offset, n):
        """Copy ``n`` elements (one per thread on CUDA)."""
        return [f"    memcpy({dst} + {dst_offset}, {src} + {src_offset}, {n}u * sizeof(*{dst}));"]

    def var_recording_kernel(self, pop, name, every):
        g = self.g
        st, n_elem, buf, rows = self.recording_buffer(pop, name)
        k = Kernel(g, f"rec_{pop.name}_{name}", f"static void ng_rec_{pop.name}_{name}(void** restrict ng_P, int64_t ng_ts)")
        k.lines = [f"    if ((ng_ts + 1) % {every} != 0) return;",
                   f"    const int64_t ng_row = ((ng_ts + 1) / {every} - 1) % {rows};",
                   *self.copy_elements(k.arr(buf), f"(size_t)ng_row * {n_elem}u", k.arr(st), "0", n_elem)]
        self.static_functions.append(k.render())
        self.step_calls.append(("record", self.call(f"ng_rec_{pop.name}_{name}", str(n_elem))))

    def stream_kernel(self, pop, name):
        g = self.g
        st, n_elem, data, start, length = self.stream_buffer(pop, name)
        k = Kernel(g, f"stream_{pop.name}_{name}", f"static void ng_stream_{pop.name}_{name}(void** restrict ng_P, int64_t ng_ts)")
        k.lines = [f"    const int64_t ng_rel = ng_ts - {start};",
                   f"    if (ng_rel < 0 || ng_rel >= {length}) return;",
                   *self.copy_elements(k.arr(st), "0", k.arr(data), f"(size_t)ng_rel * {n_elem}u", n_elem)]
        self.static_functions.append(k.render())
        self.step_calls.append(("stream", self.call(f"ng_stream_{pop.name}_{name}", str(n_elem))))

    # ================================================================== custom updates
    def custom_update_kernel(self, cu):
        g, B = self.g, self.B
        spec = cu.model
        desc = cu._describe()
        ctx = f"custom update '{cu.name}' update_code"
        fname = f"ng_cu_{cu.name}"
        k = Kernel(g, fname, f"static void {fname}(void** restrict ng_P, int64_t ng_timestep)")
        sg = cu.synapse_group
        nb = B if cu.batched else 1
        if sg is not None:
            npre, npost = sg.src.num_neurons, sg.trg.num_neurons
            sparse = sg.matrix_type == SynapseMatrixType.SPARSE
            n_expr = "ng_nsyn"
            names = g.common_names({"id_pre": Name("ng_ipre"), "id_post": Name("ng_ipost"),
                                    "id_syn": Name("ng_i"), "num_pre": Name(str(npre)),
                                    "num_post": Name(str(npost))})
        else:
            n_expr = str(cu.num_neurons)
            names = g.common_names({"id": Name("ng_i"), "num_neurons": Name(n_expr)})
        names.update(g.param_names(cu, spec, cu.params, k, "cu", cu.dynamic_params))
        names.update(g.egp_names(cu, spec, k))
        loads, stores, red_init, red_acc, red_store = [], [], [], [], []
        batch_red = neuron_red = False
        for v in spec.vars:
            st = cu.vars[v.name]._st
            mode = v.access.mode
            if mode.is_reduction:
                acc = f"ng_acc_{v.name}"
                neutral = "0" if mode == VarAccessMode.REDUCE_SUM else "-INFINITY"
                red_init.append(f"{c_ctype(v.type)} {acc} = {neutral};")
                op = f"{acc} += ng_l_{v.name};" if mode == VarAccessMode.REDUCE_SUM else \
                    f"{acc} = NG_MAX({acc}, ng_l_{v.name});"
                red_acc.append(f"{c_ctype(v.type)} ng_l_{v.name} = {neutral};")
                red_store.append((op, f"{k.arr(st)}[{g.index(st, 'ng_i', n_expr)}] = {acc};"))
                if v.access.drops == "drop_element":
                    neuron_red = True
                else:
                    batch_red = True
                names[v.name] = Name(f"ng_l_{v.name}", True)
                continue
            idx = g.index(st, "ng_i", n_expr)
            loads.append(f"{c_ctype(v.type)} ng_l_{v.name} = {k.arr(st)}[{idx}];")
            if mode.writable:
                stores.append(f"{k.arr(st)}[{idx}] = ng_l_{v.name};")
            names[v.name] = Name(f"ng_l_{v.name}", mode.writable, g.var_reason(st, cu))
        transposes = []
        for r in spec.var_refs:
            ref = cu.var_refs[r.name]
            st = cu.ref_storages[r.name]
            self.check_ref_type(desc, r, st)
            if ref.kind in ("wu_pre",):
                n = str(ref.group.src.num_neurons)
            elif ref.kind in ("wu_post", "psm"):
                n = str(ref.group.trg.num_neurons)
            else:
                n = n_expr
            idx = g.index(st, "ng_i", n)
            mode = r.access
            if cu.batched and not st.batched and mode == VarAccessMode.READ_WRITE:
                raise ModelDefinitionError(
                    f"{desc}: reference '{r.name}' may write variable '{st.name.split(':')[-1]}' of "
                    f"{st.group._describe()}, which is shared across the batch (READ_ONLY) while the update is "
                    "batched; declare the reference VarAccessMode.READ_ONLY or REDUCE_SUM/REDUCE_MAX")
            if mode.is_reduction:
                acc = f"ng_acc_{r.name}"
                neutral = "0" if mode == VarAccessMode.REDUCE_SUM else "-INFINITY"
                red_init.append(f"{c_ctype(r.type)} {acc} = {neutral};")
                op = f"{acc} += ng_r_{r.name};" if mode == VarAccessMode.REDUCE_SUM else \
                    f"{acc} = NG_MAX({acc}, ng_r_{r.name});"
                red_acc.append(f"{c_ctype(r.type)} ng_r_{r.name} = {neutral};")
                red_store.append((op, f"{k.arr(st)}[{idx}] = {acc};"))
                batch_red = True
                names[r.name] = Name(f"ng_r_{r.name}", True)
                continue
            loads.append(f"{c_ctype(r.type)} ng_r_{r.name} = {k.arr(st)}[{idx}];")
            if mode.writable:
                stores.append(f"{k.arr(st)}[{idx}] = ng_r_{r.name};")
            names[r.name] = Name(f"ng_r_{r.name}", mode.writable, f"reference '{r.name}' is READ_ONLY")
            if ref.transpose_group is not None:
                tst = ref.transpose_group.vars[ref.transpose_var_name]._st
                tidx = g.index(tst, "((size_t)ng_ipost * %du + ng_ipre)" % npre, n_expr)
                transposes.append(f"{k.arr(tst)}[{tidx}] = ng_r_{r.name};")
        if batch_red and neuron_red:
            raise ModelDefinitionError(f"{desc}: cannot reduce over the batch and over neurons in one update")
        scope = g.scope(ctx, names)
        text = translate(spec.code.get("update_code"), scope)
        rng = g.rng_prologue(scope, f"(size_t)ng_b * {n_expr} + ng_i", g.stream_id(cu, "cu"))
        lines = ["    const timepoint ng_t = (timepoint)ng_timestep * ng_dt; (void)ng_t;",
                 "    const uint32_t ng_step = (uint32_t)ng_timestep; (void)ng_step;"]
        elem_head = []
        if sg is not None:
            if sparse:
                stride = g.size_expr(f"stride:{sg.name}")
                rowlen = g.internal_array(sg, "row_length", "uint32_t", False, lambda: npre)
                ind = self.ind_array(sg)
                lines.append(f"    const size_t ng_stride = (size_t){stride};")
                lines.append(f"    const size_t ng_nsyn = ng_stride * {npre}u;")
                elem_head = ["const uint32_t ng_ipre = (uint32_t)(ng_i / ng_stride);",
                             f"if (ng_i % ng_stride >= {k.arr(rowlen)}[ng_ipre]) continue;",
                             f"const uint32_t ng_ipost = {k.arr(ind)}[ng_i];"]
            else:
                lines.append(f"    const size_t ng_nsyn = (size_t){npre}u * {npost}u;")
                elem_head = [f"const uint32_t ng_ipre = (uint32_t)(ng_i / {npost}u);",
                             f"const uint32_t ng_ipost = (uint32_t)(ng_i % {npost}u);"]
        body = "\n".join(elem_head + loads + red_acc + [rng, _line_block(ctx, text)] + stores + transposes)
        ops = "\n".join(op for op, _ in red_store)
        st_lines = "\n".join(s for _, s in red_store)
        lines += self.custom_update_loops(k, batch_red, neuron_red, n_expr, nb, red_init, body, ops, st_lines)
        k.lines = lines
        self.static_functions.append(k.render())
        self.g.cu_groups.setdefault(cu.update_group, []).append(
            self.call(fname, self.custom_update_threads(cu, batch_red, neuron_red, nb), "ng_timestep"))

    def custom_update_threads(self, cu, batch_red, neuron_red, nb):
        sg = cu.synapse_group
        if sg is None:
            n = str(cu.num_neurons)
        elif sg.matrix_type == SynapseMatrixType.DENSE:
            n = f"(int64_t){sg.src.num_neurons} * {sg.trg.num_neurons}"
        else:
            n = f"(int64_t){sg.src.num_neurons} * {self.g.size_expr('stride:' + sg.name)}".replace(
                "ng_sizes", "ng_hsizes")
        return n if batch_red else str(nb) if neuron_red else f"{nb} * {n}"

    def custom_update_loops(self, k, batch_red, neuron_red, n_expr, nb, red_init, body, ops, st_lines):
        if batch_red:
            # reduce over batch instances: element loop outside, batch loop inside
            return [f"    for (size_t ng_i = 0; ng_i < (size_t){n_expr}; ng_i++) {{", *red_init,
                    f"    for (int ng_b = 0; ng_b < {nb}; ng_b++) {{", body, ops, "    }",
                    "    { const int ng_b = 0; (void)ng_b;", st_lines, "    }", "    }"]
        if neuron_red:
            return [f"    for (int ng_b = 0; ng_b < {nb}; ng_b++) {{", *red_init,
                    f"    for (size_t ng_i = 0; ng_i < (size_t){n_expr}; ng_i++) {{", body, ops, "    }",
                    "    { const size_t ng_i = 0; (void)ng_i;", st_lines, "    }", "    }"]
        return [f"    for (int ng_b = 0; ng_b < {nb}; ng_b++) {{",
                f"    for (size_t ng_i = 0; ng_i < (size_t){n_expr}; ng_i++) {{", body, "    }", "    }"]

    # ================================================================== initialisation
    def var_init_function(self, st, group, n_expr, synapse_group=None):
        """Generate C that initialises storage ``st`` from its snippet; returns its case index."""
        g, B = self.g, self.B
        init = st.init
        snippet = init.snippet
        vname = st.name.split(":")[-1]
        ctx = f"variable '{vname}' of {group._describe()} var_init_code ({snippet.class_name})"
        k = Kernel(g, "init", "")
        names = g.common_names({"value": Name("ng_value", True)})
        params = {}
        for p in snippet.params:
            if p.name not in init.params:
                raise ModelDefinitionError(f"variable '{vname}' of {group._describe()}: init_var("
                                           f"'{snippet.class_name}') is missing parameter '{p.name}'")
            params[p.name] = init.params[p.name]
        extra = set(init.params) - set(params)
        if extra:
            raise ModelDefinitionError(f"variable '{vname}' of {group._describe()}: init_var("
                                       f"'{snippet.class_name}') got unknown parameter(s) {', '.join(sorted(extra))}")
        names.update(g.param_names(group, snippet, params, k, "init"))
        head = []
        if synapse_group is not None:
            sg = synapse_group
            npre, npost = sg.src.num_neurons, sg.trg.num_neurons
            names.update({"id_pre": Name("ng_ipre"), "id_post": Name("ng_ipost"), "id_syn": Name("ng_i"),
                          "num_pre": Name(str(npre)), "num_post": Name(str(npost))})
            if sg.matrix_type == SynapseMatrixType.SPARSE:
                ind = self.ind_array(sg)
                head = [f"const size_t ng_stride = (size_t){g.size_expr('stride:' + sg.name)};",
                        "const uint32_t ng_ipre = (uint32_t)(ng_i / ng_stride);",
                        f"const uint32_t ng_ipost = {k.arr(ind)}[ng_i];"]
            else:
                head = [f"const uint32_t ng_ipre = (uint32_t)(ng_i / {npost}u);",
                        f"const uint32_t ng_ipost = (uint32_t)(ng_i % {npost}u);"]
        else:
            names.update({"id": Name("ng_i"), "num_neurons": Name(n_expr)})
        scope = g.scope(ctx, names)
        text = translate(snippet.code.get("var_init_code"), scope)
        nb = B if st.batched else 1
        n_loop = n_expr if st.element_dim else "1"
        rng = g.rng_prologue(scope, f"(size_t)ng_b * ({n_loop}) + ng_i", g.stream_id(group, "init:" + st.name))
        k.lines = [f"    for (int ng_b = 0; ng_b < {nb}; ng_b++) {{",
                   f"    for (size_t ng_i = 0; ng_i < (size_t)({n_loop}); ng_i++) {{",
                   *head, "    const uint32_t ng_step = 0;",
                   f"    {c_ctype(st.ctype)} ng_value = 0;", rng, _line_block(ctx, text),
                   f"    {k.arr(st)}[{g.index(st, 'ng_i', '(' + n_loop + ')')}] = ng_value;", "    }", "    }"]
        return k

    def init_functions(self):
        """One exported dispatcher initialising any variable by case number."""
        g = self.g
        cases = []
        for group, st, n_expr, sg in self.iter_var_storages():
            if not isinstance(st.init, VarInit):
                continue
            name = st.init.snippet.class_name
            if name in ("Constant", "Uninitialised") and st.init.snippet is self._builtin_snippet(name):
                continue
            k = self.var_init_function(st, group, n_expr, sg)
            idx = len(cases)
            k.signature = f"static void ng_init_{idx}(void** restrict ng_P)"
            self.static_functions.append(k.render())
            cases.append(st)
        g.var_init_cases = {id(st): i for i, st in enumerate(cases)}   # storage -> case number
        body = "\n".join(f"    case {i}: ng_init_{i}(ng_P); return 0;" for i in range(len(cases)))
        self.exports.append(f"int NGPREFIX_init_var(void** ng_P, int ng_which) {{\n    switch (ng_which) {{\n{body}\n"
                            "    default: return -1;\n    }\n}\n")

    @staticmethod
    def _builtin_snippet(name):
        from ...builtin_models import VAR_INIT_SNIPPETS
        return VAR_INIT_SNIPPETS[name]

    def iter_var_storages(self):
        m = self.m
        for pop in m.neuron_populations.values():
            for v in pop.vars.values():
                yield pop, v._st, str(pop.num_neurons), None
        for cs in m.current_sources.values():
            for v in cs.vars.values():
                yield cs, v._st, str(cs.num_neurons), None
        for sg in m.synapse_populations.values():
            n = f"({sg.src.num_neurons}u * {sg.trg.num_neurons}u)" if sg.matrix_type == SynapseMatrixType.DENSE \
                else f"((size_t){sg.src.num_neurons}u * (size_t){self.g.size_expr('stride:' + sg.name)})"
            for v in sg.vars.values():
                yield sg, v._st, n, sg
            for v in sg.pre_vars.values():
                yield sg, v._st, str(sg.src.num_neurons), None
            for v in sg.post_vars.values():
                yield sg, v._st, str(sg.trg.num_neurons), None
            for v in sg.psm_vars.values():
                yield sg, v._st, str(sg.trg.num_neurons), None
        for cu in m.custom_updates.values():
            sg = cu.synapse_group
            if sg is not None:
                n = f"({sg.src.num_neurons}u * {sg.trg.num_neurons}u)" if sg.matrix_type == SynapseMatrixType.DENSE \
                    else f"((size_t){sg.src.num_neurons}u * (size_t){self.g.size_expr('stride:' + sg.name)})"
            else:
                n = str(cu.num_neurons)
            for v in cu.vars.values():
                yield cu, v._st, n, sg

    def conn_init_functions(self):
        g = self.g
        cases = []
        for sg in self.m.synapse_populations.values():
            if sg.matrix_type != SynapseMatrixType.SPARSE or sg.conn is None:
                continue
            snippet = sg.conn.snippet
            ctx = f"synapse population '{sg.name}' row_build_code ({snippet.class_name})"
            k = Kernel(g, "conn", "")
            npre, npost = sg.src.num_neurons, sg.trg.num_neurons
            names = g.common_names({"id_pre": Name("ng_ipre"), "num_pre": Name(str(npre)),
                                    "num_post": Name(str(npost)), "id_post_begin": Name("0"),
                                    "id_thread": Name("0"), "num_threads": Name("1")})
            missing = [p.name for p in snippet.params if p.name not in sg.conn.params]
            if missing:
                raise ModelDefinitionError(f"synapse population '{sg.name}': connectivity "
                                           f"'{snippet.class_name}' is missing parameter(s) {', '.join(missing)}")
            extra = set(sg.conn.params) - set(snippet.param_names())
            if extra:
                raise ModelDefinitionError(f"synapse population '{sg.name}': connectivity "
                                           f"'{snippet.class_name}' got unknown parameter(s) {', '.join(sorted(extra))}")
            names.update(g.param_names(sg, snippet, sg.conn.params, k, "conn"))
            scope = g.scope(ctx, names, {"addSynapse": "ng_addSynapse"})
            text = translate(snippet.code.get("row_build_code"), scope)
            rowlen = g.internal_array(sg, "row_length", "uint32_t", False, lambda: npre)
            ind = self.ind_array(sg)
            idx = len(cases)
            rng = g.rng_prologue(scope, "ng_ipre", g.stream_id(sg, "conn"))
            k.signature = f"static int ng_conn_{idx}(void** restrict ng_P)"
            k.lines = [f"    const size_t ng_stride = (size_t){g.size_expr('stride:' + sg.name)};",
                       "    int ng_overflow = 0;",
                       f"    for (uint32_t ng_ipre = 0; ng_ipre < {npre}u; ng_ipre++) {{",
                       "    uint32_t ng_rl = 0; const uint32_t ng_step = 0; const int ng_b = 0; (void)ng_b;",
                       f"#define ng_addSynapse(j) do {{ if (ng_rl < ng_stride) {{ {k.arr(ind)}[(size_t)ng_ipre * ng_stride + ng_rl] = ({ind.ctype})(j); ng_rl++; }} else {{ ng_overflow = 1; }} }} while (0)",
                       rng, _line_block(ctx, text), "#undef ng_addSynapse",
                       f"    {k.arr(rowlen)}[ng_ipre] = ng_rl;", "    }", "    return ng_overflow;"]
            self.static_functions.append(k.render())
            cases.append(sg)
        g.conn_init_cases = cases
        body = "\n".join(f"    case {i}: return ng_conn_{i}(ng_P);" for i in range(len(cases)))
        self.exports.append(f"int NGPREFIX_init_conn(void** ng_P, int ng_which) {{\n    switch (ng_which) {{\n{body}\n"
                            "    default: return -1;\n    }\n}\n")

    # ================================================================== assembly
    def write_all(self):
        m = self.m
        self.exports = []
        for pop in m.neuron_populations.values():
            for name in sorted(pop.streams):
                self.stream_kernel(pop, name)
        for kind in ("synapse_dynamics_code", "pre_spike_syn_code", "post_spike_syn_code"):
            for sg in m.synapse_populations.values():
                if kind == "post_spike_syn_code" and sg.wu.model.code.get(kind) and not sg.trg.model.code.get(
                        "threshold_condition_code"):
                    raise ModelDefinitionError(f"synapse population '{sg.name}': post_spike_syn_code needs a "
                                               f"spiking target, but '{sg.trg.name}' has no threshold condition")
                if kind == "pre_spike_syn_code" and sg.wu.model.code.get(kind) and not sg.src.model.code.get(
                        "threshold_condition_code"):
                    raise ModelDefinitionError(f"synapse population '{sg.name}': pre_spike_syn_code needs a "
                                               f"spiking source, but '{sg.src.name}' has no threshold condition")
                self.synapse_kernel(sg, kind)
        for pop in m.neuron_populations.values():
            self.neuron_kernel(pop)
        for pop in self.spike_pops:
            self.spike_kernel(pop)
        for pop in m.neuron_populations.values():
            if pop.spike_recording_enabled and pop not in self.spike_pops:
                raise ModelDefinitionError(f"neuron population '{pop.name}': spike recording is enabled but its "
                                           f"model {pop.model.class_name!r} has no threshold condition")
            for name, every in sorted(pop.var_recording.items()):
                self.var_recording_kernel(pop, name, every)
        for cu in m.custom_updates.values():
            self.custom_update_kernel(cu)
        return self.assemble()

    def ordered_step_calls(self):
        order = ["stream", "dynamics", "presyn", "postsyn", "neuron", "spikes", "record"]
        return [(ph, call) for phase in order for ph, call in self.step_calls if ph.replace("_par", "") == phase]

    def assemble(self):
        m, g = self.m, self.g
        self.init_functions()
        self.conn_init_functions()
        order = ["stream", "dynamics", "presyn", "postsyn", "neuron", "spikes", "record"]
        threads = m.preferences["num_threads"]
        # Within the neuron, spike and recording phases every kernel touches only its own
        # population's arrays, so they run without barriers between them and one barrier closes
        # the phase; synapse kernels may share neuron variables and keep theirs.
        independent = {"neuron", "spikes", "record"}
        step = []
        # Consecutive single-threaded synapse kernels run as one `omp single` block: the same
        # kernels in the same order on one thread, with one closing barrier instead of one each
        # (a barrier costs ~0.5 us on a 2-vCPU VM; the MNIST microcircuit had seven in a row).
        serial = []

        def flush_serial():
            if serial:
                step.append("#pragma omp single\n    {\n" + "\n".join("    " + c for c in serial) + "\n    }")
                serial.clear()

        for phase in order:
            calls = [(ph, call) for ph, call in self.step_calls if ph.replace("_par", "") == phase]
            for ph, call in calls:
                if threads > 1 and not ph.endswith("_par"):
                    if phase in independent:
                        flush_serial()
                        step.append("#pragma omp single nowait\n    " + call)
                    else:
                        serial.append(call)
                else:
                    flush_serial()
                    step.append("    " + call)
            if threads > 1 and calls and (phase in independent or
                                          (phase == "presyn" and any(ph.endswith("_par") for ph, _ in calls))):
                flush_serial()
                step.append("#pragma omp barrier")
        flush_serial()
        par = f"#pragma omp parallel num_threads({threads})" if threads > 1 else ""
        # flush_denormals: every thread runs the steps with subnormals flushed to zero (MXCSR is
        # per thread) and restores the caller's mode afterwards
        ftz = bool(m.preferences.get("flush_denormals"))
        enter = "    const unsigned ng_csr = ng_flush_denormals_enter();\n" if ftz else ""
        leave = "    ng_flush_denormals_leave(ng_csr);\n" if ftz else ""
        run = ("int NGPREFIX_run(void** ng_P, int64_t ng_start, int64_t ng_n) {\n"
               f"{par}\n    {{\n{enter}    for (int64_t ng_s = 0; ng_s < ng_n; ng_s++) {{\n"
               "    const int64_t ng_ts = ng_start + ng_s;\n" + "\n".join(step) + f"\n    }}\n{leave}    }}\n"
               "    return 0;\n}\n")
        self.exports.append(run)
        for grp, calls in g.cu_groups.items():
            self.exports.append(f"int NGPREFIX_cu_{grp}(void** ng_P, int64_t ng_timestep) {{\n    "
                                + "\n    ".join(calls) + "\n    return 0;\n}\n")
        header = f"#define ng_dt ((timepoint){g.lit(m.dt, 'timepoint')})\n"
        return header + "\n".join(self.static_functions) + "\n" + "\n".join(self.exports)
