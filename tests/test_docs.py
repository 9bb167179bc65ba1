"""The documentation: the site under docs/ builds cleanly, and the README's links lead somewhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# A markdown link or image, `[text](target "title")`, or an HTML image's `src="target"`.
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)|<img\b[^>]*\bsrc=\"([^\"]+)\"")


def readme_targets() -> list[str]:
    """The README's links to files in the repository: no web addresses, no in-page anchors."""
    text = FENCE.sub("", (ROOT / "README.md").read_text())
    targets = [link or src for link, src in LINK.findall(text)]
    return [t for t in targets if not t.startswith(("http://", "https://", "mailto:", "#"))]


def test_site_builds_strictly(tmp_path: Path) -> None:
    """`--strict` fails on a page left out, a broken link, anchor or image: the site stays whole."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "index.html").is_file()


def test_readme_links_reach_files() -> None:
    """The README is a reader's way into docs/ on GitHub: each relative link must reach a file."""
    targets = readme_targets()
    assert any(t.startswith("docs/") for t in targets)
    missing = [t for t in targets if not (ROOT / t.split("#", 1)[0]).exists()]
    assert not missing, f"README links to missing files: {missing}"
