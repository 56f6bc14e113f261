"""python -m scripts.bench [...] compares serving patterns; `... bench oip` the OIP's two forms;
`... bench hotpath` profiles a worker under load; `... bench stack` the in-process stack cost;
`... bench onnx-memory` the copies of an ONNX model's weights W workers hold;
`... bench onnx-threads` ONNX Runtime's spinning threads against sleeping ones;
`... bench onnx-serving` exported models served against onnxruntime in-process;
`... bench locust-clients` Locust's FastHttpUser against HttpUser, req/s per client core;
`... bench pinning` gunicorn workers pinned to one core each against unpinned."""

from __future__ import annotations

import sys

from scripts.bench import (
    cli,
    hotpath,
    locust_clients,
    oip,
    onnx_memory,
    onnx_serving,
    onnx_threads,
    pinning,
    stack,
)


def main(argv: list[str]) -> int:
    commands = {
        "oip": oip.main,
        "hotpath": hotpath.main,
        "stack": stack.main,
        "onnx-memory": onnx_memory.main,
        "onnx-threads": onnx_threads.main,
        "onnx-serving": onnx_serving.main,
        "locust-clients": locust_clients.main,
        "pinning": pinning.main,
    }
    if argv[:1] and argv[0] in commands:
        return commands[argv[0]](argv[1:])
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
