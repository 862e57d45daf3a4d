# labforge in a container. The image carries git and the PostgreSQL server binaries, so it runs
# alone (its own cluster under /data/pg) or, as in compose.yaml, against a PostgreSQL service.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked && strip target/release/labforge

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git postgresql ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /data --uid 1000 labforge
COPY --from=build /src/target/release/labforge /usr/local/bin/labforge
COPY --from=build /src/hooks/deploy-*.sh /src/hooks/check-*.sh /usr/local/share/labforge/hooks/
USER labforge
ENV LABFORGE_DATA_DIR=/data LABFORGE_HTTP_ADDR=0.0.0.0:3000 LABFORGE_SSH_ADDR=0.0.0.0:2222
VOLUME /data
EXPOSE 3000 2222
HEALTHCHECK --interval=30s --timeout=5s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/3000 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '200 OK' <&3"]
ENTRYPOINT ["labforge"]
CMD ["serve"]
