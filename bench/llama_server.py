"""llama.cpp's own HTTP server (as embedded in xllamacpp), the bench's reference.

No llama-server binary can be fetched here, so this runs llama.cpp's server code
through the same wheel openvertex uses, with the same model, slots, context and
threads that openvertex's engine sets. It prints the listening address on
stdout, then sleeps until it is killed.

    python bench/llama_server.py --port 8090 --parallel 8 --threads 2
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

import xllamacpp

from openvertex.catalog import resolve_model_path


def build_params(
    port: int,
    parallel: int,
    threads: int,
    context: int,
    model: Path | None = None,
    embedding: bool = False,
) -> xllamacpp.CommonParams:
    """The settings openvertex's LlamaCppEngine uses, minus its private API key.

    Chats are rendered with the model's own template (jinja, on by default in this
    build, as in `llama-server`), which also parses tool calls for the tests' upstreams.
    """
    params = xllamacpp.CommonParams()
    params.model.path = str(model or resolve_model_path(None))
    params.n_parallel = parallel
    params.n_ctx = parallel * context  # llama.cpp splits it per slot
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.cache_prompt = True
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.ui = False
    params.endpoint_slots = False
    params.verbosity = 2
    if embedding:  # as openvertex's embedder: one text per batch, up to the context
        params.embedding = True
        params.n_batch = params.n_ubatch = context
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context", type=int, default=4096, help="tokens per slot")
    parser.add_argument("--model", help="as `openvertex serve --model`; the embedded if unset")
    parser.add_argument("--data-dir", type=Path, default=Path("~/.openvertex"))
    parser.add_argument("--embedding", action="store_true", help="serve /v1/embeddings")
    args = parser.parse_args()
    model = resolve_model_path(args.model, args.data_dir) if args.model else None
    params = build_params(
        args.port, args.parallel, args.threads, args.context, model, embedding=args.embedding
    )
    server = xllamacpp.Server(params)
    print(server.listening_address, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
