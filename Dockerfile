# leaf-agent: the init/sidecar process in front of a wasmCloud host, with nats-server, non-root.
#   docker build -t leaf-agent:0.1.0 .
#   docker run --rm leaf-agent:0.1.0 --version
# Stages: build (compiles), runtime (the image; also the default, last stage), demo (runtime plus
# leaf-echo, the stand-in 1.x host of compose/ and scripts/container-test.sh, and wash-standin,
# the stand-in wasmCloud 2.x host (`wash host`'s NATS flags): --target demo).
# DEBIAN: the release both stages are built on, and so the nats-server the image ships (Debian's
# package): trixie (13, stable) has 2.10.27, the release wasmCloud 1.x's own compose files run and
# the oldest users still deploy; --build-arg DEBIAN=bookworm gives 2.9.10. Both are in the release
# matrix (scripts/test.sh); deploy/kubernetes/init-container.yaml pairs with the same release.
ARG DEBIAN=trixie

FROM debian:${DEBIAN} AS build
WORKDIR /src
# Dependencies first: this layer stays cached while the sources change.
COPY scripts/install-deps.sh scripts/
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt ./
COPY templates templates
COPY third_party third_party
COPY agent agent
COPY tests tests
COPY scripts/runtime-packages.sh scripts/
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null \
 && cmake --build build --target leaf-agent leaf-echo wash-standin \
 && strip build/leaf-agent build/leaf-echo build/wash-standin \
 && scripts/runtime-packages.sh build/leaf-agent build/leaf-echo build/wash-standin >build/runtime-packages \
 && echo "runtime packages (from ldd):" $(cat build/runtime-packages)

FROM debian:${DEBIAN}-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG DEBIAN
LABEL org.opencontainers.image.title="leaf-agent" \
      org.opencontainers.image.description="Sidecar NATS leaf node for wasmCloud hosts: fetches and validates JWT credentials, runs a localhost-only nats-server leaf, gates the host on a connected leaf" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:${DEBIAN}-slim"
# The runtime libraries are exactly those ldd found in the build stage (build/runtime-packages),
# plus the two leaf-agent loads on first use, which ldd cannot see: libssl3 (the upstream TLS
# probe, `init`, `dev-hub`) and libcurl4 (the `http` credentials source); plus nats-server and the
# CA store; no docs, man pages or apt lists.
COPY --from=build /src/build/runtime-packages /tmp/runtime-packages
RUN printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\npath-exclude /usr/share/lintian/*\n' \
      >/etc/dpkg/dpkg.cfg.d/01-leaf-nodoc \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      nats-server ca-certificates libssl3 libcurl4 $(cat /tmp/runtime-packages) \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/* /tmp/runtime-packages \
 && groupadd --system --gid 65532 leaf \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /run/leaf-agent --shell /usr/sbin/nologin leaf \
 && install -d -o leaf -g leaf -m 0700 /run/leaf-agent \
 && install -d -m 0755 /etc/leaf-agent
COPY --from=build /src/build/leaf-agent /usr/local/bin/leaf-agent
# The build fails here if the runtime stage misses a library or the binaries do not run.
RUN if ldd /usr/local/bin/leaf-agent | grep -F 'not found'; then echo "runtime stage misses the libraries above" >&2; exit 1; fi \
 && for lib in libssl.so.3 libcurl.so.4; do ldconfig -p | grep -qF "$lib " || { echo "runtime stage misses $lib" >&2; exit 1; }; done \
 && leaf-agent --version | grep -qxF "leaf-agent ${VERSION}" \
 && nats-server --version
USER 65532:65532
WORKDIR /run/leaf-agent
# 4222 (client) and 8090 (probes) listen on loopback only, by design: nothing to EXPOSE.
# `leaf-agent health` asks /readyz on agent.health_listen. Compose files and Kubernetes set their own.
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=3 CMD ["leaf-agent", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["leaf-agent"]
CMD ["run"]

FROM runtime AS demo
COPY --from=build /src/build/leaf-echo /src/build/wash-standin /usr/local/bin/
RUN if ldd /usr/local/bin/leaf-echo /usr/local/bin/wash-standin | grep -F 'not found'; then echo "demo stage misses the libraries above" >&2; exit 1; fi

# The default target: the image itself, without the demo tools.
FROM runtime
