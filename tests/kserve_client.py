"""KServe's own InferenceRESTClient against a running service; prints what it saw as JSON.

Runs in the separate KServe venv (.tools/kserve, made by `scripts/setup --dev`): kserve 0.21
needs python-dateutil<3 while the pinned kubernetes client needs >=3, so it cannot share .venv.
    .tools/kserve/bin/python tests/kserve_client.py http://127.0.0.1:8000 rows.json
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, InferResponse, RESTConfig
from kserve.protocol.infer_type import RequestedOutput

MODEL = "digits-mlp"


def request(rows: np.ndarray, binary: bool, name: str = "input-0") -> InferRequest:
    infer_input = InferInput(name, list(rows.shape), "FP32")
    infer_input.set_data_from_numpy(rows, binary_data=binary)
    wanted = [RequestedOutput(n, {"binary_data": binary}) for n in ("probabilities", "label")]
    return InferRequest(MODEL, [infer_input], request_id="kserve-1", request_outputs=wanted)


def summary(response: InferResponse, headers: dict[str, str]) -> dict[str, Any]:
    by_name = {o.name: o for o in response.outputs}
    labels = by_name["label"].as_numpy().tolist()
    return {
        "type": type(response).__name__,
        "id": response.id,
        "model_name": response.model_name,
        "labels": [v.decode() if isinstance(v, bytes) else v for v in labels],
        "probabilities": by_name["probabilities"].as_numpy().reshape(len(labels), -1).tolist(),
        "binary_header": headers.get("inference-header-content-length"),
    }


async def refusal(client: InferenceRESTClient, url: str, body: InferRequest, model: str) -> Any:
    try:
        await client.infer(url, body, model_name=model)
    except httpx.HTTPStatusError as exc:
        return [exc.response.status_code, str(exc)]
    return "accepted"


async def main(url: str, rows: np.ndarray) -> dict[str, Any]:
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
    seen: dict[str, Any] = {
        "live": await client.is_server_live(url),
        "ready": await client.is_server_ready(url),
        "model_ready": await client.is_model_ready(url, MODEL),
        "other_ready": await client.is_model_ready(url, "other"),
    }
    for form in ("json", "binary"):
        headers: dict[str, str] = {}
        response = await client.infer(
            url, request(rows, form == "binary"), model_name=MODEL, response_headers=headers
        )
        seen[form] = summary(response, headers)
    seen["unknown_input"] = await refusal(client, url, request(rows, True, "pixels"), MODEL)
    seen["unknown_model"] = await refusal(client, url, request(rows, False), "other")
    await client.close()
    return seen


if __name__ == "__main__":
    inputs = np.array(json.loads(Path(sys.argv[2]).read_text()), dtype=np.float32)
    print(json.dumps(asyncio.run(main(sys.argv[1], inputs))))
