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

export function createLogShipper (opts: ShipperOptions): LogShipper {
  const flushMs = opts.flushMs ?? 250
  const maxBatch = opts.maxBatch ?? 1000
  const queues = new Map<string, { sink: string, pop: string, lines: string[] }>()
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

  function flushNow (): void {
    timer = undefined
    for (const [key, q] of queues) {
      queues.delete(key)
      track(send(q.sink, q.pop, q.lines))
    }
  }

  return {
    ship (sink, record) {
      if (!opts.sinkUrl(sink)) return false
      const key = `${sink}\0${record.pop}`
      let q = queues.get(key)
      if (!q) { q = { sink, pop: record.pop, lines: [] }; queues.set(key, q) }
      q.lines.push(JSON.stringify(record))
      if (q.lines.length >= maxBatch) {
        queues.delete(key)
        track(send(q.sink, q.pop, q.lines))
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
