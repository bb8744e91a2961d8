# m365sync: one image, three processes (api, worker, scheduler) chosen by the command.
# Node 22 (LTS), pinned to a patch release so a rebuild gives the same base (test/ops/compose.test.ts);
# the code also runs on Node 20.19+ (package.json engines), which the dev machines have.
FROM node:22.14.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:22.14.0-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
ENTRYPOINT ["node", "dist/cli/cli.js"]
CMD ["--help"]
