"""The pinning benchmark's decision and markdown (the run: scripts/bench/pinning.py)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Variant:
    name: str
    pinned: bool
    neighbour: bool


VARIANTS = (
    Variant("unpinned", False, False),
    Variant("pinned", True, False),
    Variant("unpinned + neighbour", False, True),
    Variant("pinned + neighbour", True, True),
)
MEDIANS = ("rps", "p50_ms", "p99_ms", "server_cores", "client_cores", "neighbour_cores",
           "other_cores", "interrupt_cores", "stolen_cores", "migrations_per_s")  # fmt: skip
# "Clearly better": p99 at least 10 % lower and req/s not worse (2 % is this machine's noise
# between two cells of one variant), in every round, not only in the median.
P99_RATIO_AT_MOST = 0.90
RPS_RATIO_AT_LEAST = 0.98
# A round is quiet when neither of its two cells saw more than this much CPU used by
# anything but the service, wrk and the neighbour (this machine is shared).
QUIET = 0.25
MIN_QUIET_PAIRS = 2


def summarize(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per variant: the medians over rounds and every round's values in run order."""
    out = []
    for variant in VARIANTS:
        mine = [c for c in cells if c["variant"] == variant.name]
        out.append(
            {
                "variant": variant.name,
                "pinned": variant.pinned,
                "neighbour": variant.neighbour,
                **{key: statistics.median(c[key] for c in mine) for key in MEDIANS},
                "rps_rounds": [c["rps"] for c in mine],
                "p99_rounds": [c["p99_ms"] for c in mine],
                "errors": sum(c["errors"] for c in mine),
                "worker_cores": mine[0]["worker_cores"],
            }
        )
    return out


def compare(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pinned / unpinned round by round (the two cells of a round run one after the other),
    with and without the neighbour, over every round and over the quiet ones."""
    out = []
    for busy in (False, True):
        a = [c for c in cells if c["neighbour"] == busy and not c["pinned"]]
        b = [c for c in cells if c["neighbour"] == busy and c["pinned"]]
        pairs = list(zip(a, b, strict=True))
        quiet = [(x, y) for x, y in pairs if max(x["other_cores"], y["other_cores"]) <= QUIET]
        for rounds, chosen in (("all", pairs), ("quiet", quiet)):
            ratios = {
                key: [y[key] / x[key] for x, y in chosen] for key in ("rps", "p50_ms", "p99_ms")
            }
            out.append(
                {
                    "neighbour": busy,
                    "rounds": rounds,
                    "pairs": len(chosen),
                    **{f"{k}_ratio": _median(v) for k, v in ratios.items()},
                    **{f"{k}_ratio_rounds": v for k, v in ratios.items()},
                }
            )
    return out


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _pick(comparisons: list[dict[str, Any]], neighbour: bool, rounds: str) -> dict[str, Any]:
    return next(c for c in comparisons if c["neighbour"] == neighbour and c["rounds"] == rounds)


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def decide(comparisons: list[dict[str, Any]]) -> dict[str, Any]:
    """Pin only if pinning wins on the exclusive set (no neighbour) in every quiet round, and
    there were at least two: a round where other work took the cores measures a shared set."""
    quiet = _pick(comparisons, False, "quiet")
    busy = _pick(comparisons, True, "all")
    p99_every = all(r <= P99_RATIO_AT_MOST for r in quiet["p99_ms_ratio_rounds"])
    rps_every = all(r >= RPS_RATIO_AT_LEAST for r in quiet["rps_ratio_rounds"])
    enough = quiet["pairs"] >= MIN_QUIET_PAIRS
    why = (
        f"{quiet['pairs']} quiet rounds on the exclusive set (needs >= {MIN_QUIET_PAIRS}:"
        f" {'yes' if enough else 'no'}); there pinned/unpinned p99"
        f" {_ratio(quiet['p99_ms_ratio'])} (needs <= {P99_RATIO_AT_MOST:.2f} every round:"
        f" {'yes' if p99_every and enough else 'no'}), req/s {_ratio(quiet['rps_ratio'])}"
        f" (needs >= {RPS_RATIO_AT_LEAST:.2f} every round:"
        f" {'yes' if rps_every and enough else 'no'}); with the neighbour on one core, all"
        f" rounds: p99 {_ratio(busy['p99_ms_ratio'])}, req/s {_ratio(busy['rps_ratio'])}"
    )
    return {
        "pin": enough and p99_every and rps_every,
        "p99_ratio_at_most": P99_RATIO_AT_MOST,
        "rps_ratio_at_least": RPS_RATIO_AT_LEAST,
        "quiet_other_cores_at_most": QUIET,
        "why": why,
    }


def _rounds(values: list[float], digits: int) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def markdown(result: dict[str, Any]) -> str:
    m, run, decision = result["machine"], result["run"], result["decision"]
    mask = ",".join(str(c) for c in run["mask"])
    lines = [
        "# Benchmark: gunicorn workers pinned to one core each, or not",
        "",
        "Written by `python -m scripts.bench pinning` (it prints numbers; it is not a timed test).",
        f"Command: `{run['command']}`",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}); Python {m['python']}, onnxruntime "
        f"{m['onnxruntime']}; {m['wrk']}. Load average {run['load_before']:.2f} before, "
        f"{run['load_after']:.2f} after (1 min).",
        "",
        "What Kubernetes' CPU manager `static` policy gives a Guaranteed pod with whole CPUs, "
        f"made here: the service (gunicorn, the default model) in a fresh cgroup with a CFS "
        f"quota of {run['cpu_quota']} CPUs, its master's affinity mask cores {mask}, so the "
        "plan runs one worker per core with BLAS 1 thread. `pinned`: each worker on one core "
        "of the mask from its fork (scripts/bench/pinned_gunicorn_conf.py); `unpinned`: the "
        "scheduler places them (the service's default). `+ neighbour`: a busy loop pinned to "
        f"core {run['mask'][-1]}, in a cgroup of its own as another pod's container would be "
        "(a core the set shares, which the static policy's exclusive set rules out). The "
        f"service's, the client's and the neighbour's cgroups weigh {run['weight']}x a "
        "default cgroup (cpu.shares): the machine's other work yields to them.",
        "",
        f"Each cell: a fresh service, {run['warmup_s']} s warm-up, then wrk with "
        f"{run['concurrency']} keep-alive connections for {run['duration_s']} s (closed loop, "
        "one row per POST /v1/predict) and the /healthz prober; "
        f"{run['rounds']} rounds, the variants in turns, the order reversed every round. "
        "Values are medians over the rounds; brackets hold every round in run order. "
        "wrk and the prober run on the same cores as the service (this machine has no "
        "others): `wrk cores` is the CPU the client took from them; `other cores` is the "
        "CPU of every other process (the prober, the benchmark, other work on this shared "
        "machine), `irq` the kernel's interrupt time (loopback TCP, mostly), `stolen` the "
        "hypervisor's steal, per cell below.",
        "",
        "| variant | req/s | p50 ms | p99 ms | errors | server cores | wrk cores "
        "| neighbour cores | migrations/s | workers' cores |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for v in result["variants"]:
        lines.append(
            f"| {v['variant']} | {v['rps']:.0f} ({_rounds(v['rps_rounds'], 0)}) "
            f"| {v['p50_ms']:.2f} | {v['p99_ms']:.1f} ({_rounds(v['p99_rounds'], 1)}) "
            f"| {v['errors']} | {v['server_cores']:.2f} | {v['client_cores']:.2f} "
            f"| {v['neighbour_cores']:.2f} | {v['migrations_per_s']:.0f} "
            f"| {' / '.join(v['worker_cores'])} |"
        )
    lines += [
        "",
        "## Pinned / unpinned",
        "",
        "Round by round (each pinned cell over the unpinned cell of its round, run one after "
        "the other); below 1 is pinned lower. Quiet rounds: neither cell saw more than "
        f"{decision['quiet_other_cores_at_most']:.2f} cores of other work.",
        "",
        "| condition | rounds | req/s | p50 | p99 |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for c in result["comparisons"]:
        name = "with the neighbour" if c["neighbour"] else "exclusive set"
        lines.append(
            f"| {name} | {c['rounds']} ({c['pairs']}) "
            f"| {_ratio(c['rps_ratio'])} ({_rounds(c['rps_ratio_rounds'], 2)}) "
            f"| {_ratio(c['p50_ms_ratio'])} ({_rounds(c['p50_ms_ratio_rounds'], 2)}) "
            f"| {_ratio(c['p99_ms_ratio'])} ({_rounds(c['p99_ms_ratio_rounds'], 2)}) |"
        )
    lines += neighbour_note(result["variants"])
    lines += cells_table(result["cells"])
    verdict = "pins its workers" if decision["pin"] else "does not pin its workers"
    lines += [
        "",
        "## Decision",
        "",
        f"The service {verdict}. Rule: pin only if, on the exclusive set, pinned p99 is at "
        f"most {decision['p99_ratio_at_most']:.2f}x unpinned and req/s at least "
        f"{decision['rps_ratio_at_least']:.2f}x, in every quiet round, of at least "
        f"{MIN_QUIET_PAIRS}. Measured: {decision['why']}.",
        "",
    ]
    return "\n".join(lines)


def cells_table(cells: list[dict[str, Any]]) -> list[str]:
    """Every cell in run order: the noise each one saw is beside its numbers."""
    lines = [
        "",
        "## Every cell, in run order",
        "",
        "| # | variant | req/s | p50 ms | p99 ms | server cores | wrk cores | neighbour cores "
        "| other cores | irq cores | stolen cores |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, c in enumerate(cells, 1):
        lines.append(
            f"| {i} | {c['variant']} | {c['rps']:.0f} | {c['p50_ms']:.2f} | {c['p99_ms']:.1f} "
            f"| {c['server_cores']:.2f} | {c['client_cores']:.2f} | {c['neighbour_cores']:.2f} "
            f"| {c['other_cores']:.2f} | {c['interrupt_cores']:.2f} | {c['stolen_cores']:.2f} |"
        )
    return lines


def neighbour_note(variants: list[dict[str, Any]]) -> list[str]:
    """Who got the shared core: the neighbour's ratio is mostly CPU moved, not CPU saved."""
    by_name = {v["variant"]: v for v in variants}
    a, b = by_name["unpinned + neighbour"], by_name["pinned + neighbour"]
    return [
        "",
        f"With the neighbour, unpinned, the service used {a['server_cores']:.2f} cores and the "
        f"neighbour {a['neighbour_cores']:.2f}: the scheduler moves both workers off the busy "
        f"core. Pinned, {b['server_cores']:.2f} and {b['neighbour_cores']:.2f}: the worker "
        "pinned to that core takes its fair share of it from the neighbour. The service's gain "
        "there is CPU taken from the other cgroup, not work saved.",
    ]
