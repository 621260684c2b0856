"""Does the verdict hang on the search seed? Run a spec with search seeds 0..R-1 and compare the answers.

Per rerun, depth and training budget: the confirm means of plain and residual training error, the difference with
its 95% Welch interval and Holm p; per rerun the time to its verdict (the whole run: search rounds until every arm is
adequate or the cap, then confirm), its search rounds, how many arms were adequately tuned, and the headline. The
last lines say whether every rerun gave the same answer (the same (depth, budget) cells significant, with the same
sign) and whether the reruns' intervals overlap in each cell.
Each rerun is a whole `resnet-sweep run` (search, confirm) on a local Ray, tracked in one sqlite store.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import print_header, print_table  # noqa: E402

import pandas as pd  # noqa: E402

from dashboards.verdict.confirm import ALPHA, confirm_verdict  # noqa: E402
from sweeps.api import load  # noqa: E402
from sweeps.spec import resolve_spec_path  # noqa: E402


def training_error(verdict) -> dict[tuple, dict]:
    """The training-error rows of a confirm verdict, by (depth, training budget in epochs)."""
    rows = verdict[verdict["column"] == "train_err_pct"]
    return {(int(r["depth"]), int(r["epochs"]) if "epochs" in r else 0): r.to_dict() for _, r in rows.iterrows()}


def signature(rows: dict[tuple, dict]) -> dict[tuple, int]:
    """Per (depth, budget): +1 / -1 where residual minus plain is significant (Holm) with that sign, 0 where not."""
    return {d: (0 if not r["p_holm"] < ALPHA else (1 if r["diff"] > 0 else -1)) for d, r in rows.items()}


def intervals_overlap(reruns: list[dict[tuple, dict]]) -> dict[tuple, bool]:
    """Per (depth, budget): whether the reruns' 95% intervals of the difference share a point."""
    depths = set.intersection(*(set(r) for r in reruns)) if reruns else set()
    return {d: max(r[d]["lo"] for r in reruns) <= min(r[d]["hi"] for r in reruns) for d in sorted(depths)}


def run_once(spec_path: str, seed: int, uri: str, workdir: str) -> tuple[str, float]:
    """Run the spec with search seed `seed` under its own experiment name; (experiment, wall seconds)."""
    with open(spec_path) as fh:
        data = yaml.safe_load(fh)
    name = f"{data['name']}-seed{seed}-{time.strftime('%H%M%S')}"
    path = os.path.join(workdir, f"{name}.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump({**data, "name": name, "seed": seed}, fh, sort_keys=False)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sweeps.cli", "run", path, "--tracking-uri", uri, "--no-report"],
                   cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    return name, time.perf_counter() - start


def _cell(r: dict) -> list:
    return [f"{r['plain']:.1f}", f"{r['residual']:.1f}", f"{r['diff']:+.1f} [{r['lo']:.1f}, {r['hi']:.1f}]",
            f"{r['p_holm']:.2g}"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("spec", nargs="?", default="degradation")
    p.add_argument("--reruns", type=int, default=3, help="search seeds 0..R-1")
    p.add_argument("--workdir", default=None, help="folder for the runs and their sqlite store (default: a temp dir)")
    args = p.parse_args()
    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="verdict-stability-"))
    os.makedirs(workdir, exist_ok=True)
    uri = f"sqlite:///{workdir}/mlflow.db"
    print_header(f"verdict stability of spec {args.spec} over search seeds 0..{args.reruns - 1}", workdir=workdir)
    reruns, headlines, walls, rows, tuning = [], [], [], [], []
    for seed in range(args.reruns):
        name, wall = run_once(resolve_spec_path(args.spec), seed, uri, workdir)
        result = load(name, tracking_uri=uri)
        verdict = training_error(confirm_verdict(result.trials))
        reruns.append(verdict)
        headlines.append(result.headline)
        walls.append(wall)
        adequacy = result.adequacy
        adequate = int((adequacy["Adequate"] == "yes").sum()) if len(adequacy) else 0
        rounds = int(float(result.params.get("rounds_max", 1))) if len(adequacy) else 0
        tuning.append([seed, f"{wall:.0f}", f"{adequate} of {len(adequacy)}",
                       int(pd.to_numeric(adequacy["Rounds"], errors="coerce").max()) if len(adequacy) else 0, rounds])
        rows += [[seed, depth, epochs, *_cell(r)] for (depth, epochs), r in sorted(verdict.items())]
        print(f"seed {seed} ({wall:.0f} s): {headlines[-1]}", flush=True)
    print_table(["search_seed", "depth", "epochs", "plain_err_%", "residual_err_%", "residual-plain_pp [95% CI]",
                 "p_holm"], rows)
    print_table(["search_seed", "time_to_verdict_s", "arms_adequate", "rounds_used", "rounds_cap"], tuning)
    signatures = [signature(r) for r in reruns]
    overlap = intervals_overlap(reruns)
    same = all(s == signatures[0] for s in signatures)
    print(f"wall s per rerun: {', '.join(f'{w:.0f}' for w in walls)}")
    print(f"intervals overlap in every (depth, budget) cell: {all(overlap.values())} ({overlap})")
    print(f"{'every' if same else 'NOT every'} rerun gave the same headline: {sum(s == signatures[0] for s in signatures)}"
          f" of {len(signatures)} agree (significant depths and signs {signatures[0]})")


if __name__ == "__main__":
    main()
