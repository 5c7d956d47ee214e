// Ships each request's log record (metadata only) to the log sink of the customer's log region, in batches: one
// queue per (sink, PoP) flushed every quarter of a second (or at 1,000 records), each batch HMAC-signed as coming from
// its PoP. A batch is an HTTP exchange with the sink, so fewer, larger batches cost less per record. A record is
// queued as its NDJSON line, written when it is shipped, so the queue holds one string per record rather than
// objects that would outlive the young generation while they wait.
import type { Logger } from 'pino'
import type { ForwardSigner } from '../../net/signing.ts'
import type { Upstreams } from '../../net/upstream.ts'
import type { LogRecord } from '../logs/app.ts'

export interface LogShipper {
  /** Queues a record for `sink` (a log core PoP id), as JSON. Returns false when the sink is unknown. */
  ship (sink: string, record: LogRecord): boolean
  /** Sends everything queued now. */
  flush (): Promise<void>
  close (): Promise<void>
}

export interface ShipperOptions {
  readonly sinkUrl: (sink: string) => string | undefined
  readonly upstreams: Upstreams
  readonly signer: ForwardSigner
  readonly logger: Logger
  readonly flushMs?: number
  readonly maxBatch?: number
}

interface Queue {
  readonly sink: string
  readonly pop: string
  lines: string[]
}

export function createLogShipper (opts: ShipperOptions): LogShipper {
  const flushMs = opts.flushMs ?? 250
  const maxBatch = opts.maxBatch ?? 1000
  // Queues by sink, then by PoP: looked up by the two ids as they are, with no key string made per record. A queue
  // stays once made (one per sink and PoP pair); flushing hands its lines on and starts a new list.
  const queues = new Map<string, Map<string, Queue>>()
  const inFlight = new Set<Promise<void>>()
  let timer: NodeJS.Timeout | undefined

  async function send (sink: string, pop: string, lines: string[]): Promise<void> {
    const url = opts.sinkUrl(sink)
    if (!url) return
    const body = lines.join('\n') + '\n'
    try {
      const res = await opts.upstreams.get(url).request({
        path: '/logs',
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', ...opts.signer.signBody(pop, body) },
        body
      })
      // Always consume the body, or the keep-alive socket is never released (undici #1203).
      await res.body.dump()
      if (res.statusCode !== 202) opts.logger.warn({ sink, pop, status: res.statusCode }, 'log batch refused')
    } catch (err) {
      opts.logger.warn({ sink, pop, code: (err as { code?: string }).code }, 'log batch not delivered')
    }
  }

  function track (p: Promise<void>): void {
    inFlight.add(p)
    p.finally(() => inFlight.delete(p)).catch(() => {})
  }

  function sendQueued (q: Queue): void {
    const lines = q.lines
    q.lines = []
    track(send(q.sink, q.pop, lines))
  }

  function flushNow (): void {
    timer = undefined
    for (const bySink of queues.values()) {
      for (const q of bySink.values()) if (q.lines.length > 0) sendQueued(q)
    }
  }

  return {
    ship (sink, record) {
      if (!opts.sinkUrl(sink)) return false
      let bySink = queues.get(sink)
      if (bySink === undefined) queues.set(sink, bySink = new Map())
      let q = bySink.get(record.pop)
      if (q === undefined) bySink.set(record.pop, q = { sink, pop: record.pop, lines: [] })
      q.lines.push(JSON.stringify(record))
      if (q.lines.length >= maxBatch) {
        sendQueued(q)
      } else if (timer === undefined) {
        timer = setTimeout(flushNow, flushMs)
        timer.unref()
      }
      return true
    },
    async flush () {
      if (timer) clearTimeout(timer)
      flushNow()
      await Promise.all([...inFlight])
    },
    async close () {
      await this.flush()
    }
  }
}
