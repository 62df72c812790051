"""neurogen: a PyGeNN-5-compatible, code-generated simulator for rate and spiking networks.

Port a PyGeNN 5 script by changing ``from pygenn import ...`` to ``from neurogen import ...``.
"""
from .errors import BackendUnavailableError, BuildError, CodeError, ModelDefinitionError, NeurogenError
from .model import GeNNModel
from .models import (create_current_source_model, create_custom_update_model, create_neuron_model,
                     create_out_post_var_ref, create_postsynaptic_model, create_psm_var_ref,
                     create_sparse_connect_init_snippet, create_var_init_snippet, create_var_ref,
                     create_weight_update_model, create_wu_post_var_ref, create_wu_pre_var_ref, create_wu_var_ref,
                     init_postsynaptic, init_sparse_connectivity, init_var, init_weight_update)
from .types import (CustomUpdateVarAccess, ParallelismHint, SynapseMatrixType, VarAccess, VarAccessDim,
                    VarAccessMode, VarLocation)

__version__ = "0.1.0"

__all__ = [
    "GeNNModel", "create_neuron_model", "create_weight_update_model", "create_postsynaptic_model",
    "create_current_source_model", "create_custom_update_model", "create_var_init_snippet",
    "create_sparse_connect_init_snippet", "init_var", "init_weight_update", "init_postsynaptic",
    "init_sparse_connectivity", "create_var_ref", "create_wu_var_ref", "create_psm_var_ref",
    "create_wu_pre_var_ref", "create_wu_post_var_ref", "create_out_post_var_ref", "VarAccess",
    "VarAccessMode", "VarAccessDim", "CustomUpdateVarAccess", "SynapseMatrixType", "ParallelismHint",
    "VarLocation", "NeurogenError", "ModelDefinitionError", "CodeError", "BuildError",
    "BackendUnavailableError",
]
