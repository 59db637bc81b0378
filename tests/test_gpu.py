"""The GPU path, checkable the day a CUDA GPU is present: the project notebooks, quick, on ``--device cuda``.

Skipped, saying why, on a machine without CUDA (the course's CI runs on 2 CPU cores).
"""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from utils import layout


def cuda_present() -> bool:
    import torch

    return torch.cuda.is_available()


NO_CUDA = ("no CUDA GPU (torch.cuda.is_available() is False); with one, this test runs "
           "every 04_project notebook with `python -m utils.run --quick --device cuda`")
PROJECTS = [p for p in layout.notebooks() if p.name.startswith("04_project_")]


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_present(), reason=NO_CUDA)
@pytest.mark.parametrize("path", PROJECTS, ids=lambda p: p.parent.name)
def test_project_notebook_runs_on_cuda(path, tmp_path):
    report = tmp_path / "report.json"
    out = subprocess.run([sys.executable, "-m", "utils.run", str(path), "--quick", "--device", "cuda",
                          "--report", str(report)], cwd=layout.ROOT, capture_output=True, text=True)
    rows = json.loads(report.read_text())
    assert out.returncode == 0 and rows[0]["status"] == "ok", rows[0]["error"] or out.stderr[-3000:]
    values = [n["value"] for n in rows[0]["numbers"]]
    assert values, f"{path.name} recorded no number"
    assert all(v is not None and math.isfinite(v) for v in values), rows[0]["numbers"]


def test_the_gpu_test_covers_the_project_of_every_chapter_with_notebooks():
    assert [p.parent for p in PROJECTS] == [c for c in layout.chapters() if layout.notebooks(chapter=c)]
