"""The notebook runner: ``python -m utils.run [CHAPTER_OR_NOTEBOOK ...] [--quick]``.

Executes notebooks top to bottom in a fresh kernel each, with a progress bar over cells.

* Full mode (default) executes **in place**: this is how committed outputs are refreshed. The
  notebook is saved only when it ran clean; the numbers it ``record``-ed, its wall time, the
  date, machine (CPU model, cores, BLAS kernel) and versions go to ``results.json``, and the
  results tables of the top README and of the chapter READMEs are regenerated from it.
* ``--quick`` sets ``DLF_QUICK=1`` and executes **copies** in a temporary directory: no tracked
  file changes (its numbers come from too little training to report). ``--record-quick`` also
  writes the quick wall times to ``results.json`` and the README tables.

Prints a table of notebook, status, wall time and recorded numbers (or the error: exception
type, message and last frames); ends with "N passed, N failed"; exits 1 if any failed.
Introduced in ``CONTRIBUTING.md`` ("Running and committing").
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

from .layout import ROOT, chapter, notebooks, published, readmes
from .results import RESULTS_ENV, format_value
from .stamp import badge

RESULTS_JSON = ROOT / "results.json"
TABLE_START, TABLE_END = "<!-- results:start -->", "<!-- results:end -->"
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: Whole traceback frames are shown after ``ename: evalue`` while they fit in this many characters.
FRAMES_CHARS = 1200

EPILOG = """environment variables (the kernels inherit them):
  DLF_QUICK=1       quick mode (set by --quick): small subsets, few steps, same code
  DLF_DATA_DIR=DIR  where the data sets are (default: a per-user cache directory)
  DLF_OFFLINE=1     never download: a missing data set fails at once, naming the directory
  DLF_DEVICE=NAME   cpu, cuda or mps for PyTorch (set by --device; default: the best present)
  DLF_RETRAIN=1     ignore cached trained weights and train again

examples:
  python -m utils.run 01 --quick            chapter 01 in quick mode, nothing written
  python -m utils.run 01                    full run in place: outputs, results.json, README tables
  python -m utils.run 05_cnns/04_project_cifar10.ipynb --device cuda"""


def resolve(targets: list[str]) -> list[Path]:
    """Notebook paths from chapter folders, chapter numbers ("01") or notebook files."""
    if not targets:
        return notebooks()
    found: list[Path] = []
    for t in targets:
        p = Path(t)
        if not p.exists():
            p = chapter(t) or ROOT / t
        p = p.resolve()
        if p.is_dir():
            found += notebooks(chapter=p)
        elif p.suffix == ".ipynb" and p.exists():
            found.append(p)
        else:
            raise SystemExit(f"no notebook or chapter called {t!r}")
    return found


def versions() -> dict[str, str]:
    """Python and the versions of the libraries whose numbers end up in results."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "torch", "torchvision", "tensorflow", "tensorflow-cpu", "keras", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def cpu_model() -> str:
    """The CPU model name (``/proc/cpuinfo``), else what :func:`platform.processor` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas() -> list[dict[str, object]]:
    """The BLAS libraries NumPy runs on (threadpoolctl): implementation, version, CPU kernel, threads.

    The kernel (``architecture``: Haswell, SkylakeX, Zen, ...) decides the order of float
    additions, hence whether trained numbers reproduce bit for bit on another machine.
    """
    import numpy  # noqa: F401  (loads its BLAS, so threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "architecture", "threading_layer", "num_threads")
    return [{k: info.get(k) for k in keys} for info in threadpool_info() if info.get("user_api") == "blas"]


def machine() -> dict[str, object]:
    """Where a run happened: platform, CPU model, core count and BLAS kernel."""
    return {"platform": platform.platform(), "processor": platform.machine(), "cpu": cpu_model(),
            "cpus": os.cpu_count(), "blas": blas()}


def clean(text: str) -> str:
    """``text`` without ANSI colour codes."""
    return ANSI_RE.sub("", text)


def error_message(ename: str, evalue: str, traceback: list[str] | None = None, cell: int | None = None) -> str:
    """``ename: evalue`` of a failed cell in full, then its last traceback frames while they are short."""
    out = f"{clean(ename)}: {clean(evalue)}".rstrip(": ") + (f"   (code cell {cell})" if cell else "")
    frames = [clean(f).strip() for f in (traceback or [])[1:-1] if clean(f).strip()]
    shown: list[str] = []
    for frame in reversed(frames):
        if sum(map(len, shown)) + len(frame) > FRAMES_CHARS:
            break
        shown.insert(0, frame)
    return "\n".join([out, *shown])


def _failed_cell(nb) -> tuple[int | None, list[str]]:
    """The number (among code cells, from 1) and traceback of the cell that raised."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code, 1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return i, list(out.get("traceback", []))
    return None, []


def execute(path: Path, quick: bool, timeout: int) -> dict:
    """Run one notebook in a fresh kernel; returns status, seconds, numbers and error.

    ``error`` is empty on success, else :func:`error_message` of the failing cell. Quick mode
    never writes ``path``: the executed copy goes to ``$TMPDIR/dlf-quick/``.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from tqdm.auto import tqdm

    nb = nbformat.read(path, as_version=4)
    fd, results_file = tempfile.mkstemp(suffix=".jsonl", prefix="dlf-results-")
    os.close(fd)
    saved = {k: os.environ.get(k) for k in ("DLF_QUICK", RESULTS_ENV)}
    os.environ[RESULTS_ENV] = results_file
    if quick:
        os.environ["DLF_QUICK"] = "1"
    else:
        os.environ.pop("DLF_QUICK", None)
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    bar = tqdm(total=n_code, desc=path.name, unit="cell", leave=False)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_executed=lambda **_: bar.update(1))
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        client.execute()
    except CellExecutionError as err:
        status = "error"
        cell, traceback = _failed_cell(nb)
        error = error_message(err.ename, err.evalue, traceback, cell)
    except Exception as err:  # kernel died, timeout, ...
        status = "error"
        error = error_message(type(err).__name__, str(err))
    finally:
        seconds = time.perf_counter() - start
        bar.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    numbers = []
    with open(results_file, encoding="utf-8") as f:
        numbers = [json.loads(line) for line in f if line.strip()]
    os.unlink(results_file)
    if quick:
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else Path(path.name)
        copy = Path(tempfile.gettempdir()) / "dlf-quick" / rel
        copy.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, copy)
    elif status == "ok":
        nbformat.write(nb, path)
    else:
        failed = Path(tempfile.gettempdir()) / "dlf-failed" / path.name
        failed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, failed)
        error += f"\n(executed copy: {failed})"
    return {"status": status, "seconds": round(seconds, 1), "numbers": numbers, "error": error}


def describe(n: dict) -> str:
    """``name value unit`` of a recorded number, formatted as ``utils.record`` prints it."""
    return f"{n['name']} {format_value(n['value'], n.get('unit') or '')}"


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


@contextlib.contextmanager
def _locked():
    """An exclusive lock around results.json and the README tables."""
    import fcntl

    with open(Path(tempfile.gettempdir()) / "dlf-results.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load_results() -> dict:
    if RESULTS_JSON.exists():
        return json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
    return {"notebooks": {}}


def title_of(path: Path) -> str:
    """The notebook's first heading, without its chapter/kind prefix."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for line in nb.cells[0].source.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def table(results: dict, only_chapter: str | None = None) -> str:
    """The Markdown results table (all notebooks, or one chapter's) built from ``results``."""
    rows = ["| Notebook | Colab | What it teaches | Quick | Full | Headline result |",
            "|---|---|---|---|---|---|"]
    if not only_chapter:
        rows = ["| Ch. " + rows[0], "|---" + rows[1]]
    for path in notebooks():
        rel = path.relative_to(ROOT).as_posix()
        if only_chapter and not rel.startswith(only_chapter + "/"):
            continue
        if not published(path.parent):  # a chapter still being written stays out of the tables
            continue
        r = results.get("notebooks", {}).get(rel, {})
        heads = [describe(n) for n in r.get("numbers", []) if n.get("headline", True)]
        link = path.name if only_chapter else rel
        colab = badge(rel).replace("[![Open In Colab]", "[![Colab]")
        chapter = "" if only_chapter else f"| {rel[:2]} "
        rows.append(f"{chapter}| [{path.name}]({link}) | {colab} | {title_of(path)} | "
                    f"{fmt_seconds(r.get('quick_seconds'))} | {fmt_seconds(r.get('full_seconds'))} | "
                    f"{'; '.join(heads) or '–'} |")
    return "\n".join(rows)


def write_tables(results: dict) -> None:
    """Regenerate the tables between the results markers of the top and chapter READMEs."""
    for readme in readmes():
        chapter = None if readme.parent == ROOT else readme.parent.name
        text = readme.read_text(encoding="utf-8")
        if TABLE_START not in text:
            continue
        head, rest = text.split(TABLE_START, 1)
        _, tail = rest.split(TABLE_END, 1)
        readme.write_text(f"{head}{TABLE_START}\n{table(results, chapter)}\n{TABLE_END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from tqdm.auto import tqdm

    ap = argparse.ArgumentParser(prog="python -m utils.run", description=__doc__, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", help="chapter folders, chapter numbers or notebooks (default: all)")
    ap.add_argument("--quick", action="store_true",
                    help="DLF_QUICK=1; executes copies, no tracked file changes")
    ap.add_argument("--record-quick", action="store_true",
                    help="with --quick: also write the quick wall times to results.json and the README tables")
    ap.add_argument("--device", choices=("cpu", "cuda", "mps"),
                    help="sets DLF_DEVICE for the kernels (default: the best device present)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    ap.add_argument("--report", type=Path, metavar="FILE",
                    help="also write this run's rows (status, seconds, numbers, error) to FILE as JSON")
    ap.add_argument("--tables-only", action="store_true", help="only regenerate README tables from results.json")
    args = ap.parse_args(argv)
    if args.record_quick and not args.quick:
        ap.error("--record-quick goes with --quick")
    if args.tables_only:
        write_tables(load_results())
        return 0
    if args.device:
        os.environ["DLF_DEVICE"] = args.device  # the kernels inherit this process's environment
    paths = resolve(args.targets)
    mode = "quick" if args.quick else "full"
    writes = not args.quick or args.record_quick
    rows, failed = [], 0
    for path in tqdm(paths, desc=f"{mode} run", unit="notebook"):
        inside = path.is_relative_to(ROOT)
        rel = path.relative_to(ROOT).as_posix() if inside else str(path)
        r = execute(path, args.quick, args.timeout)
        rows.append((rel, r))
        failed += r["status"] != "ok"
        if r["status"] != "ok" or not writes or not inside:
            continue
        with _locked():  # read-modify-write: two runners at once must not lose each other's rows
            results = load_results()
            entry = results.setdefault("notebooks", {}).setdefault(rel, {})
            if args.quick:
                entry["quick_seconds"] = r["seconds"]
            else:
                entry.update(full_seconds=r["seconds"], numbers=r["numbers"],
                             date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                             machine=machine(), versions=versions())
                if args.device:
                    entry["device"] = args.device
            results["notebooks"] = dict(sorted(results["notebooks"].items()))
            RESULTS_JSON.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            write_tables(results)
    if args.report:
        args.report.write_text(json.dumps([{"notebook": rel, **r} for rel, r in rows], indent=1,
                                          ensure_ascii=False) + "\n", encoding="utf-8")
    width = max(len(rel) for rel, _ in rows) if rows else 10
    print(f"\n{'notebook':<{width}}  status  {mode:>7}  numbers")
    for rel, r in rows:
        nums = ", ".join(describe(n) for n in r["numbers"])
        text = "\n".join(filter(None, [nums, r["error"]]))
        print(f"{rel:<{width}}  {r['status']:<6}  {fmt_seconds(r['seconds']):>7}  "
              + text.replace("\n", "\n" + " " * (width + 19)))
    print(f"{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
