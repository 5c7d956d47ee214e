// Server-Sent Events for the control plane: fans request records and health changes out to every connected
// browser or curl, with heartbeats so proxies keep idle streams open, and drops clients that stop reading.
// Format: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'

export interface SseClientOptions {
  /** Receives only events whose `topic` is this (events without a topic go to everyone). */
  readonly topic?: string
  /** Events sent to this client alone before any new one (what it missed while reconnecting). */
  readonly replay?: readonly SseEvent[]
}

export type SseEvent = {
  readonly event: string
  readonly id?: string
  /** Events with a topic (a host) reach only clients that asked for it, or asked for no topic. */
  readonly topic?: string
} & (
  /** The payload, sent as JSON. */
  { readonly data: unknown } |
  /** The payload already as JSON text (one line). */
  { readonly json: string }
)

export interface SseHub {
  readonly size: number
  /** Takes the reply over (Fastify no longer sends it) and keeps it open as an event stream. */
  attach(request: FastifyRequest, reply: FastifyReply, options?: SseClientOptions): void
  broadcast(event: SseEvent): void
  /** Ends every stream, so that the server can close. */
  close(): void
}

interface Client {
  readonly res: ServerResponse
  readonly topic: string | undefined
}

export interface SseHubOptions {
  readonly heartbeatMs: number
  /** A client with more than this many bytes unsent is too slow and is dropped, so memory stays bounded. */
  readonly maxBufferedBytes?: number
  /** Client reconnection delay sent in the stream's `retry:` field. */
  readonly retryMs?: number
}

function encode (event: SseEvent): string {
  // JSON.stringify escapes line breaks, so the payload fits on one `data:` line.
  return `${event.id !== undefined ? `id: ${event.id}\n` : ''}event: ${event.event}\ndata: ${'json' in event ? event.json : JSON.stringify(event.data)}\n\n`
}

export function createSseHub (options: SseHubOptions): SseHub {
  const clients = new Set<Client>()
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024
  let heartbeat: NodeJS.Timeout | undefined

  function drop (client: Client): void {
    clients.delete(client)
    if (clients.size === 0 && heartbeat !== undefined) {
      clearInterval(heartbeat)
      heartbeat = undefined
    }
  }

  function write (client: Client, chunk: string): void {
    if (client.res.writableLength > maxBuffered) {
      drop(client)
      client.res.destroy()
      return
    }
    client.res.write(chunk)
  }

  return {
    get size () { return clients.size },

    attach (request, reply, opts = {}) {
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // nginx would otherwise buffer the stream: https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_buffering
        'x-accel-buffering': 'no'
      })
      // A HEAD request gets the stream's headers and nothing else (a response to HEAD has no body to keep open).
      if (request.method === 'HEAD') {
        res.end()
        return
      }
      // A first comment flushes the headers, so the client knows it is subscribed before any event.
      res.write(`: residency-sim ledger stream\nretry: ${options.retryMs ?? 2000}\n\n`)
      for (const event of opts.replay ?? []) res.write(encode(event))
      const client: Client = { res, topic: opts.topic }
      clients.add(client)
      heartbeat ??= setInterval(function sendHeartbeat () {
        for (const c of clients) write(c, ': heartbeat\n\n')
      }, options.heartbeatMs).unref()
      request.raw.socket.setTimeout(0)
      res.on('close', function onStreamClosed () {
        drop(client)
        request.log.debug({ clients: clients.size }, 'ledger stream closed')
      })
      request.log.debug({ clients: clients.size, topic: opts.topic }, 'ledger stream opened')
    },

    broadcast (event) {
      if (clients.size === 0) return
      const chunk = encode(event)
      for (const c of clients) {
        if (event.topic !== undefined && c.topic !== undefined && c.topic !== event.topic) continue
        write(c, chunk)
      }
    },

    close () {
      for (const c of clients) c.res.end()
      clients.clear()
      if (heartbeat !== undefined) clearInterval(heartbeat)
      heartbeat = undefined
    }
  }
}
