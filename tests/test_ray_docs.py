"""docs/cluster.md and the Dockerfile say what works: their YAML parses into the objects they claim to be, every
`spinlens batch` option they use exists, and the image installs extras and tiers that exist."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinlens.cli import app

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "cluster.md").read_text(encoding="utf-8")
yaml = pytest.importorskip("yaml", reason="PyYAML comes with Ray: pip install 'spinlens[ray]'")


def test_the_cluster_page_yaml_is_a_cluster_launcher_config_and_a_rayjob() -> None:
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)]
    launcher = next(b for b in blocks if "provider" in b)
    assert launcher["docker"]["image"] and launcher["head_start_ray_commands"][-1].startswith("ray start --head")
    assert "--num-cpus=0" in launcher["head_start_ray_commands"][-1]
    job = next(b for b in blocks if b.get("kind") == "RayJob")
    assert job["apiVersion"] == "ray.io/v1" and job["spec"]["entrypoint"].startswith("spinlens batch ")
    cluster = job["spec"]["rayClusterSpec"]
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    images = {c["image"] for c in cluster["headGroupSpec"]["template"]["spec"]["containers"]}
    for group in cluster["workerGroupSpecs"]:
        images |= {c["image"] for c in group["template"]["spec"]["containers"]}
    assert len(images) == 1, f"every node must run the same image: {images}"


def test_every_batch_option_the_docs_use_exists() -> None:
    help_text = CliRunner().invoke(app, ["batch", "--help"], env={"COLUMNS": "200"}).output
    commands = re.findall(r"spinlens batch [^\n`\"]*(?:\\\n[^\n`\"]*)*", DOC)
    used = {option for command in commands for option in re.findall(r"(--[a-z][a-z-]+)", command)}
    assert {"--ray", "--ray-address", "--db"} <= used
    assert not {option for option in used if option not in help_text}, help_text


def test_the_dockerfile_installs_extras_and_tiers_that_exist() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    extras = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    named = set(re.search(r'extras="([^"]+)"', dockerfile).group(1).split(","))  # type: ignore[union-attr]
    assert named <= extras and {"ray", "postgres"} <= named
    assert {"fast", "accurate"} <= extras  # TIER=fast|accurate adds the tier's extra of the same name
    encoder = (REPO / "src" / "spinlens" / "detect" / "encoder.py").read_text(encoding="utf-8")
    assert "SPINLENS_ENCODERS" in dockerfile and 'os.environ.get("SPINLENS_ENCODERS")' in encoder
