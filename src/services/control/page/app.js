// residency-sim teaching page: PoPs on an equirectangular map, live request paths from the ledger stream, and the
// data-flow ledger in words. Plain DOM, no framework, served as is.
'use strict'

const SVG = 'http://www.w3.org/2000/svg'
const pops = new Map() // id -> PoP view, plus its <circle> as .el
const customers = new Map() // host -> customer view
const seen = new Set() // rays already in the ledger list (history and stream overlap)
const MAX_LEDGER_ITEMS = 50
const MAX_PATHS = 4 // the newest path in full, a few older ones faint
const KEPT_PATHS = 40 // plans kept for redrawing, so choosing another customer still shows its latest paths
const WORLD = { x: 0, y: 18, w: 360, h: 128 } // latitudes 72 N to 56 S: every PoP, without the empty poles
const ASPECT = WORLD.w / WORLD.h
let view = { ...WORLD }
let drawn = [] // plans on the map, oldest first: { ray, plan }
let latency // { enabled, timeScale } of the running simulation, from /api/topology

/** How to read a measured time against the modelled one: the delay may be off or time-scaled. */
function latencyNote () {
  if (!latency) return ''
  if (!latency.enabled) return ' (latency off: software time only)'
  return latency.timeScale === 1 ? '' : ` (time scale ${latency.timeScale}: modelled delays x ${latency.timeScale})`
}

// Equirectangular projection: x = longitude, y = latitude, in a 360 x 180 space.
function xy (lat, lon) { return [lon + 180, 90 - lat] }
const $ = (id) => document.getElementById(id)
const fmt = (ms) => (Math.round(ms * 10) / 10).toString()

function el (tag, attrs = {}, text) {
  const node = ['svg', 'line', 'circle', 'g', 'path', 'text', 'title'].includes(tag)
    ? document.createElementNS(SVG, tag)
    : document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  if (text !== undefined) node.textContent = text
  return node
}

function showError (message) {
  const box = $('error')
  box.textContent = message
  box.hidden = false
}

function setStatus (text, cls) {
  const s = $('status')
  s.textContent = text
  s.className = `status ${cls}`
}

async function api (path, init) {
  let res
  try {
    res = await fetch(path, init)
  } catch (err) {
    throw new Error(`control plane unreachable (${err.message})`)
  }
  const body = await res.json().catch(() => null)
  if (!res.ok) {
    throw new Error(body?.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status} from ${path}`)
  }
  return body
}

// --- map geometry: markers and labels keep their size on screen whatever the zoom -------------------------------

/** Map units for a length in screen pixels at the current zoom. */
function px (n) { return n * view.w / ($('map').clientWidth || 800) }

function setView (box) {
  view = box
  $('map').setAttribute('viewBox', `${box.x} ${box.y} ${box.w} ${box.h}`)
  redraw()
}

/** The smallest view of the map's aspect holding these points, with a margin. */
function fit (points) {
  const xs = points.map((p) => p[0])
  const ys = points.map((p) => p[1])
  let w = Math.max(Math.max(...xs) - Math.min(...xs), 12) * 1.5
  let h = Math.max(Math.max(...ys) - Math.min(...ys), 6) * 1.5
  if (w / h > ASPECT) h = w / ASPECT; else w = h * ASPECT
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2
  const cy = (Math.max(...ys) + Math.min(...ys)) / 2
  return { x: cx - w / 2, y: cy - h / 2, w, h }
}

/** With a customer chosen, the map and the ledger show only its requests. */
function visible (host) {
  const selected = $('customer').value
  return selected === '' || selected === host
}

function filterLedger () {
  const selected = $('customer').value
  let hidden = 0
  for (const li of $('ledger').children) {
    li.hidden = !visible(li.dataset.host)
    if (li.hidden) hidden++
  }
  $('ledger-filter').textContent = selected && hidden
    ? `Showing ${selected} only (${hidden} other requests hidden; choose "(none)" to see every customer).`
    : ''
}

function regionOfSelected () {
  const c = customers.get($('customer').value)
  return c?.region ?? null
}

function zoomToRegion () {
  const region = regionOfSelected()
  const points = region ? region.pops.map((id) => pops.get(id)).filter(Boolean).map((p) => xy(p.lat, p.lon)) : []
  setView(points.length ? fit(points) : { ...WORLD })
}

function drawGrid () {
  const g = $('grid')
  for (let lon = -150; lon <= 150; lon += 30) g.append(el('line', { x1: lon + 180, y1: 0, x2: lon + 180, y2: 180 }))
  for (let lat = -60; lat <= 60; lat += 30) g.append(el('line', { x1: 0, y1: 90 - lat, x2: 360, y2: 90 - lat }))
}

function label (g, x, y, text, cls = '') {
  g.append(el('text', { x: x + px(6), y: y + px(4), 'font-size': px(12), 'stroke-width': px(3), class: cls }, text))
}

/** Redraws at most once a frame: a burst of requests on the stream must not redraw 340 markers each. */
let pending = false
function redraw () {
  if (pending) return
  pending = true
  requestAnimationFrame(() => { pending = false; redrawNow() })
}

function redrawNow () {
  const region = regionOfSelected()
  const r = px(view.w < WORLD.w ? 5 : 3.5)
  const labels = $('labels')
  labels.replaceChildren()
  for (const p of pops.values()) {
    p.el.setAttribute('r', r)
    p.el.setAttribute('class', popClass(p, region))
  }
  // Name the PoPs of a small region (a country): a teacher can point at them.
  if (region && region.pops.length <= 12) {
    for (const id of region.pops) {
      const p = pops.get(id)
      if (p) label(labels, ...xy(p.lat, p.lon), id)
    }
  }
  const g = $('paths')
  g.replaceChildren()
  const shown = drawn.filter((d) => visible(d.plan.host)).slice(-MAX_PATHS)
  shown.forEach((d, i) => g.append(drawPlan(d.plan, d.ray, i === shown.length - 1)))
}

function popClass (p, region) {
  const cls = ['pop']
  if (p.down) cls.push('down')
  if (region) cls.push(region.pops.includes(p.id) ? 'inregion' : 'dim')
  return cls.join(' ')
}

// --- PoPs ---------------------------------------------------------------------------------------------------------

function popName (id) {
  const p = pops.get(id)
  return p ? `${id} (${p.city}, ${p.country})` : id
}

async function loadTopology () {
  const topo = await api('/api/topology')
  latency = topo.latency
  const g = $('pops')
  g.replaceChildren()
  for (const p of topo.pops) {
    const [cx, cy] = xy(p.lat, p.lon)
    const dot = el('circle', { cx, cy, r: 1, 'data-pop': p.id })
    dot.append(el('title', {}, `${p.id}: ${p.city}, ${p.country} (click to take it down or up)`))
    dot.addEventListener('click', () => togglePop(p.id))
    g.append(dot)
    pops.set(p.id, { ...p, el: dot })
  }
}

/** One click takes a PoP down (its listener really stops), the next brings it back. */
async function togglePop (id) {
  const p = pops.get(id)
  const info = $('pop-info')
  try {
    const res = await api(`/api/pops/${encodeURIComponent(id)}/${p.down ? 'up' : 'down'}`, { method: 'POST' })
    p.down = res.pop.down
    info.className = ''
    info.textContent = p.down
      ? `${popName(id)} is down: connections to it are refused, clients enter at the next nearest PoP. Click it again to bring it up.`
      : `${popName(id)} is up again.`
    redraw()
    describeCustomer()
  } catch (err) {
    info.className = 'bad'
    info.textContent = `Could not change ${id}: ${err.message}`
  }
}

// --- customers ----------------------------------------------------------------------------------------------------

function describeCustomer () {
  const c = customers.get($('customer').value)
  const out = $('customer-info')
  out.replaceChildren()
  if (!c) return
  const keys = c.keys.mode === 'everywhere'
    ? 'the TLS key may be used at every PoP'
    : c.keys.mode === 'keyless'
      ? `keyless: only the customer's own key server${c.keys.server ? ` at ${c.keys.server}` : ''} signs handshakes, the key never leaves it`
      : `Geo Key Manager policy ${c.keys.policy}: the key is held at ${c.keys.pops.length} PoPs`
  const logs = c.logRegion ? `logs stay in ${c.logRegion} (stored at ${c.logSink})` : `no log boundary (logs go to the global core, ${c.logSink})`
  if (!c.region) {
    out.append(`No processing region: requests are decrypted where they enter. ${cap(keys)}; ${logs}.`)
    return
  }
  const up = c.region.pops.filter((id) => !pops.get(id)?.down).length
  out.append(`Decrypted only in ${c.region.name} (${up} of ${c.region.pops.length} PoPs up). ${cap(keys)}; ${logs}. Origin near ${c.origin.pop}.`)
  if (up === 0) {
    out.append(el('div', { class: 'bad' }, c.failover === 'open'
      ? 'Every PoP of the region is down: requests are processed outside it (failover open) and recorded as violations.'
      : 'Every PoP of the region is down: requests are refused (fail closed), never decrypted elsewhere.'))
  }
}

function cap (s) { return s.charAt(0).toUpperCase() + s.slice(1) }

async function loadCustomers () {
  const { customers: list } = await api('/api/customers')
  const select = $('customer')
  for (const c of list) {
    customers.set(c.host, c)
    select.append(el('option', { value: c.host }, `${c.host}${c.region ? ` (${c.region.id})` : ''}`))
  }
  select.addEventListener('change', () => {
    describeCustomer()
    filterLedger()
    $('zoom-region').disabled = !regionOfSelected()
    zoomToRegion()
  })
}

// --- paths --------------------------------------------------------------------------------------------------------

/** Map position of a place a plan names: a PoP id, `origin:<host>`, `keyless:<PoP>`, or the client. */
function placeOf (name, plan) {
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
function segment (a, b, cls, bend) {
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

function drawPlan (plan, ray, newest) {
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

function showPath (plan, ray) {
  drawn = drawn.filter((d) => d.ray !== ray || ray === undefined)
  drawn.push({ plan, ray })
  if (drawn.length > KEPT_PATHS) drawn = drawn.slice(-KEPT_PATHS)
  redraw()
}

// --- the ledger in words ------------------------------------------------------------------------------------------

function placeName (at) {
  return at.startsWith('keyless:') ? `the customer's own key server at ${popName(at.slice(8))}` : popName(at)
}

/** One line per category of data: what happened, where, whether it kept the policy, and who is controller (CNIL). */
function ledgerList (plan) {
  const region = customers.get(plan.host)?.region
  const outside = (at) => region && !region.pops.includes(at)
  const ul = el('ul', { class: 'flow' })
  for (const e of plan.ledger) {
    const where = placeName(e.at)
    let text
    switch (e.category) {
      case 'security-telemetry': text = `Connection metadata (addresses, SNI) seen for DDoS protection at ${where}`; break
      case 'ciphertext': text = `Ciphertext relayed, not decrypted, at ${where}${outside(e.at) ? `: outside ${region.id}, it cannot read the request` : ''}`; break
      case 'plaintext': text = `Decrypted and inspected (TLS terminated, WAF) at ${where}${region ? (outside(e.at) ? `: OUTSIDE ${region.id}` : `: inside ${region.id}`) : ''}`; break
      case 'key-operation': text = `TLS private key used to sign the handshake at ${where}`; break
      case 'logs': text = `Request log (metadata) stored at ${where}`; break
      default: text = `${e.category} ${e.action} at ${where}`
    }
    const li = el('li')
    li.append(el('span', { class: e.compliant ? 'ok' : 'bad' }, e.compliant ? '✓ ' : '✗ '), text)
    // A keyless signature is made by the customer's own key server: the network only asks for it.
    const ownKeyServer = e.category === 'key-operation' && e.at.startsWith('keyless:')
    li.append(el('span', { class: 'role' }, e.networkRole === 'controller'
      ? ' · controller: the network (its own security data)'
      : ownKeyServer
        ? ` · done by ${plan.host} itself (controller); the network only asks for the signature`
        : ` · controller: ${plan.host}, processor: the network`))
    if (!e.compliant) li.append(el('span', { class: 'bad' }, ' · breaks the policy'))
    ul.append(li)
  }
  for (const v of plan.violations ?? []) ul.append(el('li', { class: 'bad' }, `✗ Residency violation: ${v}`))
  return ul
}

function keySentence (plan) {
  const { key, signer, at } = plan.tls
  if (key === 'none') return 'resumed TLS session: no key operation'
  if (key === 'local') return `TLS key used at ${at}`
  if (key === 'keyless') return `${at} may not hold the key: the customer's key server at ${signer.replace(/^keyless:/, '')} signed the handshake`
  return `${at} may not hold the key: ${signer} signed the handshake for it`
}

function describe (plan) {
  const client = `Client at ${plan.client.input}${plan.client.country ? ` (${plan.client.country})` : ''}`
  if (plan.outcome === 'refused') {
    return el('div', { class: 'refusal' }, `${client}${plan.ingress ? ` entered at ${popName(plan.ingress)} and` : ''} was answered ${plan.status}: ${plan.reason}. Nothing was decrypted, nothing reached the origin.`)
  }
  const path = plan.ingress === plan.inspection
    ? `entered at ${popName(plan.ingress)} and was decrypted there`
    : `entered at ${popName(plan.ingress)}, relayed encrypted to ${popName(plan.inspection)} and decrypted there`
  const div = el('div', {}, `${client} ${path}; ${keySentence(plan)}; origin at ${plan.origin}. Modelled ${fmt(plan.modelledMs)} ms, ${plan.addedMs >= 0 ? '+' : ''}${fmt(plan.addedMs)} ms for data localisation.`)
  if (plan.violations.length) div.append(el('span', { class: 'bad' }, ' Processed outside the region (failover open): a residency violation.'))
  return div
}

function addRecord (record, via) {
  if (seen.has(record.ray)) return
  seen.add(record.ray)
  const li = el('li', { 'data-ray': record.ray, 'data-host': record.host, 'data-via': via })
  li.dataset.at = String(record.at)
  li.hidden = !visible(record.host)
  const failed = record.status >= 400
  const head = el('div', { class: 'head' })
  head.append(
    el('span', { class: failed ? 'badge bad' : 'badge' }, `${record.status}${record.code ? ` ${record.code}` : ''}`),
    ` ${record.method} ${record.host} · `,
    el('span', { class: 'mono' }, record.ray),
    ` · ${fmt(record.measuredMs)} ms measured on loopback${latencyNote()}`
  )
  li.append(head, describe(record.plan), ledgerList(record.plan))
  li.addEventListener('click', () => {
    for (const other of $('ledger').children) other.classList.remove('focus')
    li.classList.add('focus')
    showPath(record.plan, record.ray)
  })
  // Newest first, by arrival time: the stream and the history fetched at start-up may interleave.
  const list = $('ledger')
  const after = [...list.children].find((c) => Number(c.dataset.at) < record.at) ?? null
  const newest = after === list.firstElementChild
  list.insertBefore(li, after)
  while (list.children.length > MAX_LEDGER_ITEMS) {
    seen.delete(list.lastElementChild.dataset.ray)
    list.lastElementChild.remove()
  }
  if (newest) showPath(record.plan, record.ray)
  if (li.hidden) filterLedger()
}

function connect () {
  return new Promise((resolve) => {
    const source = new EventSource('/api/ledger/stream')
    source.addEventListener('open', () => { setStatus('live', 'live'); resolve() })
    source.addEventListener('error', () => setStatus('reconnecting', 'bad'))
    source.addEventListener('request', (ev) => addRecord(JSON.parse(ev.data), 'stream'))
    source.addEventListener('health', (ev) => {
      const { pop, down } = JSON.parse(ev.data)
      const p = pops.get(pop)
      if (p) p.down = down
      redraw()
      describeCustomer()
    })
  })
}

$('whatif').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const out = $('plan')
  const host = $('customer').value
  if (!host) { out.replaceChildren(el('span', { class: 'bad' }, 'Pick a customer first.')); return }
  const q = new URLSearchParams({ client: $('client').value, host })
  try {
    const plan = await api(`/api/plan?${q}`)
    out.replaceChildren(el('strong', {}, 'What if (planned, not sent): '), describe(plan), ledgerList(plan))
    showPath(plan, undefined)
  } catch (err) { out.replaceChildren(el('span', { class: 'bad' }, err.message)) }
})
$('zoom-world').addEventListener('click', () => setView({ ...WORLD }))
$('zoom-region').addEventListener('click', zoomToRegion)
window.addEventListener('resize', redraw)

async function main () {
  drawGrid()
  await Promise.all([loadTopology(), loadCustomers()])
  redraw()
  // Subscribe first, then fetch the history: a request in between is in one or both, never in neither.
  await connect()
  const recent = await api('/api/ledger?limit=20')
  for (const r of recent.records) addRecord(r, 'history')
  document.body.dataset.ready = 'true'
}
main().catch((err) => {
  setStatus('failed', 'bad')
  showError(`The page could not load: ${err.message}`)
})
