# pompier in a container: built with the Rust toolchain, run from a slim image as a
# non-root user. SQLite by default (a volume at /var/lib/pompier); set DATABASE_URL to
# a PostgreSQL to run several. docker-compose.yml runs it with PostgreSQL.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin pompier

FROM debian:bookworm-slim
# Debian replaces package versions with each security update, so pinning them would
# break the build; the image takes whatever bookworm's current ones are.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/pompier --create-home pompier
COPY --from=build /src/target/release/pompier /usr/local/bin/pompier
USER pompier
WORKDIR /var/lib/pompier
VOLUME /var/lib/pompier
ENV POMPIER_LISTEN=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///var/lib/pompier/pompier.db
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
# pompier is PID 1 and stops on SIGTERM within jobs.shutdown_grace_secs and a second.
STOPSIGNAL SIGTERM
ENTRYPOINT ["pompier"]
CMD ["serve"]
