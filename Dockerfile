# residency-sim in a container: the whole simulated network (every PoP, the anycast edge, the TLS edge, the control
# plane, origins, key and log services) in one process, as `npm start` runs it, listening on all interfaces.
# The Node major version matches the `node` devDependency and `engines` in package.json (a test checks it).
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The image's own Node runs the sources: production dependencies only (no pinned node binary, no test tools).
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY bin ./bin
COPY config ./config
COPY regions ./regions
COPY src ./src
# The run's CA certificate is written to .rsim/ca.pem (curl --cacert).
RUN mkdir .rsim && chown node:node .rsim
USER node
EXPOSE 8080 8081 8443
CMD ["node", "--max-semi-space-size=64", "src/cli/main.ts", "start", "--host", "0.0.0.0", "--port", "8080", "--control-port", "8081", "--tls-port", "8443"]
