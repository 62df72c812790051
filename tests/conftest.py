"""Shared test configuration.

Every test runs with the working directory set to a fresh temporary folder, so that nothing a
model writes relative to the current directory (a PyGeNN-style ``build()`` into ``./``) lands in
the repository. The compile cache stays at neurogen's default location.
"""
import pytest


@pytest.fixture(autouse=True)
def _run_in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield
