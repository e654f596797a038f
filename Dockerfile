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

# Runtime: the compiled control plane, its launcher and production
# dependencies only. bin/mediamesh.js loads build/xds-server/src/cli/main.js;
# package.json marks the files as ES modules and is how the code finds its root.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY bin/ ./bin/
COPY --from=build /src/build/xds-server/ ./build/xds-server/
USER 10001:10001
EXPOSE 18000 9090 9443
ENTRYPOINT ["node", "bin/mediamesh.js"]
CMD ["help"]
