"""Settings: defaults a city GIS engineer gets without setting anything."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def test_a_plain_streamlit_run_of_the_project_stays_offline_and_on_loopback() -> None:
    """Streamlit reads the project's .streamlit/config.toml: no usage statistics, 127.0.0.1.

    And the viewer's toolbar, as `twin serve app` starts it (no "Deploy" button).
    """
    repo = Path(__file__).resolve().parent.parent
    probe = (
        "from streamlit import config; config.get_config_options(force_reparse=True); "
        "print(config.get_option('browser.gatherUsageStats'), "
        "config.get_option('server.address'), config.get_option('server.headless'), "
        "config.get_option('client.toolbarMode'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "127.0.0.1", "True", "viewer"]
