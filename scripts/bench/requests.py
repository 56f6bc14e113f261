"""The wrk scripts: one request kind per script, bodies built once (the client stays cheap).

Kinds: `v1` (`POST /v1/predict`, JSON), `oip-json` and `oip-binary` (`POST
/v2/models/{name}/infer`, the tensor as JSON numbers or as the binary tensor data extension,
outputs asked for in the same form). One row per request, a different row each time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

KINDS = ("v1", "oip-json", "oip-binary")

LUA = """
local bodies = {%(bodies)s}
local requests = {}
local i = 0

function init(args)
  for k, body in ipairs(bodies) do
    requests[k] = wrk.format("POST", "%(path)s", %(headers)s, body)
  end
end

function request()
  i = i %% #requests + 1
  return requests[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d,'
    .. ' "status": %%d, "timeout": %%d, "p50_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def _lua_string(data: bytes) -> str:
    # Decimal escapes: any byte, and no long-bracket terminator can appear by chance.
    return '"' + "".join(f"\\{b}" for b in data) + '"'


def body(kind: str, row: np.ndarray, model_name: str) -> tuple[str, bytes, dict[str, str]]:
    """(path, body, headers) of one request carrying `row`."""
    if kind == "v1":
        payload = json.dumps({"inputs": [row.tolist()]}).encode()
        return "/v1/predict", payload, {"Content-Type": "application/json"}
    path = f"/v2/models/{model_name}/infer"
    tensor = {"name": "input-0", "shape": [1, len(row)], "datatype": "FP32"}
    if kind == "oip-json":
        payload = json.dumps({"inputs": [{**tensor, "data": row.tolist()}]}).encode()
        return path, payload, {"Content-Type": "application/json"}
    raw = np.asarray(row, "<f4").tobytes()
    header = json.dumps(
        {
            "inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    ).encode()
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }
    return path, header + raw, headers


def write_lua(directory: Path, kind: str, rows: np.ndarray, model_name: str) -> Path:
    built = [body(kind, row, model_name) for row in rows]
    path, _, headers = built[0]
    table = "{" + ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items()) + "}"
    script = LUA % {
        "bodies": ",".join(_lua_string(b) for _, b, _ in built),
        "path": path,
        "headers": table,
    }
    out = directory / f"{kind}.lua"
    out.write_text(script)
    return out
