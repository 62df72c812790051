"""Enumerations mirroring PyGeNN 5: variable access, access modes, matrix types.

Access values combine a *mode* (how code may touch the variable) with *dims* (whether the
variable has an element axis and/or a batch axis), exactly as in GeNN 5.
"""
from enum import Enum, Flag


class VarAccessDim(Flag):
    ELEMENT = 1
    BATCH = 2


class VarAccessMode(Enum):
    READ_WRITE = "read_write"
    READ_ONLY = "read_only"
    BROADCAST = "broadcast"
    REDUCE_SUM = "reduce_sum"
    REDUCE_MAX = "reduce_max"

    @property
    def writable(self):
        return self is not VarAccessMode.READ_ONLY

    @property
    def is_reduction(self):
        return self in (VarAccessMode.REDUCE_SUM, VarAccessMode.REDUCE_MAX)


class VarAccess(Enum):
    """Access of neuron, synapse and current-source variables (mode, dims)."""
    READ_WRITE = (VarAccessMode.READ_WRITE, VarAccessDim.ELEMENT | VarAccessDim.BATCH)
    READ_ONLY = (VarAccessMode.READ_ONLY, VarAccessDim.ELEMENT)
    READ_ONLY_DUPLICATE = (VarAccessMode.READ_ONLY, VarAccessDim.ELEMENT | VarAccessDim.BATCH)
    READ_ONLY_SHARED_NEURON = (VarAccessMode.READ_ONLY, VarAccessDim.BATCH)

    @property
    def mode(self):
        return self.value[0]

    @property
    def dims(self):
        return self.value[1]


class CustomUpdateVarAccess(Enum):
    """Access of custom-update variables, relative to the dims of what the update is attached to."""
    READ_WRITE = (VarAccessMode.READ_WRITE, None)
    READ_ONLY = (VarAccessMode.READ_ONLY, None)
    READ_ONLY_SHARED = (VarAccessMode.READ_ONLY, "drop_batch")
    READ_ONLY_SHARED_NEURON = (VarAccessMode.READ_ONLY, "drop_element")
    BROADCAST_DELAY = (VarAccessMode.BROADCAST, None)
    REDUCE_BATCH_SUM = (VarAccessMode.REDUCE_SUM, "drop_batch")
    REDUCE_BATCH_MAX = (VarAccessMode.REDUCE_MAX, "drop_batch")
    REDUCE_NEURON_SUM = (VarAccessMode.REDUCE_SUM, "drop_element")
    REDUCE_NEURON_MAX = (VarAccessMode.REDUCE_MAX, "drop_element")

    @property
    def mode(self):
        return self.value[0]

    @property
    def drops(self):
        return self.value[1]


class SynapseMatrixType(Enum):
    DENSE = "dense"
    SPARSE = "sparse"
    BITMASK = "bitmask"
    DENSE_PROCEDURALG = "dense_proceduralg"
    PROCEDURAL = "procedural"
    PROCEDURAL_KERNELG = "procedural_kernelg"
    TOEPLITZ = "toeplitz"


SUPPORTED_MATRIX_TYPES = (SynapseMatrixType.DENSE, SynapseMatrixType.SPARSE)


class ParallelismHint(Enum):
    POSTSYNAPTIC = "postsynaptic"
    PRESYNAPTIC = "presynaptic"
    WORD_PACKED_BITMASK = "word_packed_bitmask"


class VarLocation(Enum):
    DEVICE = "device"
    HOST_DEVICE = "host_device"
    HOST_DEVICE_ZERO_COPY = "host_device_zero_copy"
