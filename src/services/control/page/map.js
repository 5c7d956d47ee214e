// The map: an equirectangular projection in a 360 x 180 space, the base map (land and borders), and request paths
// drawn hop by hop. Markers, labels and strokes keep their size on screen whatever the zoom.
import { $, api, el } from './dom.js'
import { pops } from './state.js'

export const WORLD = { x: 0, y: 18, w: 360, h: 128 } // latitudes 72 N to 56 S: every PoP, without the empty poles
const ASPECT = WORLD.w / WORLD.h
let view = { ...WORLD }

/** The map's current view box; setting it zooms. */
export function getView () { return view }
export function setViewBox (box) {
  view = box
  $('map').setAttribute('viewBox', `${box.x} ${box.y} ${box.w} ${box.h}`)
}

// Equirectangular projection: x = longitude, y = latitude, in a 360 x 180 space.
export function xy (lat, lon) { return [lon + 180, 90 - lat] }

/** Map units for a length in screen pixels at the current zoom. */
export function px (n) { return n * view.w / ($('map').clientWidth || 800) }

/** The smallest view of the map's aspect holding these points, with a margin. */
export function fit (points) {
  const xs = points.map((p) => p[0])
  const ys = points.map((p) => p[1])
  let w = Math.max(Math.max(...xs) - Math.min(...xs), 12) * 1.5
  let h = Math.max(Math.max(...ys) - Math.min(...ys), 6) * 1.5
  if (w / h > ASPECT) h = w / ASPECT; else w = h * ASPECT
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2
  const cy = (Math.max(...ys) + Math.min(...ys)) / 2
  return { x: cx - w / 2, y: cy - h / 2, w, h }
}

export function drawGrid () {
  const g = $('grid')
  for (let lon = -150; lon <= 150; lon += 30) g.append(el('line', { x1: lon + 180, y1: 0, x2: lon + 180, y2: 180 }))
  for (let lat = -60; lat <= 60; lat += 30) g.append(el('line', { x1: 0, y1: 90 - lat, x2: 360, y2: 90 - lat }))
}

/** Land and borders behind the PoPs; the page works without them (an old or partial install), so failing is quiet. */
export async function loadBasemap () {
  try {
    const map = await api('/api/basemap')
    $('land').setAttribute('d', map.land)
    $('borders').setAttribute('d', map.borders)
    $('basemap-credit').textContent = `Map: ${map.source}.`
  } catch (err) {
    $('basemap-credit').textContent = `No base map (${err.message}).`
  }
}

export function label (g, x, y, text, cls = '') {
  g.append(el('text', { x: x + px(6), y: y + px(4), 'font-size': px(12), 'stroke-width': px(3), class: cls }, text))
}

/** Map position of a place a plan names: a PoP id, `origin:<host>`, `keyless:<PoP>`, or the client. */
export function placeOf (name, plan) {
  if (name === 'client') return xy(plan.client.lat, plan.client.lon)
  if (name.startsWith('origin:')) name = plan.origin
  if (name.startsWith('keyless:')) name = name.slice('keyless:'.length)
  const p = pops.get(name)
  return p ? xy(p.lat, p.lon) : null
}

/**
 * A hop as an SVG path. Hops that cross the antimeridian (Sydney to Honolulu) go the short way, drawn twice, shifted
 * by 360 degrees, so that each half leaves the map at its edge. Key hops bend, so they do not hide an origin hop
 * between the same two places.
 */
export function segment (a, b, cls, bend) {
  let [x1, y1] = a
  let [x2, y2] = b
  if (x2 - x1 > 180) x2 -= 360; else if (x1 - x2 > 180) x2 += 360
  const d = (dx) => {
    const mx = (x1 + x2) / 2 + dx
    const my = (y1 + y2) / 2
    const off = bend ? Math.max(px(14), Math.hypot(x2 - x1, y2 - y1) * 0.15) : 0
    const len = Math.hypot(x2 - x1, y2 - y1) || 1
    return `M${x1 + dx},${y1} Q${mx - off * (y2 - y1) / len},${my + off * (x2 - x1) / len} ${x2 + dx},${y2}`
  }
  const g = el('g')
  g.append(el('path', { class: `seg ${cls}`, d: d(0) }))
  if (x2 !== b[0]) g.append(el('path', { class: `seg ${cls}`, d: d(b[0] - x2) }))
  return g
}

export function drawPlan (plan, ray, newest) {
  const g = el('g', { 'data-ray': ray ?? '', class: newest ? '' : 'old' })
  const client = placeOf('client', plan)
  const roles = new Map() // place name -> what happened there
  const note = (at, what) => roles.set(at, [...(roles.get(at) ?? []), what])
  if (plan.outcome === 'refused') {
    const to = plan.ingress && placeOf(plan.ingress, plan)
    if (to) {
      g.append(segment(client, to, 'refused', false))
      const [x, y] = to
      const s = px(6)
      g.append(el('path', { class: 'refused-mark', d: `M${x - s},${y - s} L${x + s},${y + s} M${x - s},${y + s} L${x + s},${y - s}` }))
      note(plan.ingress, 'refused')
    }
  } else {
    for (const hop of plan.hops) {
      const a = placeOf(hop.from, plan)
      const b = placeOf(hop.to, plan)
      if (a && b) g.append(segment(a, b, hop.kind, hop.kind === 'key'))
    }
    note(plan.ingress, 'in')
    note(plan.inspection, 'decrypted')
    if (plan.tls.signer) note(plan.tls.signer.replace(/^keyless:/, ''), 'key')
    note(plan.origin, 'origin')
  }
  g.append(el('circle', { class: 'client', cx: client[0], cy: client[1], r: px(4) }))
  if (newest) {
    label(g, client[0] - px(44), client[1] + px(14), 'client', 'path-label')
    for (const [at, what] of roles) {
      const p = placeOf(at, plan)
      if (p) label(g, p[0], p[1] - px(4), `${at} ${what.join(' + ')}`, 'path-label')
    }
  }
  return g
}
