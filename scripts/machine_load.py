"""How busy the machine is, for the benchmark scripts to record beside their timings."""
import platform
import time


def busy_cpus(seconds=0.5):
    """The share of CPU time other processes used over `seconds` (0 = idle, 1 = all cores busy),
    sampled while the calling script runs nothing. PyTorch's OpenMP threads lose far more than
    TBB's to any other load (a run beside a link step once gave PyTorch a third of its quiet
    speed), and any timing taken beside another job reads low."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total
    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
