// The small pure parts of the data path: modelled delay, WAF rules, trace context and Server-Timing.
import { describe, expect, it } from 'vitest'
import { createDelay, createWaiter } from '../../src/net/delay.ts'
import { decodeHops, decodeRelayResult, encodeHops, encodeRelayResult, serverTiming } from '../../src/services/pop/server-timing.ts'
import { childTraceparent, parseTraceparent } from '../../src/services/pop/trace.ts'
import { WAF_RULES, wafCheck } from '../../src/services/pop/waf.ts'
import { answerBeforeInspection, encodeClient } from '../../src/services/pop/ingress.ts'
import { RELAY_RESULT_HEADER } from '../../src/services/pop/server-timing.ts'
import { Readable } from 'node:stream'
import fc from 'fast-check'

describe('delay', () => {
  it('is half the round trip times the time scale, and nothing when latency is off', () => {
    expect(createDelay({ enabled: true, timeScale: 1, jitter: 0, seed: 1 }).oneWayMs(80)).toBe(40)
    expect(createDelay({ enabled: true, timeScale: 0.1, jitter: 0, seed: 1 }).oneWayMs(80)).toBeCloseTo(4)
    expect(createDelay({ enabled: false, timeScale: 1, jitter: 0, seed: 1 }).oneWayMs(80)).toBe(0)
  })

  it('jitters reproducibly from its seed, within the jitter fraction', () => {
    const a = createDelay({ enabled: true, timeScale: 1, jitter: 0.2, seed: 7 })
    const b = createDelay({ enabled: true, timeScale: 1, jitter: 0.2, seed: 7 })
    const xs = Array.from({ length: 50 }, () => a.oneWayMs(100))
    expect(xs).toEqual(Array.from({ length: 50 }, () => b.oneWayMs(100)))
    for (const x of xs) {
      expect(x).toBeGreaterThanOrEqual(40)
      expect(x).toBeLessThanOrEqual(60)
    }
  })
})

describe('WAF rules', () => {
  it.each([
    ['/item?id=1%27%20OR%20%271%27=%271', 'sqli'],
    ['/search?q=1 UNION SELECT password FROM users', 'sqli'],
    ['/x?q=%2527%2520or%2520%25271%2527%253D%25271', 'sqli'],
    ['/static/../../etc/passwd', 'path-traversal'],
    ['/static/..%2f..%2fsecret', 'path-traversal'],
    ['/static/%252e%252e%252fsecret', 'path-traversal']
  ])('blocks %s (%s)', (target, rule) => {
    expect(wafCheck(target)).toBe(rule)
  })

  it.each(['/', '/cart?item=42', '/blog/union-square-selection', '/a..b/c', '/q?name=O%27Brien'])('lets %s through', (target) => {
    expect(wafCheck(target)).toBeUndefined()
  })

  it('decodes + as a space before matching', () => {
    expect(wafCheck('/search?q=1+UNION+SELECT+password')).toBe('sqli')
  })

  it('reads a target with nothing encoded as it is: the first rule it trips, if any', () => {
    const target = fc.stringMatching(/^\/[a-zA-Z0-9 ./\\'";=_()-]{0,40}$/)
    fc.assert(fc.property(target, (t) => {
      expect(wafCheck(t)).toBe(WAF_RULES.find((r) => r.test(t))?.id)
    }), { numRuns: 500 })
  })
})

describe('trace context', () => {
  it('continues a valid traceparent with a new span, and refuses invalid ones', () => {
    const ctx = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
    expect(ctx).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', flags: '01' })
    expect(childTraceparent(ctx as NonNullable<typeof ctx>)).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
    for (const bad of ['', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', '00-xyz']) {
      expect(parseTraceparent(bad)).toBeUndefined()
    }
  })
})

describe('Server-Timing', () => {
  it('names each hop by kind with both ends, and round-trips the internal hop header', () => {
    const hops = [
      { from: 'client', to: 'SYD', kind: 'access' as const, modelledMs: 5, measuredMs: 5.123 },
      { from: 'SYD', to: 'FRA', kind: 'relay' as const, modelledMs: 250, measuredMs: 251.5 }
    ]
    expect(serverTiming(hops)).toBe('access;desc="client->SYD";dur=5.12, relay;desc="SYD->FRA";dur=251.50')
    expect(decodeHops(encodeHops(hops))).toEqual(hops)
    expect(decodeHops('not json')).toEqual([])
  })

  it('round-trips the relay result header and reads a malformed one as nothing reported', () => {
    const hops = [{ from: 'FRA', to: 'origin', kind: 'origin' as const, modelledMs: 12, measuredMs: 12.345 }]
    expect(decodeRelayResult(encodeRelayResult(1.23456, -0.5, undefined, hops))).toEqual({ innerMs: 1.235, jitterMs: -0.5, hops })
    expect(decodeRelayResult(encodeRelayResult(0.25, 0, 'SIM_ERR_WAF_BLOCKED', []))).toEqual({ innerMs: 0.25, jitterMs: 0, code: 'SIM_ERR_WAF_BLOCKED', hops: [] })
    const nothing = { innerMs: 0, jitterMs: 0, hops: [] }
    for (const bad of [undefined, ['1;0;;[]'], '', '1;2', '1;2;X', 'abc;NaN;;[]', 'Infinity;;;not json']) {
      expect(decodeRelayResult(bad)).toEqual(nothing)
    }
    // Times are whole microseconds. A code that is not one of ours is dropped, the rest still read.
    expect(decodeRelayResult('2000;0;<script>;[]')).toEqual({ innerMs: 2, jitterMs: 0, hops: [] })
  })

  it('reports hops that went as planned by their times alone, and any other hops in full', () => {
    const planned = [
      { from: 'FRA', to: 'keyless:IAD', kind: 'key' as const, rttMs: 80.25 },
      { from: 'FRA', to: 'origin:eu-shop.example', kind: 'origin' as const, rttMs: 12 }
    ]
    const asPlanned = planned.map((h, i) => ({ from: h.from, to: h.to, kind: h.kind, modelledMs: h.rttMs, measuredMs: [81.0004, 12.3456][i] as number }))
    const text = encodeHops(asPlanned, planned)
    expect(text).toBe('=81000,12346')
    expect(decodeHops(text, planned)).toEqual([{ ...asPlanned[0], measuredMs: 81 }, { ...asPlanned[1], measuredMs: 12.346 }])
    expect(decodeRelayResult(encodeRelayResult(3, 0, undefined, asPlanned, planned), planned).hops).toHaveLength(2)
    // No downstream hops at all (a refusal before the origin).
    expect(decodeHops(encodeHops([], []), [])).toEqual([])
    // Another signer than planned, another modelled time, another order or count: the hops go in full.
    const otherSigner = [{ ...asPlanned[0] as typeof asPlanned[number], to: 'keyless:SIN' }, asPlanned[1] as typeof asPlanned[number]]
    const otherTime = [{ ...asPlanned[0] as typeof asPlanned[number], modelledMs: 90 }, asPlanned[1] as typeof asPlanned[number]]
    for (const hops of [otherSigner, otherTime, [...asPlanned].reverse(), asPlanned.slice(1)]) {
      const full = encodeHops(hops, planned)
      expect(full.startsWith('[')).toBe(true)
      expect(decodeHops(full, planned)).toEqual(hops.map((h) => ({ ...h, measuredMs: Math.round(h.measuredMs * 1000) / 1000 })))
    }
    // Times without the plan to read them by, the wrong count or a time that is no number read as no hops.
    for (const [bad, by] of [['=1,2', undefined], ['=1', planned], ['=1,2,3', planned], ['=1,', planned], ['=1,x', planned], ['=1,Infinity', planned], ['=', planned]] as const) {
      expect(decodeHops(bad, by)).toEqual([])
    }
  })
})

describe('delay compensation for late timers', () => {
  // A fake clock whose timers always fire `late` ms after they were due.
  function lateClock (late: number) {
    let t = 0
    const slept: number[] = []
    return {
      slept,
      elapsed: () => t,
      clock: {
        now: () => t,
        sleep: async (ms: number) => { slept.push(ms); t += ms + late }
      }
    }
  }

  it('learns how late timers fire and asks for that much less, so waits come out right on average', async () => {
    const fake = lateClock(1.2)
    const w = createWaiter(fake.clock)
    for (let i = 0; i < 200; i++) await w.wait(10)
    expect(w.lateness()).toBeCloseTo(1.2, 2)
    const before = fake.elapsed()
    for (let i = 0; i < 100; i++) await w.wait(10)
    expect((fake.elapsed() - before) / 100).toBeCloseTo(10, 1)
  })

  it('carries waits too short to sleep over to the next one instead of dropping them', async () => {
    const fake = lateClock(1)
    const w = createWaiter(fake.clock)
    await w.wait(0.3)
    await w.wait(0.4)
    expect(fake.slept).toEqual([])
    await w.wait(5)
    expect(fake.slept).toHaveLength(1)
    expect(fake.slept[0]).toBeCloseTo(0.3 + 0.4 + 5 - 1, 6)
  })

  it('bounds what one long stall teaches it', async () => {
    const w = createWaiter({ now: (() => { let t = 0; return () => (t += 50) })(), sleep: async () => {} })
    await w.wait(10)
    expect(w.lateness()).toBeLessThanOrEqual(1 + 0.05 * 5)
  })

  it('waits until a deadline: only the time left, corrected for lateness, and nothing once it has passed', async () => {
    const fake = lateClock(1)
    const w = createWaiter(fake.clock)
    await w.until(30)
    expect(fake.slept).toEqual([29])
    expect(fake.elapsed()).toBe(30)
    // Past the deadline, or too close to it to sleep: no wait, and nothing carried over to the next one.
    await w.until(25)
    await w.until(31.2)
    expect(fake.slept).toEqual([29])
    await w.wait(10)
    expect(fake.slept[1]).toBeCloseTo(10 - w.lateness(), 6)
  })

  it('records the jitter drawn inside a tracked call, across awaits, and what the next hop reports', async () => {
    const d = createDelay({ enabled: true, timeScale: 2, jitter: 0.3, seed: 7 })
    const twin = createDelay({ enabled: true, timeScale: 2, jitter: 0.3, seed: 7 })
    const { recorded, drawn } = await d.tracked(async (record) => {
      const a = d.oneWayMs(100)
      await new Promise((resolve) => setTimeout(resolve, 1))
      const b = d.scaledMs(10)
      d.addJitter(1.5)
      return { recorded: record.jitterMs, drawn: a + b }
    })
    // The same seed draws the same values: what was drawn minus what was modelled (scaled), plus the report.
    expect(drawn).toBeCloseTo(twin.oneWayMs(100) + twin.scaledMs(10), 9)
    expect(recorded).toBeCloseTo(drawn - (100 + 20) + 1.5, 9)
    // Outside a tracked call nothing is recorded, and reports go nowhere.
    d.oneWayMs(100)
    d.addJitter(5)
    expect(await d.tracked(async (record) => record.jitterMs)).toBe(0)
  })

  it('records nothing without jitter, and never waits for a deadline with latency off', async () => {
    const exact = createDelay({ enabled: true, timeScale: 1, jitter: 0, seed: 1 })
    expect(await exact.tracked(async (record) => { exact.oneWayMs(80); exact.addJitter(3); return record.jitterMs })).toBe(0)
    const slept: number[] = []
    const d = createDelay({ enabled: false, timeScale: 1, jitter: 0, seed: 1 }, { now: () => 0, sleep: async (ms) => { slept.push(ms) } })
    await d.waitUntil(1000)
    expect(slept).toEqual([])
  })

  it('does not wait at all with latency off', async () => {
    const slept: number[] = []
    const d = createDelay({ enabled: false, timeScale: 1, jitter: 0, seed: 1 }, { now: () => 0, sleep: async (ms) => { slept.push(ms) } })
    await d.wait(d.oneWayMs(100))
    expect(slept).toEqual([])
  })
})

describe('relay client field', () => {
  it('writes lat,lon and the country when known, once per location object', () => {
    const london = { lat: 51.47, lon: -0.4543, country: 'GB', source: 'iata' as const, input: 'LHR' }
    expect(encodeClient(london)).toBe('51.47,-0.4543,GB')
    expect(encodeClient(london)).toBe('51.47,-0.4543,GB')
    expect(encodeClient({ lat: -33.9, lon: 151.2, source: 'latlon', input: '-33.9,151.2' })).toBe('-33.9,151.2')
  })
})

describe('an inspection PoP\'s answer before it inspected', () => {
  const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o))
  it('becomes the request\'s own error, under its ray, with the code the PoP gave', () => {
    // What the inspection PoP's HTTP parser writes for a relayed body that stalled: its own ray, and no timing report.
    const parser = { statusCode: 408, headers: { 'x-sim-ray': 'ab-LCA', connection: 'close' }, body: json({ error: { code: 'SIM_ERR_REQUEST_TIMEOUT', message: 'the request was not received whole within 60000 ms', ray: 'ab-LCA' } }) }
    const out = answerBeforeInspection(parser, 'cd-SYD', 'LCA')
    expect(out).toMatchObject({ status: 408, code: 'SIM_ERR_REQUEST_TIMEOUT', inspectedAt: 'LCA', downstream: [] })
    expect(JSON.parse(String(out?.body))).toEqual({ error: { code: 'SIM_ERR_REQUEST_TIMEOUT', message: 'the request was not received whole within 60000 ms', ray: 'cd-SYD' } })
    expect(out?.headers).toEqual({ 'content-type': 'application/json; charset=utf-8' })
  })

  it('leaves alone whatever carries the timing report, succeeded, is streamed or is not the simulator\'s error', () => {
    const err = json({ error: { code: 'SIM_ERR_UPSTREAM_TIMEOUT', message: 'x', ray: 'cd-SYD' } })
    expect(answerBeforeInspection({ statusCode: 504, headers: { [RELAY_RESULT_HEADER]: '1;0;SIM_ERR_UPSTREAM_TIMEOUT;' }, body: err }, 'cd-SYD', 'LCA')).toBeUndefined()
    expect(answerBeforeInspection({ statusCode: 200, headers: {}, body: err }, 'cd-SYD', 'LCA')).toBeUndefined()
    expect(answerBeforeInspection({ statusCode: 500, headers: {}, body: Readable.from([err]) }, 'cd-SYD', 'LCA')).toBeUndefined()
    for (const body of [Buffer.from('<html>oops</html>'), json({ error: { code: 'E_OTHER', message: 'x' } }), json({ error: { code: 'SIM_ERR_X' } }), json(null)]) {
      expect(answerBeforeInspection({ statusCode: 502, headers: {}, body }, 'cd-SYD', 'LCA')).toBeUndefined()
    }
  })
})
