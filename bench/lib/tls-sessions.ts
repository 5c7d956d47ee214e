// TLS session reuse for the load generator's resumed connections.
import { buildConnector } from 'undici'

/**
 * undici's connector with the TLS sessions it is given held strongly. undici keeps them by WeakRef, and a TLS 1.3
 * server issues tickets on a full handshake only, so the one session a run of resumed connections lives on could be
 * collected by any garbage collection in between, and the next connection would make a full handshake instead.
 */
export function holdingSessions (tlsOptions: { readonly ca: string, readonly servername: string }): buildConnector.connector {
  const connect = buildConnector(tlsOptions)
  // Two tickets per full handshake; a run makes one, or one more where the server refused a ticket.
  const held: Buffer[] = []
  return function connectHoldingSessions (opts, callback) {
    connect(opts, (...args) => {
      // Tickets come after the handshake (the client's Finished goes out with its first request), so after this call.
      args[1]?.on('session', (session: Buffer) => { held.push(session) })
      callback(...args)
    })
  }
}
