// The control plane's cell counter is written by a prom-client Registry exactly as prom-client's own Counter is, for
// any label values and increments, in both exposition formats and as JSON.
import fc from 'fast-check'
import { Counter, Registry, type RegistryContentType } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { CellCounter } from '../../src/services/control/counter.ts'

const LABELS = ['pop', 'role', 'outcome']

async function both (openMetrics: boolean, incs: readonly (readonly string[])[], labelled: boolean, name: string) {
  const ours = new Registry<RegistryContentType>()
  const theirs = new Registry<RegistryContentType>()
  if (openMetrics) for (const r of [ours, theirs]) r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
  const common = { name, help: 'A test counter, with a "quote" and a \\ backslash.' }
  const mine = new CellCounter({ ...common, ...(labelled ? { labelNames: LABELS } : {}), registers: [ours] })
  const reference = new Counter({ ...common, labelNames: labelled ? LABELS : [], registers: [theirs] })
  for (const values of incs) {
    if (labelled) {
      mine.cell(...values).inc()
      reference.labels(...values).inc()
    } else {
      mine.cell().inc()
      reference.inc()
    }
  }
  return { ours, theirs }
}

describe('CellCounter', () => {
  const value = fc.constantFrom('LHR', 'CDG', 'ingress', 'inspection', 'served', 'a "quoted" one', 'back\\slash', 'new\nline', '', '1:x')
  const incs = fc.array(fc.tuple(value, value, value), { maxLength: 40 })

  it('is exposed exactly as a prom-client Counter, labelled or not, in text, OpenMetrics and JSON', async () => {
    await fc.assert(fc.asyncProperty(incs, fc.boolean(), fc.constantFrom('rsim_test_total', 'rsim_test'), async (list, labelled, name) => {
      for (const openMetrics of [false, true]) {
        const { ours, theirs } = await both(openMetrics, list, labelled, name)
        expect(await ours.metrics()).toBe(await theirs.metrics())
        expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON())
      }
    }), { numRuns: 150 })
  })

  it('hands out the same cell for the same label values, and tells apart values that would run together', () => {
    const c = new CellCounter({ name: 'x_total', help: 'x', labelNames: ['a', 'b'], registers: [] })
    expect(c.cell('p', 'q')).toBe(c.cell('p', 'q'))
    expect(c.cell('1:x', '')).not.toBe(c.cell('1', ':x'))
    expect(() => c.cell('only one')).toThrow(RangeError)
  })
})
