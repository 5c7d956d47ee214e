// Small SVG charts written as text: grouped bars and lines, no browser and no charting library, so the results can be
// regenerated anywhere and diffed in review.

const COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#edc948', '#9c755f']

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** A value as a tooltip shows it: rounded to the chart's precision (5.4045000000000005 -> 5.4 at one digit). */
export function shown (v: number, digits: number): string {
  return String(Number(v.toFixed(digits)))
}

/**
 * The root of a chart: an image whose accessible name is its title (SVG 2, "title" element; WAI-ARIA `role="img"`
 * with `aria-labelledby`), so that a screen reader announces the chart rather than each of its shapes.
 */
function root (W: number, H: number, title: string): string[] {
  const id = `chart-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48)}`
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12" role="img" aria-labelledby="${id}">`,
    `<title id="${id}">${esc(title)}</title>`
  ]
}

/** Round axis ticks covering [min, max]. */
export function ticks (min: number, max: number, count = 5): number[] {
  const span = max - min || 1
  const raw = span / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw
  const out: number[] = []
  // Up to the first tick at or above max, so that every value lies inside the axis.
  for (let v = Math.floor(min / step) * step; ; v += step) {
    out.push(Math.round(v * 1e6) / 1e6)
    if (v >= max - step * 1e-9) break
  }
  return out
}

export interface BarGroup {
  readonly label: string
  /** One value per series (NaN: no bar); `markers` draws a short line per bar (the modelled value). */
  readonly values: readonly number[]
  readonly markers?: readonly number[]
}

/** Grouped bars; `digits`: the values' precision in the tooltips (default 1). */
export function groupedBars (o: { title: string, yLabel: string, series: readonly string[], groups: readonly BarGroup[], markerLabel?: string, digits?: number }): string {
  const digits = o.digits ?? 1
  const W = 980
  const H = 440
  const m = { l: 64, r: 16, t: 40, b: 92 }
  const all = o.groups.flatMap((g) => [...g.values, ...(g.markers ?? [])]).filter(Number.isFinite)
  const yt = ticks(Math.min(0, ...all), Math.max(1, ...all))
  const y0 = yt[0] as number
  const y1 = yt[yt.length - 1] as number
  const y = (v: number): number => m.t + (H - m.t - m.b) * (1 - (v - y0) / (y1 - y0))
  const gw = (W - m.l - m.r) / o.groups.length
  const bw = (gw * 0.8) / o.series.length
  const parts: string[] = [
    ...root(W, H, o.title),
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
    `<text transform="translate(16 ${(H - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`
  ]
  for (const t of yt) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="${t === 0 ? '#333' : '#ddd'}"/>`,
      `<text x="${m.l - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`)
  }
  o.groups.forEach((g, gi) => {
    const gx = m.l + gi * gw + gw * 0.1
    g.values.forEach((v, si) => {
      if (!Number.isFinite(v)) return
      const x = gx + si * bw
      const top = y(Math.max(0, v))
      const h = Math.abs(y(v) - y(0))
      const mk = g.markers?.[si]
      parts.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(bw * 0.92).toFixed(1)}" height="${Math.max(0.5, h).toFixed(1)}" fill="${COLOURS[si % COLOURS.length]}"><title>${esc(`${g.label} ${o.series[si] ?? ''}: ${shown(v, digits)}`)}</title></rect>`)
      if (mk !== undefined && Number.isFinite(mk)) parts.push(`<line x1="${(x - 1).toFixed(1)}" x2="${(x + bw * 0.92 + 1).toFixed(1)}" y1="${y(mk).toFixed(1)}" y2="${y(mk).toFixed(1)}" stroke="black" stroke-width="2"/>`)
    })
    parts.push(`<text x="${(m.l + gi * gw + gw / 2).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle">${esc(g.label)}</text>`)
  })
  const legend = [...o.series.map((s, i) => ({ s, c: COLOURS[i % COLOURS.length] as string })), ...(o.markerLabel ? [{ s: o.markerLabel, c: 'marker' }] : [])]
  legend.forEach((l, i) => {
    const lx = m.l + (i % 4) * 228
    const ly = H - m.b + 40 + Math.floor(i / 4) * 18
    parts.push(l.c === 'marker'
      ? `<line x1="${lx}" x2="${lx + 12}" y1="${ly - 4}" y2="${ly - 4}" stroke="black" stroke-width="2"/>`
      : `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${l.c}"/>`,
    `<text x="${lx + 18}" y="${ly}">${esc(l.s)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

export interface LineSeries { readonly name: string, readonly points: readonly (readonly [number, number])[], readonly dashed?: boolean }

/**
 * Lines; with `yMax`, points above it are drawn at the top edge with their value written next to them. `digits`: the
 * y values' precision in the tooltips (default 2).
 */
export function lineChart (o: { title: string, xLabel: string, yLabel: string, series: readonly LineSeries[], yMax?: number, digits?: number }): string {
  const digits = o.digits ?? 2
  const W = 760
  const H = 420
  const m = { l: 64, r: 16, t: 40, b: 76 }
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]))
  const cap = o.yMax ?? Number.POSITIVE_INFINITY
  const ys = o.series.flatMap((s) => s.points.map((p) => Math.min(cap, p[1]))).filter(Number.isFinite)
  const xt = ticks(0, Math.max(1, ...xs))
  const yt = ticks(Math.min(0, ...ys), Math.max(1, ...ys))
  const [x0, x1] = [xt[0] as number, xt[xt.length - 1] as number]
  const [y0, y1] = [yt[0] as number, yt[yt.length - 1] as number]
  const x = (v: number): number => m.l + (W - m.l - m.r) * (v - x0) / (x1 - x0)
  const y = (v: number): number => m.t + (H - m.t - m.b) * (1 - (v - y0) / (y1 - y0))
  const parts: string[] = [
    ...root(W, H, o.title),
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - m.b + 36}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(16 ${(H - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`
  ]
  for (const t of yt) parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="${t === 0 ? '#333' : '#ddd'}"/>`, `<text x="${m.l - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`)
  for (const t of xt) parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>`, `<text x="${x(t).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle">${t}</text>`)
  o.series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length] as string
    const pts = s.points.filter((p) => Number.isFinite(p[1]))
    const yc = (v: number): number => y(Math.min(cap, v))
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts.map((p) => `${x(p[0]).toFixed(1)},${yc(p[1]).toFixed(1)}`).join(' ')}"/>`)
    for (const p of pts) {
      parts.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="${yc(p[1]).toFixed(1)}" r="3" fill="${c}"><title>${esc(`${s.name}: ${shown(p[0], digits)} -> ${shown(p[1], digits)}`)}</title></circle>`)
      if (p[1] > cap) parts.push(`<text x="${(x(p[0]) - 5).toFixed(1)}" y="${(yc(p[1]) + 14 + i * 12).toFixed(1)}" text-anchor="end" fill="${c}">off scale: ${Math.round(p[1])}</text>`)
    }
    const lx = m.l + (i % 3) * 230
    const ly = H - m.b + 56 + Math.floor(i / 3) * 16
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`, `<text x="${lx + 24}" y="${ly}">${esc(s.name)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
