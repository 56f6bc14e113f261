"""The experiments of `bench onnx-memory`: a model written, a route prepared, W workers
measured, and the side studies at 100 MiB (scripts/bench/onnx_memory.py runs them)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from scripts.bench.onnx_models import dims, prepare, write_mlp
from scripts.bench.onnx_procs import in_cgroup, prepare_work, session_work
from service.inference.onnx_session import onnx_weights_bytes
from service.sizing.cgroups import MIB

LEVELS = ("ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL")
THREADS = 1


def source_model(folder: Path, size_mib: int, transposed: bool = False) -> tuple[Path, float]:
    """The inline model.onnx (written in a child: its bytes never stay in this process)."""
    path = folder / "model.onnx"

    def write() -> dict[str, Any]:
        write_mlp(path, dims(size_mib), transposed)
        return {}

    in_cgroup([write], [])
    return path, onnx_weights_bytes(folder) / MIB


def resident(cgroup: dict[str, float]) -> float:
    """What the cgroup cannot drop: anonymous memory plus file pages some worker maps."""
    return cgroup["anon_mib"] + cgroup["mapped_file_mib"]


def measure(
    route: str, model: Path, files: list[Path], workers: int, packed: bool, **options: Any
) -> dict[str, Any]:
    width = dims(1)[0]
    works = [session_work(route, model, THREADS, packed, width, **options) for _ in range(workers)]
    result = in_cgroup(works, files)
    each = result["workers"]
    return {
        "uss_mib": round(max(w["smaps"]["Uss"] for w in each), 1),
        "pss_mib": round(max(w["smaps"]["Pss"] for w in each), 1),
        "anon_mib": round(max(w["smaps"]["Pss_Anon"] for w in each), 1),
        "load_s": round(max(w["load_s"] for w in each), 2),
        "cgroup": {
            k: result["cgroup"][k]
            for k in ("peak_mib", "usage_mib", "anon_mib", "file_mib", "mapped_file_mib")
        },
        "resident_mib": round(resident(result["cgroup"]), 1),
    }


def row(base: dict[int, dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A run with its copies of the weights: (resident beyond the bare workers) / model."""
    bare = base[fields["workers"]]
    extra = fields["resident_mib"] - bare["resident_mib"]
    fields["copies"] = round(extra / fields["model_mib"], 2)
    print(
        f"{fields['route']:>13} {fields['size_mib']:>4} MiB {fields.get('variant', ''):>19}"
        f" {'packed' if fields['packed'] else 'shared'} W={fields['workers']}"
        f"  per worker USS {fields['uss_mib']:7.1f} PSS {fields['pss_mib']:7.1f}"
        f"  cgroup peak {fields['cgroup']['peak_mib']:7.1f} resident {fields['resident_mib']:7.1f}"
        f"  copies {fields['copies']:.2f}  load {fields['load_s']:.2f} s",
        flush=True,
    )
    return fields


def prepared_run(route: str, source: Path, into: Path, packed: bool) -> dict[str, Any]:
    result = in_cgroup([prepare_work(lambda: prepare(route, source, into, packed))], [source])
    done = result["workers"][0]
    path = Path(done.pop("path"))
    disk = (
        sum(f.stat().st_size for f in path.parent.rglob("*") if f.is_file())
        if route != "inline"
        else 0
    )
    done |= {"cgroup_peak_mib": result["cgroup"]["peak_mib"], "disk_mib": round(disk / MIB, 1)}
    done["path"] = path
    return done


def largest_weight_mib(size_mib: int) -> float:
    widths = dims(size_mib)
    return max(a * b for a, b in itertools.pairwise(widths)) * 4 / MIB


def side_studies(
    base: dict[int, dict[str, Any]], folder: Path, source: Path, fields: dict[str, Any]
) -> list[dict[str, Any]]:
    """W=2 at 100 MiB: graph optimization levels on weights behind Transpose nodes, the
    memmap route without direct buffers, the prepared route without the heap trim."""
    rows = []
    transposed, model_mib = source_model(folder / "transposed", 100, transposed=True)
    moved = {**fields, "model_mib": round(model_mib, 1)}
    for route, levels in (("external", LEVELS), ("prepared", ("",))):
        for packed in (False, True):
            into = folder / f"transposed-{route}-{packed}"
            model = prepared_run(route, transposed, into, packed)["path"]
            for level in levels:
                measured = measure(route, model, [transposed, into], 2, packed, level=level)
                rows.append(
                    row(
                        base,
                        route=route,
                        variant=f"transposed {level}".strip(),
                        **moved,
                        packed=packed,
                        workers=2,
                        **measured,
                    )
                )
    for packed in (False, True):
        into = folder / f"memmap-copied-{packed}"
        model = prepared_run("memmap-copied", source, into, packed)["path"]
        measured = measure("memmap-copied", model, [source, into], 2, packed)
        rows.append(
            row(
                base,
                route="memmap-copied",
                variant="no direct buffers",
                **fields,
                packed=packed,
                workers=2,
                **measured,
            )
        )
        into = folder / f"prepared-{'packed' if packed else 'shared'}"
        model = prepared_run("prepared", source, into, packed)["path"]
        measured = measure("prepared", model, [source, into], 2, packed, trim=False)
        rows.append(
            row(
                base,
                route="prepared",
                variant="no heap trim",
                **fields,
                packed=packed,
                workers=2,
                **measured,
            )
        )
    return rows


def fits(base: dict[int, dict[str, Any]], folder: Path, source: Path, fields: dict[str, Any]
         ) -> list[dict[str, Any]]:  # fmt: skip
    """W=2 under a memory limit of one copy + 2 x (8 MiB + the largest weight) + 16 MiB: the
    prepared routes fit (the unmapped page cache is dropped), inline packed does not."""
    limit = round(fields["model_mib"] + 2 * (8 + largest_weight_mib(100)) + 16)
    found = []
    for route, packed in (("prepared", False), ("prepared", True), ("inline", True)):
        into = folder / f"fits-{route}-{packed}"
        model = prepared_run(route, source, into, packed)["path"]
        try:
            works = [session_work(route, model, THREADS, packed, dims(1)[0]) for _ in range(2)]
            cgroup = in_cgroup(works, [source, into], memory_mib=limit)["cgroup"]
            outcome = {"fits": True, "peak_mib": cgroup["peak_mib"]}
        except RuntimeError as exc:
            outcome = {"fits": False, "error": str(exc)}
        found.append({"route": route, "packed": packed, "workers": 2, "limit_mib": limit,
                      **fields, **outcome})  # fmt: skip
        print(f"{route} {'packed' if packed else 'shared'} W=2 under {limit} MiB: {outcome}")
    return found
