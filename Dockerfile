# leaf-agent: a non-root image with nats-server, for the sidecar leaf node pattern.
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends sudo && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/install-deps.sh && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build --target leaf-agent && strip build/leaf-agent

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      nats-server ca-certificates libnats3.4 libsodium23 libssl3 libcurl4 libspdlog1.10 libfmt9 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --home-dir /run/leaf-agent leaf \
 && install -d -o leaf -g leaf -m 0700 /run/leaf-agent
COPY --from=build /src/build/leaf-agent /usr/local/bin/leaf-agent
USER 65532:65532
EXPOSE 8090
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s CMD ["leaf-agent", "health"]
ENTRYPOINT ["leaf-agent", "run"]
