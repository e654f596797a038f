# The control plane's image: `mediamesh serve` and the rest of the CLI.
#   docker build -t ghcr.io/mediamesh/control-plane:0.1.0 .
# manifests/control-plane/deployment.yaml runs it as the UID set below.

# Build: protoc (scripts/gen-protos.mjs generates the Envoy API types with
# Debian's protoc and the well-known types from libprotobuf-dev), then tsc.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# The filters the control plane serves to sidecars by sha256: the RTP filter
# (an Envoy dynamic module, `serve --rtp-module remote`) and the RTSP filter
# (proxy-wasm, `serve --rtsp-filter remote`, built with clang for wasm32-wasi):
# built here, so a stock Envoy image needs nothing on disk.
FROM debian:bookworm-slim AS filters
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake ninja-build g++ nlohmann-json3-dev \
      clang lld wasi-libc libclang-rt-14-dev-wasm32 libc++-14-dev-wasm32 libc++abi-14-dev-wasm32 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY envoy-filters/ ./envoy-filters/
RUN cmake -S envoy-filters -B build/envoy-filters -G Ninja -DCMAKE_BUILD_TYPE=Release -DMEDIAMESH_TESTS=OFF \
 && cmake --build build/envoy-filters --target mediamesh_rtp_filter mediamesh_rtsp_filter_wasm

# Runtime: the compiled control plane, its launcher and production
# dependencies only. bin/mediamesh.js loads build/xds-server/src/cli/main.js;
# package.json marks the files as ES modules and is how the code finds its root.
# The same image is the injected pods' init container (mediamesh-init): it
# runs the interception script as root with NET_ADMIN and NET_RAW, so it
# carries iptables (nft and legacy backends) and iproute2; the control plane
# itself runs as UID 10001 and uses neither.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables iproute2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY bin/ ./bin/
COPY --from=build /src/build/xds-server/ ./build/xds-server/
COPY --from=filters /src/build/envoy-filters/dynamic-module/libmediamesh_rtp_filter.so ./build/envoy-filters/dynamic-module/
COPY --from=filters /src/build/envoy-filters/wasm/mediamesh_rtsp_filter.wasm ./build/envoy-filters/wasm/
# The interception script the init container runs: sh /app/manifests/interception/mediamesh-intercept.sh apply ...
COPY manifests/interception/ ./manifests/interception/
USER 10001:10001
EXPOSE 18000 9090 9443
ENTRYPOINT ["node", "bin/mediamesh.js"]
CMD ["help"]
