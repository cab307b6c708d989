# leaf-agent + the wasmCloud host in one image, for entrypoint mode (entrypoint.yaml).
# Not built by the tests (no registry here): check the host binary's path in the wasmCloud image
# you pin, and that it runs on Debian trixie (the leaf-agent image's base).
ARG LEAF_AGENT_IMAGE=leaf-agent:0.1.0
ARG WASMCLOUD_IMAGE=ghcr.io/wasmcloud/wasmcloud:1.2.1
FROM ${WASMCLOUD_IMAGE} AS wasmcloud
FROM ${LEAF_AGENT_IMAGE}
COPY --from=wasmcloud /usr/local/bin/wasmcloud /usr/local/bin/wasmcloud
CMD ["run", "--", "wasmcloud"]
