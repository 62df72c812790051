"""Layer and network wrappers: build one GeNNModel from a plain network description per learning
paradigm (microcircuit, recurrent_snn, predictive_coding, lagrangian, meta_plasticity).
Imports ``genn_models`` and ``neurogen``; never parses configs or writes files."""
