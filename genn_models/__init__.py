"""The model library: neuron, synapse and custom-update models written as GeNN 5 code strings.

One module per family (dendritic, alif, eprop, predictive_coding, lagrangian, plasticity_rules,
optimisers, inputs); filled by the paradigm issues. Imports only ``neurogen``.
"""
