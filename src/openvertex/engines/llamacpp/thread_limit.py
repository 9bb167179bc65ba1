"""A runner's thread count, changed while it runs, so that cores follow the work.

Two runners that both compute with every core spin against each other: llama.cpp's
OpenMP threads busy-wait at each of the hundreds of barriers in one token's graph, and
two busy models ran at 20 + 15 tok/s together against 117 + 44 alone. Splitting the
cores once and for all stops the spinning but leaves a model that is busy alone half
the machine (SmolLM2 on one core of two: 80 tok/s instead of 117).

llama.cpp reads its thread count once, at start, and its server has no way to change
it. But each graph it computes starts one OpenMP team through libgomp's `GOMP_parallel`,
which the extension reaches through its procedure linkage table (PLT). A runner that
follows the work points that table's entry at a function that asks for at most `threads`
threads and calls libgomp's own; ggml sizes its work by the team it gets, so the next
graph (the next token, or the next batch of a prompt) runs on the new count.

Linux only, and only for an extension that reaches libgomp through a writable PLT entry
(the pinned xllamacpp wheel does): anywhere else `install` returns None and the runner
keeps the cores it was started with.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
from pathlib import Path
from typing import cast

SYMBOL = "GOMP_parallel"
# void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags)
_PARALLEL = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint)


@functools.cache
def extension() -> tuple[str, int] | None:
    """xllamacpp's extension file and where in it the PLT entry of `GOMP_parallel` lies
    (its offset from the load address); None if it has none. Read once per process: the
    parent reads it and hands it to each runner, which then need not parse 100 MB of ELF."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection
    from elftools.elf.sections import SymbolTableSection

    spec = importlib.util.find_spec("xllamacpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    for path in Path(next(iter(spec.submodule_search_locations))).glob("xllamacpp*.so"):
        try:
            with path.open("rb") as file:
                elf = ELFFile(file)
                for section in elf.iter_sections():
                    if not isinstance(section, RelocationSection) or not section.is_RELA():
                        continue
                    symbols = cast(SymbolTableSection, elf.get_section(section["sh_link"]))
                    for relocation in section.iter_relocations():
                        symbol = symbols.get_symbol(relocation["r_info_sym"])
                        if symbol.name == SYMBOL:
                            return str(path), relocation["r_offset"]
        except (OSError, ELFError):
            return None
    return None


class ThreadLimit:
    """The most threads each graph of this process may use; `threads` is read per graph."""

    def __init__(self, threads: int, libgomp: str) -> None:
        self.threads = threads
        # Kept alive for as long as the PLT entry points at it.
        self._callback = _PARALLEL(self._parallel)
        real = ctypes.CDLL(libgomp).GOMP_parallel  # the copy already loaded: same handle
        self._real = ctypes.cast(real, _PARALLEL)

    def _parallel(self, fn: int, data: int, requested: int, flags: int) -> None:
        limit = self.threads
        self._real(fn, data, min(requested, limit) if requested else limit, flags)


def install(library: str, offset: int, threads: int) -> ThreadLimit | None:
    """Route the loaded `library`'s calls to `GOMP_parallel` through a ThreadLimit.

    Call it once the model is loaded: the callback takes the GIL, which xllamacpp holds
    for the whole of a load while llama.cpp computes its warm-up graph."""
    maps = _maps()
    library_path = Path(library).resolve()
    base = next((low for low, _, _, at, path in maps if path == library_path and at == 0), None)
    libgomp = next((path for *_, path in maps if path.name.startswith("libgomp")), None)
    if base is None or libgomp is None:
        return None
    entry = base + offset
    writable = any(
        low <= entry < high and rw for low, high, rw, _, path in maps if path == library_path
    )
    if not writable:  # linked with full RELRO: the table is read-only
        return None
    limit = ThreadLimit(threads, str(libgomp))
    ctypes.c_void_p.from_address(entry).value = ctypes.cast(limit._callback, ctypes.c_void_p).value
    return limit


def _maps() -> list[tuple[int, int, bool, int, Path]]:
    """This process's file mappings: start, end, writable, file offset, file."""
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    maps = []
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith("/"):
            low, high = (int(x, 16) for x in fields[0].split("-"))
            maps.append(
                (low, high, fields[1].startswith("rw"), int(fields[2], 16), Path(fields[5]))
            )
    return maps
