// The request methods the data path forwards: every one node's HTTP parser knows (http.METHODS), as a reverse proxy
// forwards WebDAV's PROPFIND, MKCOL or LOCK, PURGE, QUERY and the rest as it forwards GET, where fastify routes only
// its standard seven unless told of the others.
import { METHODS } from 'node:http'
import type { FastifyInstance } from 'fastify'

/** CONNECT asks for a tunnel, which no service here gives: node hands it over before routing (answered 405). */
const NOT_ROUTED = new Set(['CONNECT'])

/** Makes `app.all` take every method: call it before the app's routes are declared. */
export function routeEveryMethod (app: FastifyInstance): void {
  for (const method of METHODS) {
    if (NOT_ROUTED.has(method) || app.supportedMethods.includes(method)) continue
    // Such a method may carry a body (PROPFIND's XML, LOCK's owner): it streams through like any other.
    app.addHttpMethod(method, { hasBody: true })
  }
}
