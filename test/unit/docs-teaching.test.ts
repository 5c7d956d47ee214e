// docs/teaching.md tells a class what the default scenario does: each of its outcomes, checked with the planner, so
// that the script stays true when the PoP data or the model changes.
import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadScenario } from '../../src/config/load.ts'
import { isClientLocationError, parseClientLocation } from '../../src/core/client.ts'
import { plan } from '../../src/core/planner.ts'
import { buildWorld } from '../../src/core/world.ts'
import type { Plan, World } from '../../src/core/types.ts'

const doc = readFileSync(new URL('../../docs/teaching.md', import.meta.url), 'utf8').replace(/\s+/g, ' ')
let world: World

beforeAll(async () => {
  world = buildWorld(await loadScenario()).world
})

/** A new connection, as every "Send through the edge" is, with `down` PoPs down for this plan only. */
function planFrom (city: string, host: string, down: string[] = []): Plan {
  const client = parseClientLocation(city, world.topology, { lookup: () => undefined })
  if (isClientLocationError(client)) throw new Error(`${city}: ${client.args[1] ?? ''}`)
  for (const id of down) world.health.down[world.topology.byId.get(id)!.index] = 1
  try {
    return plan({ client, host, newConnection: true }, world)
  } finally {
    for (const id of down) world.health.down[world.topology.byId.get(id)!.index] = 0
  }
}

function ms (x: number): string {
  return x.toFixed(1)
}

describe('docs/teaching.md', () => {
  it('1: eu-shop.example from Sydney enters at SYD, is decrypted at LCA, logs at FRA, with the times it quotes', () => {
    const p = planFrom('Sydney', 'eu-shop.example')
    expect(p).toMatchObject({ outcome: 'served', ingress: 'SYD', inspection: 'LCA', logSink: 'FRA' })
    if (p.outcome !== 'served') return
    expect(doc).toContain(`Modelled ${ms(p.modelledMs)} ms, of which ${ms(p.addedMs)} ms is the price`)
    expect(doc).toContain(`Sydney to Nicosia is ${Math.round(p.hops.find((h) => h.kind === 'relay')!.rttMs)} ms`)
  })

  const GERMANY = ['FRA', 'TXL', 'DUS', 'HAM', 'MUC', 'STR']
  const AUSTRALIA = ['SYD', 'MEL', 'BNE', 'PER', 'ADL', 'CBR', 'HBA']

  it('2: de-gov.example with the six German PoPs it names down is refused at LUX, failing closed', () => {
    expect([...world.regions.get('de')!.popIds].sort()).toEqual([...GERMANY].sort())
    expect(planFrom('Frankfurt', 'de-gov.example')).toMatchObject({ outcome: 'served', ingress: 'FRA', inspection: 'FRA', addedMs: 0 })
    expect(planFrom('Frankfurt', 'de-gov.example', GERMANY)).toMatchObject({ outcome: 'refused', ingress: 'LUX', code: 'SIM_ERR_REGION_UNAVAILABLE', status: 503 })
  })

  it('6: eu-shop.example from Leeds is relayed from MAN to DUB, from Glasgow served at DUB, with the times it quotes', () => {
    const leeds = planFrom('Leeds', 'eu-shop.example')
    expect(leeds).toMatchObject({ outcome: 'served', ingress: 'MAN', inspection: 'DUB' })
    const glasgow = planFrom('Glasgow', 'eu-shop.example')
    expect(glasgow).toMatchObject({ outcome: 'served', ingress: 'DUB', inspection: 'DUB', addedMs: 0 })
    if (leeds.outcome !== 'served' || glasgow.outcome !== 'served') return
    // Neither city has a PoP: the clients are at the cities themselves.
    expect(world.topology.pops.some((p) => /^(Leeds|Glasgow)\b/.test(p.city))).toBe(false)
    expect(doc).toContain(`and is relayed to Dublin (DUB): ${ms(leeds.addedMs)} ms added`)
    expect(doc).toContain(`nothing added (modelled ${ms(glasgow.modelledMs)} ms)`)
    expect(doc).toContain('`Portland, ME`, `Newcastle, GB`')
    for (const name of ['Portland, ME', 'Newcastle, GB']) expect(planFrom(name, 'eu-shop.example').outcome).toBe('served')
  })

  it('3: au-retail.example with the seven Australian PoPs it names down is served at NOU and records the violation', () => {
    expect([...world.regions.get('au')!.popIds].sort()).toEqual([...AUSTRALIA].sort())
    const p = planFrom('Sydney', 'au-retail.example', AUSTRALIA)
    expect(p).toMatchObject({ outcome: 'served', ingress: 'NOU', inspection: 'NOU' })
    if (p.outcome !== 'served') return
    expect(p.violations).toHaveLength(1)
    expect(doc).toContain(`"${p.violations[0]}"`)
  })

  it('4: in-health.example uses its key at BOM; us-bank.example from London is decrypted at BGR with a keyless handshake', () => {
    expect(planFrom('Mumbai', 'in-health.example')).toMatchObject({ outcome: 'served', inspection: 'BOM', tls: { at: 'BOM', key: 'local' } })
    const bank = planFrom('London', 'us-bank.example')
    expect(bank).toMatchObject({ outcome: 'served', ingress: 'LHR', inspection: 'BGR', tls: { key: 'keyless' } })
    if (bank.outcome !== 'served') return
    expect(doc).toContain(`(modelled ${ms(bank.modelledMs)} ms against ${ms(bank.baselineMs)} ms without data localisation)`)
  })

  it('5: uk-news.example from Mumbai is decrypted at LHR with its logs at FRA; global.example logs at IAD', () => {
    expect(planFrom('Mumbai', 'uk-news.example')).toMatchObject({ outcome: 'served', inspection: 'LHR', logSink: 'FRA' })
    expect(planFrom('Mumbai', 'global.example')).toMatchObject({ outcome: 'served', logSink: 'IAD' })
  })
})
