// The control plane's cell histogram is written by a prom-client Registry exactly as prom-client's own Histogram is,
// for any values and label values, in both exposition formats and as JSON.
import fc from 'fast-check'
import { Histogram, Registry, type RegistryContentType } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { CellHistogram } from '../../src/services/control/histogram.ts'

const BUCKETS = [0.0005, 0.001, 0.01, 0.1, 1, 5]

async function both (openMetrics: boolean, observations: readonly [string, number][], labelled: boolean) {
  const ours = new Registry<RegistryContentType>()
  const theirs = new Registry<RegistryContentType>()
  if (openMetrics) for (const r of [ours, theirs]) r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
  const common = { name: 'rsim_test_seconds', help: 'A test histogram, with a "quote" and a \\ backslash.', buckets: BUCKETS }
  const mine = new CellHistogram({ ...common, ...(labelled ? { labelName: 'kind' } : {}), registers: [ours] })
  const reference = new Histogram({ ...common, labelNames: labelled ? ['kind'] : [], registers: [theirs] })
  for (const [label, value] of observations) {
    if (labelled) {
      mine.cell(label).observe(value)
      reference.labels(label).observe(value)
    } else {
      mine.cell().observe(value)
      reference.observe(value)
    }
  }
  return { ours, theirs }
}

describe('CellHistogram', () => {
  const value = fc.oneof(fc.constantFrom(0, 0.0005, 0.001, 1, 5, 5.000001), fc.double({ min: 0, max: 20, noNaN: true }))
  const label = fc.constantFrom('access', 'relay', 'origin', 'key', 'a "quoted" one', 'back\\slash', 'new\nline')
  const observations = fc.array(fc.tuple(label, value), { maxLength: 60 })

  it('is exposed exactly as a prom-client Histogram, labelled or not, in text, OpenMetrics and JSON', async () => {
    await fc.assert(fc.asyncProperty(observations, fc.boolean(), async (obs, labelled) => {
      for (const openMetrics of [false, true]) {
        const { ours, theirs } = await both(openMetrics, obs, labelled)
        expect(await ours.metrics()).toBe(await theirs.metrics())
        // prom-client's own values also carry an empty exemplar slot.
        const plain = (metrics: Awaited<ReturnType<Registry['getMetricsAsJSON']>>) =>
          metrics.map((m) => ({ ...m, values: m.values.map(({ value, labels, metricName }: { value: number, labels: object, metricName?: string }) => ({ value, labels, metricName })) }))
        expect(plain(await ours.getMetricsAsJSON())).toEqual(plain(await theirs.getMetricsAsJSON()))
      }
    }), { numRuns: 150 })
  })

  it('counts a value equal to a bound in that bucket, and one above every bound only in +Inf', async () => {
    const registry = new Registry()
    const h = new CellHistogram({ name: 'x_seconds', help: 'x', buckets: [1, 2], labelName: 'kind', registers: [registry] })
    const c = h.cell('relay')
    expect(h.cell('relay')).toBe(c)
    for (const v of [1, 2, 3]) c.observe(v)
    const text = await registry.metrics()
    expect(text).toContain('x_seconds_bucket{le="1",kind="relay"} 1\n')
    expect(text).toContain('x_seconds_bucket{le="2",kind="relay"} 2\n')
    expect(text).toContain('x_seconds_bucket{le="+Inf",kind="relay"} 3\n')
    expect(text).toContain('x_seconds_sum{kind="relay"} 6\n')
    expect(text).toContain('x_seconds_count{kind="relay"} 3\n')
  })

  it('refuses a value that is not a finite number, and buckets that do not ascend', () => {
    const h = new CellHistogram({ name: 'y_seconds', help: 'y', buckets: [1, 2], registers: [] })
    for (const bad of [Number.NaN, Infinity, -Infinity]) expect(() => h.cell().observe(bad)).toThrow(TypeError)
    expect(() => new CellHistogram({ name: 'z', help: 'z', buckets: [1, 1], registers: [] })).toThrow(RangeError)
  })
})
