// Tests for key locality: policy masks (everywhere, Geo Key Manager v1/v2, keyless) and per-PoP key decisions.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatPolicy, POLICY_REGION_CODES } from '../../src/core/key-policy-parser.ts'
import type { PolicyAst } from '../../src/core/key-policy-parser.ts'
import { compileKeyPolicy, describeKeyPolicy, isKeyPolicyError, keyDecision } from '../../src/core/key-policy.ts'
import type { KeyPolicyCompileResult, KeyWorld } from '../../src/core/key-policy.ts'
import { loadTopology } from '../../src/core/topology.ts'
import type { CompiledKeyPolicy, Health, KeyPolicy, LatencyModel, LatLon, Pop } from '../../src/core/types.ts'

const topology = loadTopology()
const N = topology.pops.length
const EU27 = ['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE']

// A stand-in latency model: round trip proportional to great-circle distance (the real model lives in latency.ts).
function haversineKm (a: LatLon, b: LatLon): number {
  const rad = Math.PI / 180
  const dLat = (b.lat - a.lat) * rad
  const dLon = (b.lon - a.lon) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)))
}

function stubLatency (msPerKm = 0.02): LatencyModel {
  const matrix = new Float64Array(N * N)
  for (const a of topology.pops) for (const b of topology.pops) matrix[a.index * N + b.index] = haversineKm(a, b) * msPerKm
  return {
    params: { accessMs: 0, hopProcessingMs: 0, jitter: 0 },
    rttMs: (a, b) => haversineKm(a, b) * msPerKm,
    popRttMs: (a, b) => matrix[a * N + b] as number
  }
}

const latency = stubLatency()
const healthy: Health = { down: new Uint8Array(N), load: new Float64Array(N) }
const world: KeyWorld = { topology, latency, health: healthy }

function pop (id: string): Pop {
  const p = topology.byId.get(id)
  if (p === undefined) throw new Error(`no PoP ${id}`)
  return p
}

function compiled (policy: KeyPolicy): CompiledKeyPolicy {
  const r = compileKeyPolicy(policy, topology)
  if (isKeyPolicyError(r)) throw new Error(r.error.message)
  return r
}

const geo = (policy: string): CompiledKeyPolicy => compiled({ mode: 'geo', policy })
const idsOf = (mask: Uint8Array): string[] => topology.pops.filter((p) => mask[p.index] === 1).map((p) => p.id)
const idsWhere = (f: (p: Pop) => boolean): string[] => topology.pops.filter(f).map((p) => p.id)
const downMask = (...ids: string[]): Uint8Array => {
  const m = new Uint8Array(N)
  for (const id of ids) m[pop(id).index] = 1
  return m
}

describe('compileKeyPolicy: masks', () => {
  it('everywhere allows every PoP', () => {
    expect(idsOf(compiled({ mode: 'everywhere' }).allowed)).toHaveLength(N)
  })

  it('v1 us is exactly the PoPs in the United States', () => {
    const ids = idsOf(geo('us').allowed)
    expect(ids).toEqual(idsWhere((p) => p.country === 'US'))
    expect(ids).toEqual(expect.arrayContaining(['IAD', 'SJC', 'ORD']))
    expect(ids).not.toContain('YYZ')
  })

  it('v1 eu is the EU-27: FRA, AMS, CDG in; LHR, ZRH, OSL out', () => {
    const ids = idsOf(geo('eu').allowed)
    expect(ids).toEqual(idsWhere((p) => EU27.includes(p.country)))
    expect(ids).toEqual(expect.arrayContaining(['FRA', 'AMS', 'CDG', 'MRS', 'DUB', 'WAW']))
    for (const id of ['LHR', 'ZRH', 'OSL', 'IST', 'IAD']) expect(ids).not.toContain(id)
  })

  it('v1 highest_security is the flagged PoPs', () => {
    expect(idsOf(geo('highest_security').allowed)).toEqual(idsWhere((p) => p.highestSecurity))
  })

  it('v1 values are matched exactly; anything else is a v2 expression', () => {
    const r = compileKeyPolicy({ mode: 'geo', policy: 'US' }, topology)
    expect(isKeyPolicyError(r) && r.error.code).toBe('SIM_ERR_POLICY_SYNTAX')
  })

  it('v2 (region: EU) and (not country: FR) excludes CDG and MRS, includes FRA', () => {
    const ids = idsOf(geo('(region: EU) and (not country: FR)').allowed)
    expect(ids).toContain('FRA')
    expect(ids).toContain('AMS')
    for (const id of ['CDG', 'MRS', 'LHR', 'ZRH']) expect(ids).not.toContain(id)
    expect(ids).toEqual(idsWhere((p) => EU27.includes(p.country) && p.country !== 'FR'))
  })

  it('v2 region: EU is the same set as v1 eu (by country, not by load-balancer region)', () => {
    expect(geo('region: EU').allowed).toEqual(geo('eu').allowed)
  })

  it('v2 country: IN is exactly the Indian PoPs', () => {
    const ids = idsOf(geo('country: IN').allowed)
    expect(ids).toEqual(idsWhere((p) => p.country === 'IN'))
    expect(ids).toEqual(expect.arrayContaining(['BOM', 'DEL', 'MAA', 'BLR']))
    expect(ids.length).toBeGreaterThan(10)
  })

  it('v2 ENAM and WNAM split the US PoPs: IAD east, SJC west', () => {
    const east = idsOf(geo('region: ENAM and country: US').allowed)
    const west = idsOf(geo('region: WNAM and country: US').allowed)
    expect(east).toContain('IAD')
    expect(east).not.toContain('SJC')
    expect(west).toContain('SJC')
    expect(west).not.toContain('IAD')
    expect(east.filter((id) => west.includes(id))).toEqual([])
    expect([...east, ...west].sort()).toEqual(idsWhere((p) => p.country === 'US').sort())
  })

  it('v2 regions map to load-balancer regions', () => {
    expect(idsOf(geo('region: WEUR').allowed)).toEqual(idsWhere((p) => p.lbRegion === 'WEU'))
    expect(idsOf(geo('region: APAC').allowed)).toEqual(idsWhere((p) => ['SAS', 'SEAS', 'NEAS'].includes(p.lbRegion)))
    expect(idsOf(geo('region: SAM').allowed)).toEqual(idsWhere((p) => ['NSAM', 'SSAM'].includes(p.lbRegion)))
    expect(idsOf(geo('region: AFR').allowed)).toEqual(idsWhere((p) => ['NAF', 'SAF'].includes(p.lbRegion)))
    // Every PoP is in some v2 region.
    const any = geo(POLICY_REGION_CODES.map((c) => `region: ${c}`).join(' or '))
    expect(idsOf(any.allowed)).toHaveLength(N)
  })

  it('returns syntax errors as data with their column', () => {
    const r = compileKeyPolicy({ mode: 'geo', policy: '(region: EU' }, topology)
    expect(isKeyPolicyError(r)).toBe(true)
    if (isKeyPolicyError(r)) expect(r.error).toMatchObject({ code: 'SIM_ERR_POLICY_SYNTAX', column: 12, expected: "')' or 'and' or 'or'" })
  })
})

describe('compileKeyPolicy: keyless', () => {
  it('no PoP holds the key; the server is located by IATA code or lat,lon', () => {
    const k = compiled({ mode: 'keyless', server: 'fra' })
    expect(idsOf(k.allowed)).toEqual([])
    expect(k.keyServer).toEqual({ id: 'FRA', lat: pop('FRA').lat, lon: pop('FRA').lon })
    expect(k.callers && idsOf(k.callers)).toHaveLength(N)
    expect(compiled({ mode: 'keyless', server: ' 48.85, 2.35 ' }).keyServer).toEqual({ id: '48.85,2.35', lat: 48.85, lon: 2.35 })
  })

  it('stores the allow list as a caller mask', () => {
    const k = compiled({ mode: 'keyless', server: 'FRA', allow: ['AMS', 'cdg'] })
    expect(k.callers && idsOf(k.callers)).toEqual(['AMS', 'CDG'])
  })

  const bad: Array<[KeyPolicy, string]> = [
    [{ mode: 'keyless', server: 'XYZ' }, 'SIM_ERR_POP_UNKNOWN'],
    [{ mode: 'keyless', server: 'somewhere' }, 'SIM_ERR_INPUT_INVALID'],
    [{ mode: 'keyless', server: '91,0' }, 'SIM_ERR_INPUT_INVALID'],
    [{ mode: 'keyless', server: 'FRA', allow: ['AMS', 'NOPE'] }, 'SIM_ERR_POP_UNKNOWN']
  ]
  it.each(bad)('%j -> %s', (policy, code) => {
    const r: KeyPolicyCompileResult = compileKeyPolicy(policy, topology)
    expect(isKeyPolicyError(r) && r.error.code).toBe(code)
  })
})

// The signer a refused PoP should get, by brute force: nearest eligible, healthy, allowed PoP.
function bruteSigner (from: Pop, keys: CompiledKeyPolicy, down: Uint8Array): Pop | undefined {
  let best: Pop | undefined
  for (const p of topology.pops) {
    if (keys.allowed[p.index] !== 1 || down[p.index] === 1 || healthy.down[p.index] === 1) continue
    if (p.network === 'china' && from.network !== 'china') continue
    if (best === undefined || latency.popRttMs(from.index, p.index) < latency.popRttMs(from.index, best.index)) best = p
  }
  return best
}

describe('keyDecision', () => {
  const eu = geo('eu')

  it('signs locally where the key is allowed', () => {
    expect(keyDecision(pop('FRA').index, eu, world)).toEqual({ op: 'local' })
    expect(keyDecision(pop('LHR').index, compiled({ mode: 'everywhere' }), world)).toEqual({ op: 'local' })
  })

  it('a refused PoP gets a signature from the nearest authorised PoP', () => {
    const lhr = pop('LHR')
    const d = keyDecision(lhr.index, eu, world)
    const expected = bruteSigner(lhr, eu, new Uint8Array(N))
    expect(d).toEqual({ op: 'remote', signer: expected, rttMs: latency.popRttMs(lhr.index, (expected as Pop).index) })
    if (d.op === 'remote') expect(EU27).toContain(d.signer.country)
    const sjc = keyDecision(pop('SJC').index, eu, world)
    expect(sjc.op === 'remote' && EU27.includes(sjc.signer.country)).toBe(true)
  })

  it('skips signers that are down, in health or in the extra down set', () => {
    const lhr = pop('LHR')
    const first = keyDecision(lhr.index, eu, world)
    if (first.op !== 'remote') throw new Error('expected remote')
    const extra = downMask(first.signer.id)
    const second = keyDecision(lhr.index, eu, world, extra)
    if (second.op !== 'remote') throw new Error('expected remote')
    expect(second.signer.id).not.toBe(first.signer.id)
    expect(second.signer).toEqual(bruteSigner(lhr, eu, extra))
    const sick: KeyWorld = { ...world, health: { down: extra, load: healthy.load } }
    expect(keyDecision(lhr.index, eu, sick)).toEqual(second)
    // The cached order is unchanged by health: with everything healthy again, the first signer is back.
    expect(keyDecision(lhr.index, eu, world)).toEqual(first)
  })

  it('refuses with SIM_ERR_KEY_UNAVAILABLE when no authorised PoP is healthy', () => {
    const allEuDown = new Uint8Array(eu.allowed)
    expect(keyDecision(pop('LHR').index, eu, world, allEuDown)).toEqual({ op: 'refused', code: 'SIM_ERR_KEY_UNAVAILABLE' })
    // A PoP that holds the key signs itself even when every other authorised PoP is down.
    expect(keyDecision(pop('FRA').index, eu, world, allEuDown)).toEqual({ op: 'local' })
  })

  it('never sends a global PoP\'s key operation into the China partner network', () => {
    const cn = geo('country: CN')
    expect(keyDecision(pop('LHR').index, cn, world)).toEqual({ op: 'refused', code: 'SIM_ERR_KEY_UNAVAILABLE' })
    expect(keyDecision(pop('PKX').index, cn, world)).toEqual({ op: 'local' })
  })

  it('keyless: the key server signs for allowed callers, others are refused', () => {
    const k = compiled({ mode: 'keyless', server: 'FRA', allow: ['AMS', 'CDG'] })
    const ams = pop('AMS')
    expect(keyDecision(ams.index, k, world)).toEqual({ op: 'keyless', server: k.keyServer, rttMs: latency.rttMs(ams, pop('FRA')) })
    expect(keyDecision(pop('LHR').index, k, world)).toEqual({ op: 'refused', code: 'SIM_ERR_KEY_REFUSED' })
    // Even the PoP next to the key server does not hold the key.
    expect(keyDecision(pop('FRA').index, k, world)).toEqual({ op: 'refused', code: 'SIM_ERR_KEY_REFUSED' })
    const open = compiled({ mode: 'keyless', server: '-33.87,151.21' })
    const syd = keyDecision(pop('LHR').index, open, world)
    expect(syd).toEqual({ op: 'keyless', server: open.keyServer, rttMs: latency.rttMs(pop('LHR'), { lat: -33.87, lon: 151.21 }) })
  })

  it('follows a new latency model for the same compiled policy', () => {
    const lhr = pop('LHR')
    const flipped: LatencyModel = {
      ...latency,
      // Make CDG look far away: the nearest signer must change.
      popRttMs: (a, b) => latency.popRttMs(a, b) + (b === pop('CDG').index ? 1000 : 0)
    }
    const before = keyDecision(lhr.index, eu, world)
    const after = keyDecision(lhr.index, eu, { ...world, latency: flipped })
    expect(before.op === 'remote' && before.signer.id).toBe('CDG')
    expect(after.op === 'remote' && after.signer.id).not.toBe('CDG')
  })

  it('throws a RangeError for an index outside the topology (a programmer error)', () => {
    expect(() => keyDecision(N, eu, world)).toThrow(RangeError)
  })
})

describe('describeKeyPolicy', () => {
  it.each<[KeyPolicy, RegExp]>([
    [{ mode: 'everywhere' }, /every PoP/],
    [{ mode: 'geo', policy: 'us' }, /v1 "us".*United States/],
    [{ mode: 'geo', policy: 'eu' }, /v1 "eu".*European Union/],
    [{ mode: 'geo', policy: 'highest_security' }, /highest security/],
    [{ mode: 'geo', policy: '(region: eu) AND (NOT country: fr)' }, /v2 "region: EU and not country: FR".*the European Union and not country FR/],
    [{ mode: 'geo', policy: 'region: XX' }, /invalid.*column 9/],
    [{ mode: 'keyless', server: 'FRA', allow: ['ams'] }, /Keyless SSL.*FRA.*only AMS may ask/]
  ])('%j', (policy, text) => {
    expect(describeKeyPolicy(policy)).toMatch(text)
  })

  it('counts PoPs when given the compiled policy', () => {
    const policy: KeyPolicy = { mode: 'geo', policy: 'country: IN' }
    const n = idsWhere((p) => p.country === 'IN').length
    expect(describeKeyPolicy(policy, compiled(policy))).toMatch(new RegExp(`\\(${n} of ${N} PoPs\\)$`))
  })
})

const { ast: astArb } = fc.letrec<{ ast: PolicyAst }>((tie) => ({
  ast: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...POLICY_REGION_CODES).map((code): PolicyAst => ({ type: 'region', code })),
    fc.constantFrom('US', 'FR', 'DE', 'GB', 'IN', 'JP', 'CN', 'BR', 'ZZ').map((code): PolicyAst => ({ type: 'country', code })),
    tie('ast').map((expr): PolicyAst => ({ type: 'not', expr })),
    fc.record({ type: fc.constantFrom('and' as const, 'or' as const), left: tie('ast'), right: tie('ast') })
  )
}))

const popIds = topology.pops.map((p) => p.id)
const policyArb: fc.Arbitrary<KeyPolicy> = fc.oneof(
  fc.constant<KeyPolicy>({ mode: 'everywhere' }),
  fc.constantFrom('us', 'eu', 'highest_security').map((policy): KeyPolicy => ({ mode: 'geo', policy })),
  astArb.map((ast): KeyPolicy => ({ mode: 'geo', policy: formatPolicy(ast) })),
  fc.record({
    mode: fc.constant('keyless' as const),
    server: fc.constantFrom(...popIds),
    allow: fc.option(fc.subarray(popIds, { maxLength: 20 }), { nil: undefined })
  }).map((k): KeyPolicy => (k.allow === undefined ? { mode: 'keyless', server: k.server } : k as KeyPolicy))
)
const downArb = fc.subarray(popIds).map((ids) => downMask(...ids))

describe('keyDecision properties (invariant 2: a key is never used outside the policy)', () => {
  it('local only where allowed; a remote signer is allowed, healthy and the nearest such; keyless only for callers', () => {
    fc.assert(fc.property(policyArb, fc.nat(N - 1), downArb, downArb, (policy, at, healthDown, extraDown) => {
      const keys = compiled(policy)
      const w: KeyWorld = { ...world, health: { down: healthDown, load: healthy.load } }
      const d = keyDecision(at, keys, w, extraDown)
      switch (d.op) {
        case 'local':
          expect(keys.allowed[at]).toBe(1)
          break
        case 'remote': {
          const s = d.signer.index
          expect(keys.allowed[at]).toBe(0)
          expect(keys.allowed[s]).toBe(1)
          expect(healthDown[s]).toBe(0)
          expect(extraDown[s]).toBe(0)
          expect(d.rttMs).toBe(latency.popRttMs(at, s))
          for (const p of topology.pops) {
            const eligible = keys.allowed[p.index] === 1 && healthDown[p.index] === 0 && extraDown[p.index] === 0 &&
              (p.network === 'global' || topology.pops[at]?.network === 'china')
            if (eligible) expect(latency.popRttMs(at, p.index)).toBeGreaterThanOrEqual(d.rttMs)
          }
          break
        }
        case 'keyless':
          expect(policy.mode).toBe('keyless')
          expect(keys.callers?.[at]).toBe(1)
          break
        case 'refused':
          if (d.code === 'SIM_ERR_KEY_REFUSED') {
            expect(keys.callers?.[at]).toBe(0)
          } else {
            const from = topology.pops[at] as Pop
            const merged = new Uint8Array(N)
            for (let i = 0; i < N; i++) merged[i] = (healthDown[i] as number) | (extraDown[i] as number)
            expect(keys.allowed[at]).toBe(0)
            expect(bruteSigner(from, keys, merged)).toBeUndefined()
          }
      }
      if (policy.mode === 'keyless') expect(d.op).not.toBe('local')
    }), { numRuns: 1500 })
  })
})
