// The per-request CPU breakdown of bench/profile.ts, on a hand-made V8 profile.
import { describe, expect, it } from 'vitest'
import { breakdown, categoryOf, formatBreakdown, type CpuProfile } from '../../bench/lib/profile-analysis.ts'

const frame = (id: number, functionName: string, url = '', lineNumber = 0) => ({ id, callFrame: { functionName, url, lineNumber } })

const PROFILE: CpuProfile = {
  nodes: [
    frame(1, '(idle)'),
    frame(2, 'writev'),
    frame(3, 'handleClient', 'file:///x/src/services/pop/ingress.ts', 216),
    frame(4, '(garbage collector)'),
    frame(5, '_resume', 'file:///x/node_modules/undici/lib/dispatcher/client.js', 587),
    frame(6, 'post', 'node:inspector', 113)
  ],
  // µs: idle 400, writev 300, handleClient 200, GC 100, undici 100; the profiler's own 1000 counts for nothing.
  samples: [1, 2, 3, 4, 5, 1, 2, 3, 6],
  timeDeltas: [200, 150, 100, 100, 100, 200, 150, 100, 1000]
}

describe('CPU profile breakdown', () => {
  it('sums self time per request by category and function, idle and the profiler left out', () => {
    const b = breakdown(PROFILE, 10)
    expect(b.profiledMs).toBeCloseTo(1.1, 9)
    expect(b.busyUsPerRequest).toBeCloseTo(70, 9)
    expect(b.utilisation).toBeCloseTo(700 / 1100, 9)
    expect(b.categories.map((c) => [c.name, c.usPerRequest])).toEqual([
      ['socket writes (system calls)', 30],
      ['residency-sim services/pop/ingress.ts', 20],
      ['garbage collection', 10],
      ['undici (upstream client)', 10]
    ])
    expect(b.categories[0]?.share).toBeCloseTo(300 / 700, 9)
    expect(b.functions.map((f) => f.name)).toEqual(['writev', 'handleClient src/services/pop/ingress.ts:217', '(garbage collector)', '_resume node_modules/undici/lib/dispatcher/client.js:588'])
    expect(formatBreakdown(b)).toContain('30.0 µs   42.9%  socket writes (system calls)')
  })

  it('names Node, crypto and fastify frames', () => {
    expect(categoryOf({ functionName: 'parserOnIncoming', url: 'node:_http_server' })).toBe('Node HTTP')
    expect(categoryOf({ functionName: 'hash', url: 'node:internal/crypto/hash' })).toBe('crypto (HMAC, hashes, signatures)')
    expect(categoryOf({ functionName: 'find', url: 'file:///x/node_modules/find-my-way/index.js' })).toBe('fastify (server framework)')
    expect(categoryOf({ functionName: 'listOnTimeout', url: 'node:internal/timers' })).toBe('Node timers, events, promises')
  })

  it('refuses a breakdown over no requests', () => {
    expect(() => breakdown(PROFILE, 0)).toThrow(/at least one request/)
  })
})
