# syntax=docker/dockerfile:1
# The hyperflow image: the `hyperflow` binary on Debian slim, as a non-root user.
#
#   docker build -t hyperflow .
#   docker run --rm -p 5000:5000 -e HYPERFLOW_AUTH_TOKEN=... hyperflow \
#       server --host 0.0.0.0 --port 5000 --backend-store-uri postgresql://...
#
# The same image runs the server and the workers (`hyperflow sweep ...`). A worker needs
# what its trials run: build your own image `FROM hyperflow` with your training program and
# its dependencies (the example of deploy/ needs only sh and awk, which this one has).
# deploy/README.md explains the deployment files that use it.

# ---- build: the release binary, with the exact dependency versions of Cargo.lock ----
FROM rust:1.95-bookworm AS build
# Cargo features besides the defaults (`cli`: the command, the server, and every store
# and artifact location: SQLite, PostgreSQL, a tracking server, S3/GCS/Azure), e.g.
# `linfa`; none are needed for the deployment files.
ARG FEATURES=
WORKDIR /src
# The whole crate (.dockerignore keeps target/ and .git out): Cargo.toml names its tests,
# benches and examples, so cargo needs their files present to read the manifest.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin hyperflow --features "$FEATURES" \
    && cp target/release/hyperflow /usr/local/bin/hyperflow

# ---- runtime: the binary, CA certificates (https, TLS to PostgreSQL and S3), a user ----
FROM debian:bookworm-slim
# Package versions are not pinned: Debian's security archive replaces them, and a pinned
# version that is gone breaks the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/hyperflow hyperflow
COPY --from=build /usr/local/bin/hyperflow /usr/local/bin/hyperflow
COPY deploy/healthcheck.sh /usr/local/bin/hyperflow-healthcheck
USER 10001:10001
# The default SQLite store and artifact directory land here when no URI is given.
WORKDIR /var/lib/hyperflow
EXPOSE 5000
# GET /health of a server on port 5000 (no curl here: bash's /dev/tcp). Containers that
# run workers from this image turn it off (compose: `healthcheck: disable: true`);
# Kubernetes ignores it and uses the probes of deploy/k8s/server.yaml.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["hyperflow-healthcheck", "5000"]
ENTRYPOINT ["hyperflow"]
CMD ["--help"]
