// The off-the-shelf Fastify reverse proxy (@fastify/http-proxy, on @fastify/reply-from and undici), in its default
// configuration: what a team would reach for instead of writing a forwarder.
import Fastify, { type FastifyInstance } from 'fastify'
import proxy from '@fastify/http-proxy'

export function buildHttpProxy (upstream: string): FastifyInstance {
  // Teardown between benchmark variants must not wait for the load generator's idle keep-alive sockets.
  const app = Fastify({ logger: false, forceCloseConnections: true })
  app.register(proxy, { upstream })
  return app
}
