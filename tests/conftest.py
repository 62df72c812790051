"""Shared test configuration.

Every test runs with the working directory set to a fresh temporary folder, so that nothing a
model writes relative to the current directory (a PyGeNN-style ``build()`` into ``./``) lands in
the repository. The compile cache stays at neurogen's default location.
"""
import os
import sys

import pytest

# The runner's helper packages (datasets, runner) live beside the scripts in examples/, which
# put their own folder on sys.path; tests do the same.
_EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
if _EXAMPLES not in sys.path:
    sys.path.insert(0, _EXAMPLES)


@pytest.fixture(autouse=True)
def _run_in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield
