// Building the world from a scenario: regions, customers and the consistency check.
import { describe, expect, it } from 'vitest'
import { parseScenario } from '../../src/config/load.ts'
import type { SimError } from '../../src/core/errors.ts'
import { resolveRegion } from '../../src/core/regions.ts'
import { loadTopology } from '../../src/core/topology.ts'
import { buildWorld } from '../../src/core/world.ts'

const base = (customers: string, extra = '') => `${extra}
customers:
${customers}`

function errorOf (yaml: string): SimError {
  try {
    buildWorld(parseScenario(yaml))
  } catch (err) {
    return err as SimError
  }
  throw new Error('expected an error')
}

describe('regions', () => {
  const topology = loadTopology()
  it.each([
    [{ id: 'eu', name: 'EU', kind: 'group', countries: ['FR', 'DE'] }, ['CDG', 'FRA'], ['LHR', 'RUN']],
    [{ id: 'us-ca', name: 'CA', kind: 'us-state', usStates: ['CA'] }, ['SJC', 'LAX'], ['SEA', 'DFW']],
    [{ id: 'x', name: 'x', kind: 'exclusion', excludeCountries: ['RU', 'BY'] }, ['FRA', 'SYD'], ['DME', 'MSQ']],
    [{ id: 'y', name: 'y', kind: 'custom', countries: ['DE'], excludePops: ['FRA'] }, ['TXL'], ['FRA']]
  ] as const)('%o', (def, inside, outside) => {
    const r = resolveRegion(def, topology)
    for (const id of inside) expect(r.popIds).toContain(id)
    for (const id of outside) expect(r.popIds).not.toContain(id)
  })

  it('France is Metropolitan France only (Reunion is RE)', () => {
    const r = resolveRegion({ id: 'fr', name: 'France', kind: 'country', countries: ['FR'] }, topology)
    expect(r.popIds).not.toContain('RUN')
    expect(r.popIds).toContain('MRS')
  })
})

describe('consistency', () => {
  it('refuses a region and key policy with no PoP in common', () => {
    const err = errorOf(base(`  - host: a.example
    region: de
    keys: { mode: geo, policy: '(country: FR)' }
    origin: { pop: FRA }`))
    expect(err.code).toBe('SIM_ERR_CONFIG_INCONSISTENT')
    expect(err.message).toMatch(/a\.example.*share no PoP/)
  })

  it('refuses a keyless allow-list with no PoP of the region', () => {
    const err = errorOf(base(`  - host: a.example
    region: gb
    keys: { mode: keyless, server: IAD, allow: [IAD, EWR] }
    origin: { pop: LHR }`))
    expect(err.code).toBe('SIM_ERR_CONFIG_INCONSISTENT')
    expect(err.message).toMatch(/allow-list/)
  })

  it('refuses a log core outside its log region', () => {
    const err = errorOf(base(`  - host: a.example
    origin: { pop: LHR }`, `network:
  logCores: { eu: LHR, us: IAD }`))
    expect(err.message).toMatch(/logCores\.eu: LHR \(GB\) is outside log region eu/)
  })

  it('notes UK processing with EU logs', () => {
    const { notes } = buildWorld(parseScenario(base(`  - host: a.example
    region: gb
    logRegion: eu
    origin: { pop: LHR }`)))
    expect(notes.join('\n')).toMatch(/a\.example: processed in gb \(GB\) but logs are stored in eu/)
  })

  it('a PoP subset topology keeps only those PoPs', () => {
    const { world } = buildWorld(parseScenario(base(`  - host: a.example
    region: eu
    origin: { pop: FRA }`, `network:
  pops: [FRA, AMS, SYD, IAD, LHR]`)))
    expect(world.topology.pops.map((p) => p.id).sort()).toEqual(['AMS', 'FRA', 'IAD', 'LHR', 'SYD'])
    expect(world.regions.get('eu')!.popIds).toEqual(['AMS', 'FRA'])
  })
})
