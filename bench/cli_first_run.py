"""A one-shot command-line explanation: shap's compiled helpers from numba's cache, or compiled.

    python -m bench.cli_first_run [--rounds 3] [--method shap] [--max-evals 500]

Each round runs ``main.py explain PHOTO --weights none --json`` in a fresh process twice, in
alternating order: as shipped (shap's Partition helpers come from numba's disk cache,
``engine/explain/shap_compiled.py``), and with ``shap_compiled.install`` switched off, so
shap compiles its own helpers inside the first explanation, as it does in a notebook's
first call. One untimed run first fills the cache. Prints the wall time of each process and
the explanation's own ``explain_s``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Runs the real command line; "off" leaves shap's own helpers in place.
_LAUNCH = """
import sys
if sys.argv[1] == "off":
    import engine.explain.shap_compiled as shap_compiled
    shap_compiled.install = lambda: None
from engine.cli import main
sys.exit(main(sys.argv[2:]))
"""


def run_once(mode: str, cli_args: list[str]) -> tuple[float, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _LAUNCH, mode, *cli_args], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parent.parent)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{mode}: exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    explain_s = json.loads(done.stdout)[0]["timings"]["explain_s"]
    return wall, explain_s


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--method", default="shap")
    parser.add_argument("--max-evals", type=int, default=500)
    args = parser.parse_args(argv)

    from PIL import Image
    from skimage import data

    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "chelsea.png"
        Image.fromarray(data.chelsea()).save(photo)
        cli_args = ["explain", str(photo), "--weights", "none", "--method", args.method,
                    "--max-evals", str(args.max_evals), "--json"]
        run_once("on", cli_args)  # fills numba's cache, as the first run after installing does
        times: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
        for round_ in range(args.rounds):
            for mode in (("on", "off") if round_ % 2 == 0 else ("off", "on")):
                wall, explain_s = run_once(mode, cli_args)
                times[mode].append((wall, explain_s))
                print(f"round {round_ + 1}  cached helpers {mode:3}  process {wall:6.2f} s  explain_s {explain_s:6.2f} s",
                      flush=True)
    summary = {mode: {"process_s": statistics.median(w for w, _ in runs),
                      "explain_s": statistics.median(e for _, e in runs)} for mode, runs in times.items()}
    ratio = summary["on"]["process_s"] / summary["off"]["process_s"]
    print(f"median process: compiled per process {summary['off']['process_s']:.2f} s, cached {summary['on']['process_s']:.2f} s "
          f"(ratio {ratio:.2f})")
    print(json.dumps({"bench": "cli_first_run", "method": args.method, "max_evals": args.max_evals,
                      "rounds": args.rounds, **summary, "ratio": ratio}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
