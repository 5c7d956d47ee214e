// `GET /api/keys/audit`: the key audit log over HTTP, as a fastify plugin the control plane registers
// (`app.register(keyAuditRoutes, { audit })`): every key fetch and signature, allowed or refused, most recent last.
import { Type } from '@sinclair/typebox'
import type { Static } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import { normaliseHost } from '../../core/planner.ts'
import type { KeyAuditEntry, KeyAuditFilter, KeyAuditLog } from './audit.ts'

export interface KeyAuditRoutesOptions {
  readonly audit: KeyAuditLog
  /** Most entries one answer may carry. Default 1000. */
  readonly maxLimit?: number
}

const AuditQuery = Type.Object({
  host: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'Only entries for this customer host.' })),
  pop: Type.Optional(Type.String({ minLength: 1, maxLength: 16, description: 'Only entries where this PoP asked or signed.' })),
  outcome: Type.Optional(Type.Union([Type.Literal('allowed'), Type.Literal('refused')], { description: 'Only allowed or only refused.' })),
  operation: Type.Optional(Type.Union([Type.Literal('fetch'), Type.Literal('sign')], { description: 'Only key fetches or only signatures.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, description: 'At most this many entries, the most recent.' }))
}, { additionalProperties: false })

export interface KeyAuditAnswer {
  /** Entries recorded since start-up, dropped ones included. */
  readonly total: number
  /** How many the log keeps. */
  readonly capacity: number
  readonly entries: readonly KeyAuditEntry[]
}

export const keyAuditRoutes: FastifyPluginAsync<KeyAuditRoutesOptions> = async function keyAuditRoutes (app, opts) {
  const maxLimit = opts.maxLimit ?? 1000
  app.get<{ Querystring: Static<typeof AuditQuery> }>('/api/keys/audit', { schema: { querystring: AuditQuery } }, async function listKeyAudit (request) {
    const q = request.query
    const filter: KeyAuditFilter = {
      limit: Math.min(q.limit ?? maxLimit, maxLimit),
      ...(q.host === undefined ? {} : { host: normaliseHost(q.host) }),
      ...(q.pop === undefined ? {} : { pop: q.pop.trim().toUpperCase() }),
      ...(q.outcome === undefined ? {} : { outcome: q.outcome }),
      ...(q.operation === undefined ? {} : { operation: q.operation })
    }
    const answer: KeyAuditAnswer = { total: opts.audit.total, capacity: opts.audit.capacity, entries: opts.audit.entries(filter) }
    return answer
  })
}
