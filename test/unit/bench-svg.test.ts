// The benchmark's SVG charts (bench/lib/svg.ts): tooltips at the chart's precision, and an accessible name for each
// chart (a root <title> that role="img" and aria-labelledby point to).
import { describe, expect, it } from 'vitest'
import { groupedBars, lineChart, shown } from '../../bench/lib/svg.ts'

const titles = (svg: string): string[] => [...svg.matchAll(/<title(?: id="[^"]*")?>([^<]*)<\/title>/g)].map((m) => m[1] as string)

describe('SVG charts', () => {
  it.each([
    [5.4045000000000005, 1, '5.4'],
    [5.4045000000000005, 2, '5.4'],
    [0.30000000000000004, 2, '0.3'],
    [-0.125, 2, '-0.13'],
    [1500, 2, '1500'],
    [2.999, 1, '3']
  ])('shows %d at %d digits as %s', (v, digits, text) => {
    expect(shown(v, digits)).toBe(text)
  })

  it('rounds bar tooltips and names the chart by its title', () => {
    const svg = groupedBars({ title: 'Latency added <ms>', yLabel: 'ms', series: ['eu', 'us'], groups: [{ label: 'London', values: [5.4045000000000005, Number.NaN], markers: [5.3, 1] }] })
    expect(svg).toMatch(/^<svg [^>]*role="img" aria-labelledby="chart-latency-added-ms">\n<title id="chart-latency-added-ms">Latency added &lt;ms&gt;<\/title>\n/)
    expect(titles(svg)).toEqual(['Latency added &lt;ms&gt;', 'London eu: 5.4'])
  })

  it('rounds line tooltips, and gives each chart an id of its own', () => {
    const svg = lineChart({ title: 'Fidelity against load', xLabel: 'rps', yLabel: 'ms', series: [{ name: 'single', points: [[100, 0.30000000000000004], [250, 1.23456]] }] })
    expect(svg).toContain('role="img" aria-labelledby="chart-fidelity-against-load"')
    expect(titles(svg)).toEqual(['Fidelity against load', 'single: 100 -&gt; 0.3', 'single: 250 -&gt; 1.23'])
    expect(svg).not.toMatch(/\d\.\d{5,}/)
  })
})
