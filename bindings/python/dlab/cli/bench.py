"""`./lab bench micro`: every Google Benchmark program, built in Release (build-rel/), run once.

Prints each benchmark's CPU time (the fair figure on a shared 2-core machine: wall time includes
waiting for the CPU) and writes the JSON of every program to build-rel/bench-results/.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ..lab import REPO

REL = REPO / "build-rel"


def run(a) -> int:
    env = dict(os.environ, DL_BUILD_DIR=str(REL),
               DL_CMAKE_ARGS="-DCMAKE_BUILD_TYPE=Release -DDL_TESTS=OFF -DDL_PYTHON=OFF")
    # The Google Benchmark programs are outside the default target (cmake/DlModule.cmake): ask for both.
    subprocess.run([str(REPO / "ci" / "build"), "all", "dl_benches"], env=env, check=True)
    out = REL / "bench-results"
    out.mkdir(exist_ok=True)
    programs = sorted(p for p in REL.rglob("*_bench") if p.is_file() and os.access(p, os.X_OK))
    if a.filter:
        programs = [p for p in programs if a.filter in p.name]
    for prog in programs:
        res = out / f"{prog.name}.json"
        subprocess.run([str(prog), f"--benchmark_min_time={a.min_time}", "--benchmark_format=console",
                        f"--benchmark_out={res}", "--benchmark_out_format=json"], check=True,
                       stdout=subprocess.DEVNULL)
        data = json.loads(res.read_text())
        print(f"== {prog.name} (load {data['context'].get('load_avg', ['?'])[0]:.2f})")
        for b in data["benchmarks"]:
            extra = "  ".join(f"{k}={v:.3g}" for k, v in b.items()
                              if k not in ("name", "run_name", "run_type", "repetitions", "repetition_index",
                                           "threads", "iterations", "real_time", "cpu_time", "time_unit",
                                           "family_index", "per_family_instance_index", "aggregate_name")
                              and isinstance(v, (int, float)))
            print(f"   {b['name']:50} {b['cpu_time']:12.1f} {b['time_unit']} cpu  {extra}")
    return 0
