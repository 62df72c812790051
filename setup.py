"""neurogen: code-generated simulator for biologically plausible learning in rate and spiking networks."""
from setuptools import find_packages, setup

setup(
    name="neurogen",
    version="0.1.0",
    description="PyGeNN-5-compatible code-generated simulator (C on the CPU, CUDA on the GPU)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["neurogen", "neurogen.*", "genn_models", "genn_models.*",
                                    "networks", "networks.*"]),
    install_requires=[
        "numpy>=1.24",
        "scipy>=1.10",
        "h5py>=3.8",
        "pyyaml>=6.0",
        "matplotlib>=3.7",
        "tqdm>=4.60",          # progress bars of the experiment runner and sweeps
    ],
    extras_require={
        "test": ["pytest>=7.4", "pytest-timeout>=2.1"],
        # the CUDA backend needs the CUDA toolkit (nvcc) and a driver, no Python package
        "cuda": [],
        "ray": ["ray>=2.9"],
    },
)
