"""The drain3 half of bench/patterns/compare.sh: mines the same `service<TAB>line` file with
Python drain3 (PyPI), one TemplateMiner per service as loglynx keeps templates per service,
drain3's defaults (sim_th 0.4, depth 4, no masking), and prints the rate (best of ROUNDS) by
wall time and by the thread's CPU time (time.thread_time), as examples/mine.rs does."""
import sys
import time

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig


def main():
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with open(path, encoding="utf-8") as f:
        # `service<TAB>line`; a line without a tab has no service (as in examples/mine.rs)
        lines = [l.rstrip("\n").split("\t", 1) if "\t" in l else ["", l.rstrip("\n")] for l in f]
    best = float("inf")
    best_cpu = float("inf")
    clusters = 0
    for _ in range(rounds):
        cfg = TemplateMinerConfig()
        cfg.profiling_enabled = False
        miners = {}
        c = time.thread_time()
        t = time.perf_counter()
        for service, line in lines:
            m = miners.get(service)
            if m is None:
                m = miners[service] = TemplateMiner(config=cfg)
            m.add_log_message(line)
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.thread_time() - c)
        clusters = sum(len(m.drain.clusters) for m in miners.values())
    n = len(lines)
    print(f"lines={n} seconds={best:.4f} lines_per_s={n / best:.0f} cpu_seconds={best_cpu:.4f} cpu_lines_per_s={n / best_cpu:.0f} templates={clusters}")


if __name__ == "__main__":
    main()
