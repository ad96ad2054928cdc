FROM python:3.11-slim
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
ENTRYPOINT ["sevpro"]
