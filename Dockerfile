# doorflow-provisioner image: the CLI (worker, serve, import, simulate, …) on Node 20.
#   docker build -t doorflow-provisioner .
#   docker run --rm doorflow-provisioner --help
# CI has no Docker engine: scripts/docker-build-steps.mjs runs this file's COPY and RUN steps in a
# scratch folder and starts the result, so keep every step runnable there (paths relative to WORKDIR).

# --- build: every dependency, compile src/ to dist/, then drop the dev dependencies -------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

# --- runtime: production dependencies, the compiled CLI, no sources, no compiler, not root -------
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY examples ./examples
USER node
# Liveness of `serve` (its /healthz on SERVE_PORT). Other commands have no HTTP port: docker-compose.yml
# gives the worker and the simulator their own checks. No curl in slim images, so Node's fetch.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SERVE_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/doorflow-provisioner.js"]
CMD ["--help"]
