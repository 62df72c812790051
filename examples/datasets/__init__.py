"""Data sets and task generators for the example systems (specification: specs/datasets.md).

Imported as ``datasets``: the runner scripts and the tests put ``examples/`` on ``sys.path``.

* Yin-yang (Kriener et al., NICE 2022, arXiv:2102.08211): ``generate_yinyang``, ``yinyang_splits``,
  ``yinyang_label``.
* IDX files: ``read_idx``.
* MNIST / Fashion-MNIST from local files (``$NEUROGEN_DATA_DIR``): ``find_data_dir``, ``load_mnist``,
  ``mnist_pal_splits``.
* Evidence accumulation (Liu et al., PNAS 2021; Bellec et al., Nat. Commun. 2020): ``accucues_mdgl``,
  ``accucues_eprop``.

Loaders never download unless asked; problems with data files raise ``DatasetError``.
"""
from .idx import DatasetError, read_idx
from .mnist import clear_cache, find_data_dir, load_mnist, mnist_pal_splits
from .yinyang import generate_yinyang, yinyang_label, yinyang_splits
from .evidence import accucues_eprop, accucues_mdgl

__all__ = ["DatasetError", "read_idx", "find_data_dir", "load_mnist", "mnist_pal_splits", "clear_cache",
           "generate_yinyang", "yinyang_label", "yinyang_splits", "accucues_mdgl", "accucues_eprop"]
