"""The drain3 half of bench/patterns/compare.sh: mines the same `service<TAB>line` file with
Python drain3 (PyPI), one TemplateMiner per service as loglynx keeps templates per service,
drain3's defaults (sim_th 0.4, depth 4, no masking), and prints the rate (best of ROUNDS) by
wall time and by the thread's CPU time (time.thread_time), as examples/mine.rs does.

With MASK=1, drain3 masks values before it groups (its masking instructions: addresses, hex
and numbers, written for this benchmark), the way its documentation suggests configuring it
and closer to the work loglynx's miner does (it classifies and masks values itself)."""
import os
import sys
import time

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

# values that are not part of a word: IPv4 addresses (with a port), 0x hex, long hex strings,
# signed numbers (decimals too)
MASKS = [
    (r"((?<=[^A-Za-z0-9])|^)(\d{1,3}(\.\d{1,3}){3}(:\d+)?)((?=[^A-Za-z0-9])|$)", "IP"),
    (r"((?<=[^A-Za-z0-9])|^)(0[xX][0-9a-fA-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9a-fA-F]{16,})((?=[^A-Za-z0-9])|$)", "HEX"),
    (r"((?<=[^A-Za-z0-9])|^)([-+]?\d+(\.\d+)?)((?=[^A-Za-z0-9])|$)", "NUM"),
]


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
        if os.environ.get("MASK") == "1":
            cfg.masking_instructions = [MaskingInstruction(p, m) for p, m in MASKS]
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
