# tapwire image: the sidecar (`tapwire sidecar`, default command once the sidecar lands) and the
# source of the preload for other containers (an init container copies /tapwire into a shared
# volume; the app sets NODE_OPTIONS=--import=/tapwire/register.js).
#
# Build stage: compile and bundle. The bundle (dist/) has no runtime npm dependencies besides
# the optional pino-pretty, so the final stage copies dist/ alone.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /tapwire
COPY --from=build /src/dist/ /tapwire/
USER node
EXPOSE 9464
ENTRYPOINT ["node", "/tapwire/cli/main.js"]
CMD ["--help"]
