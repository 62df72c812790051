"""Reader for the IDX file format (MNIST, Fashion-MNIST, EMNIST), spec §2.

Layout: two zero bytes, one element-type byte, one byte with the number of dimensions d, then d
big-endian uint32 sizes, then the elements in row-major order (big-endian for multi-byte types).
Files may be wrapped in gzip; the wrapper is detected from its magic bytes rather than the file name,
so a decompressed file that kept its ``.gz`` name (or the reverse) still reads.
"""
import gzip
import os
import zlib

import numpy as np

__all__ = ["DatasetError", "read_idx", "read_idx_bytes", "parse_idx", "IDX_TYPES"]


class DatasetError(Exception):
    """A data file is missing, unreadable or not the expected content.

    The message says which file and what is wrong, and where relevant how to fix it; it is meant to be
    read on its own, without a traceback.
    """


# Element-type byte -> big-endian numpy dtype (spec §2).
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def read_idx_bytes(path):
    """Return the raw (decompressed) IDX bytes of ``path``, a plain or gzip-wrapped file.

    Checksums are computed on these bytes, since copies of the same data are compressed differently.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read IDX file ({exc.strerror or exc})") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        # A cut-off download typically ends here ("Compressed file ended before ...").
        raise DatasetError(f"{path}: corrupt or truncated gzip data ({exc})") from None


def _parse_header(data, name):
    """Element dtype, shape and data offset from the IDX header; errors name the file."""
    if len(data) < 4:
        raise DatasetError(f"{name}: truncated IDX file ({len(data)} bytes, header needs at least 4)")
    if data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{name}: bad IDX magic {data[:4].hex()} (first two bytes must be zero); "
                           "not an IDX file")
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_TYPES:
        raise DatasetError(f"{name}: bad IDX magic {data[:4].hex()} (unknown element type 0x{type_code:02x})")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise DatasetError(f"{name}: truncated IDX header ({len(data)} bytes, {ndim} dimensions need "
                           f"{offset})")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return IDX_TYPES[type_code], shape, offset


def parse_idx(data, name="<bytes>"):
    """Decode decompressed IDX bytes into a native-byte-order numpy array.

    ``name`` is only used in error messages. The data length must match the header exactly: a shorter
    file is truncated, a longer one is not the file the header describes.
    """
    dtype, shape, offset = _parse_header(data, name)
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - offset
    if actual < expected:
        raise DatasetError(f"{name}: truncated IDX file (header {shape} of {dtype.name} needs {expected} "
                           f"data bytes, found {actual})")
    if actual > expected:
        raise DatasetError(f"{name}: IDX file has {actual - expected} bytes beyond the data its header "
                           f"{shape} describes")
    array = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
    # Copy into native byte order: callers get an ordinary writable array, not a view of the buffer.
    return array.astype(dtype.newbyteorder("="))


def read_idx(path):
    """Read a plain or gzip'd IDX file and return its contents as a numpy array."""
    return parse_idx(read_idx_bytes(path), os.fspath(path))
