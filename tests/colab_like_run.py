"""Execute one notebook in a fresh kernel and print the outcome as JSON (support script of test_colab_like.py).

Runs under the Colab-like virtual environment's Python, where the course's ``utils`` is not
importable until the notebook's set-up cell installs it, so this script must not import it.
The kernel is started with this interpreter (jupyter_client runs ``python`` kernels with
``sys.executable``). Usage: ``python colab_like_run.py NOTEBOOK [CELL_TIMEOUT]``.
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def main(path: str, timeout: int = 300) -> dict:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(Path(path).parent)}})
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        client.execute()
    except CellExecutionError as err:
        status, error = "error", ANSI.sub("", f"{err.ename}: {err.evalue}")
        frames = [ANSI.sub("", o.get("traceback", [""])[-2] if len(o.get("traceback", [])) > 1 else "")
                  for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        error += "".join(f"\n{f[-1500:]}" for f in frames if f)
    except Exception as err:  # kernel died, timeout, ...
        status, error = "error", f"{type(err).__name__}: {ANSI.sub('', str(err))}"
    nbformat.write(nb, path)
    return {"status": status, "seconds": round(time.perf_counter() - start, 1), "error": error,
            "setup_seconds": cell_seconds(nb.cells[1]) if len(nb.cells) > 1 else None}


def cell_seconds(cell) -> float | None:
    """How long a cell ran (nbclient's timing metadata), or None if it did not run."""
    timing = cell.get("metadata", {}).get("execution", {})
    begin, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (begin and end):
        return None
    from datetime import datetime

    return round((datetime.fromisoformat(end.replace("Z", "+00:00"))
                  - datetime.fromisoformat(begin.replace("Z", "+00:00"))).total_seconds(), 1)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], *map(int, sys.argv[2:3]))))
