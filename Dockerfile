# The application images for docker-compose.yml, one target per service (each service names its own):
#   worker  `node --import tsx scripts/worker.ts`: production dependencies only (npm ci --omit=dev, ~89 MB).
#   api     `npm start`: serverless offline and esbuild, which it runs, are development dependencies, so it
#           carries them all (~500 MB). The default target (`docker build .`).
# Both run as the base image's unprivileged `node` user (uid 1000) over root-owned files it cannot change, and
# hold no .env, tests, benchmarks or data (.dockerignore): configuration comes from the environment.
FROM node:20-slim AS base
WORKDIR /app
COPY package.json package-lock.json ./

FROM base AS production-dependencies
RUN npm ci --omit=dev --no-audit --no-fund

FROM base AS all-dependencies
RUN npm ci --no-audit --no-fund

FROM node:20-slim AS application
WORKDIR /app
ENV NODE_ENV=production
COPY . .
# The only places the processes write: infra:up's state (.cache), serverless-esbuild's work folders and the
# Lambda invoke socket (.esbuild), the dashboard's bundle (dist), osls's service state (.serverless).
RUN mkdir -p .cache .esbuild dist .serverless && chown node:node .cache .esbuild dist .serverless

FROM application AS worker
COPY --from=production-dependencies /app/node_modules ./node_modules
USER node
CMD ["node", "--max-semi-space-size=32", "--heap-growing-percent=100", "--import", "tsx", "scripts/worker.ts"]

FROM application AS api
COPY --from=all-dependencies /app/node_modules ./node_modules
USER node
CMD ["npm", "start"]
