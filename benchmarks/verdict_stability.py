"""Does the verdict hang on the search seed? Run a spec with search seeds 0..R-1 and compare the answers.

Per rerun and depth: the confirm means of plain and residual training error, the difference with its 95%
Welch interval and Holm p, and the headline. The last line says whether every rerun gave the same headline
(the same depths significant, with the same sign) and whether the reruns' intervals overlap at each depth.
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

from dashboards.verdict.confirm import ALPHA, confirm_verdict  # noqa: E402
from dashboards.verdict.headline import verdict_headline  # noqa: E402
from sweeps.tracking.runs import load_sweep  # noqa: E402
from sweeps.spec import resolve_spec_path  # noqa: E402


def training_error(verdict) -> dict[int, dict]:
    """The training-error rows of a confirm verdict, by depth."""
    rows = verdict[verdict["column"] == "train_err_pct"]
    return {int(r["depth"]): r.to_dict() for _, r in rows.iterrows()}


def signature(rows: dict[int, dict]) -> dict[int, int]:
    """Per depth: +1 / -1 where residual minus plain is significant (Holm) with that sign, 0 where it is not."""
    return {d: (0 if not r["p_holm"] < ALPHA else (1 if r["diff"] > 0 else -1)) for d, r in rows.items()}


def intervals_overlap(reruns: list[dict[int, dict]]) -> dict[int, bool]:
    """Per depth: whether the reruns' 95% intervals of the difference share a point."""
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
    reruns, headlines, walls, rows = [], [], [], []
    for seed in range(args.reruns):
        name, wall = run_once(resolve_spec_path(args.spec), seed, uri, workdir)
        trials = load_sweep(name, uri).trials
        verdict = training_error(confirm_verdict(trials))
        reruns.append(verdict)
        headlines.append(verdict_headline(trials))
        walls.append(wall)
        rows += [[seed, depth, *_cell(r)] for depth, r in sorted(verdict.items())]
        print(f"seed {seed} ({wall:.0f} s): {headlines[-1]}", flush=True)
    print_table(["search_seed", "depth", "plain_err_%", "residual_err_%", "residual-plain_pp [95% CI]", "p_holm"],
                rows)
    signatures = [signature(r) for r in reruns]
    overlap = intervals_overlap(reruns)
    same = all(s == signatures[0] for s in signatures)
    print(f"wall s per rerun: {', '.join(f'{w:.0f}' for w in walls)}")
    print(f"intervals overlap at every depth: {all(overlap.values())} ({overlap})")
    print(f"{'every' if same else 'NOT every'} rerun gave the same headline: {sum(s == signatures[0] for s in signatures)}"
          f" of {len(signatures)} agree (significant depths and signs {signatures[0]})")


if __name__ == "__main__":
    main()
