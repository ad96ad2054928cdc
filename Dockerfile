FROM python:3.11-slim
# The services run as an unprivileged user (a numeric uid, so that Kubernetes' runAsNonRoot can check it).
RUN useradd --create-home --uid 10001 --user-group sevpro
WORKDIR /app
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY foundation foundation
COPY registry registry
COPY sevpro sevpro
COPY schemas schemas
COPY streams streams
COPY connectors connectors
COPY projections projections
COPY sandbox sandbox
COPY console console
COPY contract contract
RUN pip install --no-cache-dir -c constraints.txt .
# Read models, outbox and console users live in the user's home (mount a volume there to keep them).
ENV SEVPRO_HOME=/home/sevpro/.sevpro
USER 10001:10001
ENTRYPOINT ["sevpro"]
