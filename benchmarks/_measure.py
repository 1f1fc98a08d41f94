"""Peak memory and load average for the benchmarks (Linux /proc)."""

from __future__ import annotations


def status_kib(field: str) -> int:
    """A field of /proc/self/status in KiB (``"VmHWM:"``, ``"VmRSS:"``)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(field)


def reset_peak() -> None:
    """Reset VmHWM to the current RSS, so that a later peak is the measured work's own."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def loadavg() -> str:
    """The 1, 5 and 15-minute load averages, as text."""
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])
