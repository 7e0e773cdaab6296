"""Settings: defaults a city GIS engineer gets without setting anything."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from twin import config


def test_cluster_lives_in_the_checkout_when_postgres_can_reach_it(monkeypatch):
    parent = Path(tempfile.mkdtemp(prefix="twin-test-config-"))  # /tmp: reachable by all
    parent.chmod(0o755)
    project = parent / "twin"
    project.mkdir()
    monkeypatch.setattr(config, "_project_root", lambda: project)
    try:
        assert config._default_cluster_dir() == project / ".twin"
    finally:
        shutil.rmtree(parent)


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback applies only when root runs twin")
def test_cluster_moves_out_of_a_private_checkout_when_root(monkeypatch, tmp_path):
    private = tmp_path / "root-home"
    project = private / "twin"
    project.mkdir(parents=True)
    private.chmod(0o700)
    monkeypatch.setattr(config, "_project_root", lambda: project)
    chosen = config._default_cluster_dir()
    assert chosen.parent == Path("/var/lib/twin")
    assert chosen == config._default_cluster_dir()  # stable across commands
