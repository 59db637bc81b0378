"""The notebook runner: ``python -m utils.run [CHAPTER_OR_NOTEBOOK ...] [--quick]``.

Executes notebooks top to bottom in a fresh kernel each, with a progress bar over cells.

* Full mode (default) executes **in place**: this is how committed outputs are refreshed. The
  notebook is saved only when it ran clean; the numbers it ``record``-ed, its wall time, the
  date, machine and versions go to ``results.json``, and the results tables of the top README
  and of the chapter READMEs are regenerated from it.
* ``--quick`` sets ``DLF_QUICK=1`` and executes **copies** in a temporary directory, so committed
  outputs are never overwritten by a quick run; only the quick wall time is written to
  ``results.json`` (its numbers come from too little training to report).

Prints a table of notebook, status, wall time and recorded numbers; exits 1 if any failed.
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

from .results import RESULTS_ENV
from .stamp import ROOT, badge, notebooks

RESULTS_JSON = ROOT / "results.json"
TABLE_START, TABLE_END = "<!-- results:start -->", "<!-- results:end -->"


def resolve(targets: list[str]) -> list[Path]:
    """Notebook paths from chapter folders, chapter numbers ("01") or notebook files."""
    if not targets:
        return notebooks()
    found: list[Path] = []
    for t in targets:
        p = Path(t)
        if not p.exists():
            matches = sorted(ROOT.glob(f"{t}*")) if re.fullmatch(r"\d\d", t) else []
            p = matches[0] if matches else ROOT / t
        p = p.resolve()
        if p.is_dir():
            found += sorted(p.glob("[0-9][0-9]_*.ipynb"))
        elif p.suffix == ".ipynb" and p.exists():
            found.append(p)
        else:
            raise SystemExit(f"no notebook or chapter called {t!r}")
    return found


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "torch", "tensorflow", "tensorflow-cpu", "keras", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def machine() -> dict[str, object]:
    return {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()}


def execute(path: Path, quick: bool, timeout: int) -> dict:
    """Run one notebook in a fresh kernel; returns status, seconds, numbers (and error)."""
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
        error = str(err).strip().splitlines()[-1][:300]
    except Exception as err:  # kernel died, timeout, ...
        status = "error"
        error = f"{type(err).__name__}: {err}"[:300]
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
        error += f" (executed copy: {failed})"
    return {"status": status, "seconds": round(seconds, 1), "numbers": numbers, "error": error}


def fmt_number(n: dict) -> str:
    """``name value unit``, shown the way ``utils.record`` prints it (floats to 4 significant digits)."""
    v = n["value"]
    return f"{n['name']} {v:.4g}{n.get('unit') or ''}" if isinstance(v, float) else f"{n['name']} {v}{n.get('unit') or ''}"


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


def published(chapter: Path) -> bool:
    """A chapter is published once its README is more than the "Coming next." placeholder."""
    readme = chapter / "README.md"
    return readme.exists() and readme.read_text(encoding="utf-8").strip().lower() != "coming next."


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
        heads = [fmt_number(n) for n in r.get("numbers", []) if n.get("headline", True)]
        link = path.name if only_chapter else rel
        colab = badge(rel).replace("[![Open In Colab]", "[![Colab]")
        chapter = "" if only_chapter else f"| {rel[:2]} "
        rows.append(f"{chapter}| [{path.name}]({link}) | {colab} | {title_of(path)} | "
                    f"{fmt_seconds(r.get('quick_seconds'))} | {fmt_seconds(r.get('full_seconds'))} | "
                    f"{'; '.join(heads) or '–'} |")
    return "\n".join(rows)


def write_tables(results: dict) -> None:
    """Regenerate the tables between the results markers of the top and chapter READMEs."""
    readmes = [(ROOT / "README.md", None)] + [(d / "README.md", d.name) for d in sorted(ROOT.glob("[0-9][0-9]_*"))]
    for readme, chapter in readmes:
        if not readme.exists():
            continue
        text = readme.read_text(encoding="utf-8")
        if TABLE_START not in text:
            continue
        head, rest = text.split(TABLE_START, 1)
        _, tail = rest.split(TABLE_END, 1)
        readme.write_text(f"{head}{TABLE_START}\n{table(results, chapter)}\n{TABLE_END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from tqdm.auto import tqdm

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", help="chapter folders, chapter numbers or notebooks (default: all)")
    ap.add_argument("--quick", action="store_true", help="DLF_QUICK=1, run copies, keep committed outputs")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    ap.add_argument("--tables-only", action="store_true", help="only regenerate README tables from results.json")
    args = ap.parse_args(argv)
    results = load_results()
    if args.tables_only:
        write_tables(results)
        return 0
    paths = resolve(args.targets)
    mode = "quick" if args.quick else "full"
    rows, failed = [], 0
    for path in tqdm(paths, desc=f"{mode} run", unit="notebook"):
        rel = path.relative_to(ROOT).as_posix()
        r = execute(path, args.quick, args.timeout)
        rows.append((rel, r))
        failed += r["status"] != "ok"
        if r["status"] != "ok":
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
            results["notebooks"] = dict(sorted(results["notebooks"].items()))
            RESULTS_JSON.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            write_tables(results)
    width = max(len(rel) for rel, _ in rows) if rows else 10
    print(f"\n{'notebook':<{width}}  status  {mode:>7}  numbers")
    for rel, r in rows:
        nums = ", ".join(fmt_number(n) for n in r["numbers"]) or r["error"]
        print(f"{rel:<{width}}  {r['status']:<6}  {fmt_seconds(r['seconds']):>7}  {nums}")
    print(f"{len(rows) - failed} passed, {failed} failed" if failed else f"all {len(rows)} notebooks ran clean")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
