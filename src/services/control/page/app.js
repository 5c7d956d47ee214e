// residency-sim teaching page: PoPs on an equirectangular map, live request paths from the ledger stream, and the
// data-flow ledger in words. Plain DOM, no framework, served as is.
import { $, api, el, fmt, setStatus, showError } from './dom.js'
import { WORLD, drawGrid, drawPlan, fit, getView, label, loadBasemap, px, setViewBox, xy } from './map.js'
import { customers, pops } from './state.js'
import { describe, hopTimes, ledgerList, popName } from './words.js'

const seen = new Set() // rays already in the ledger list (history and stream overlap)
const MAX_LEDGER_ITEMS = 50
const MAX_PATHS = 4 // the newest path in full, a few older ones faint
const KEPT_PATHS = 40 // plans kept for redrawing, so choosing another customer still shows its latest paths
let drawn = [] // plans on the map, oldest first: { ray, plan }
let latency // { enabled, timeScale } of the running simulation, from /api/topology
const settles = [] // late or not, the latest responses held to their modelled time: is the simulation keeping up?
const FIDELITY_WINDOW = 20

/** How to read a measured time against the modelled one: the delay may be off or time-scaled. */
function latencyNote () {
  if (!latency) return ''
  if (!latency.enabled) return ' (latency off: software time only)'
  return latency.timeScale === 1 ? '' : ` (time scale ${latency.timeScale}: modelled delays x ${latency.timeScale})`
}

// --- map view and filters -----------------------------------------------------------------------------------------

function setView (box) {
  setViewBox(box)
  redraw()
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

/** Redraws at most once a frame: a burst of requests on the stream must not redraw 340 markers each. */
let pending = false
function redraw () {
  if (pending) return
  pending = true
  requestAnimationFrame(() => { pending = false; redrawNow() })
}

function redrawNow () {
  const region = regionOfSelected()
  const r = px(getView().w < WORLD.w ? 5 : 3.5)
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
  // The client field suggests the PoPs' cities as one types (any of them locates a client, as an IATA code does); a
  // name two PoPs share comes with its country ("San Jose, CR"), which tells them apart. The world's cities of a
  // million people or more follow, by the label that names each alone ("New York, US", "Suzhou, Jiangsu"), unless a
  // PoP's city has the name.
  const short = (p) => p.city.split(',')[0]
  const count = new Map()
  for (const p of topo.pops) count.set(short(p), (count.get(short(p)) ?? 0) + 1)
  const names = topo.pops.map((p) => count.get(short(p)) > 1 ? `${short(p)}, ${p.country}` : short(p))
  const fold = (name) => name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
  const popCities = new Set(topo.pops.map((p) => fold(short(p))))
  // Without the list the PoPs' cities are still suggested, and any city typed in full still locates.
  const places = (await api('/api/places').catch(() => ({ places: [] }))).places
  const world = places.filter((p) => !popCities.has(fold(p.name.split(',')[0]))).map((p) => p.label)
  $('client-places').replaceChildren(...[...new Set([...names.sort(), ...world.sort()])].map((c) => el('option', { value: c })))
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

function showPath (plan, ray) {
  drawn = drawn.filter((d) => d.ray !== ray || ray === undefined)
  drawn.push({ plan, ray })
  if (drawn.length > KEPT_PATHS) drawn = drawn.slice(-KEPT_PATHS)
  redraw()
}

// --- the live ledger -----------------------------------------------------------------------------------------------

/**
 * With latency on, each served response is held until its modelled time has passed; one that leaves later (by more
 * than 1 ms and 5%) carries time the model does not have. When most of the latest are late, the badge says so: the
 * measured times on this page are then the machine's queueing, not the model.
 */
function noteFidelity (settle) {
  settles.push(settle.late)
  if (settles.length > FIDELITY_WINDOW) settles.shift()
  const late = settles.filter(Boolean).length
  const badge = $('fidelity')
  badge.hidden = false
  if (settles.length >= 5 && late * 2 > settles.length) {
    badge.textContent = `behind its model: ${late} of the last ${settles.length} responses late`
    badge.className = 'status bad'
    badge.title = 'The machine is too busy for this load: responses leave after their modelled time, so the measured ' +
      'times include the simulation\'s own queueing. Send fewer requests, or slow the time scale.'
  } else {
    badge.textContent = 'keeping up with its model'
    badge.className = 'status live'
    badge.title = `${late} of the last ${settles.length} responses left more than 1 ms and 5% after their modelled time.`
  }
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
  if (record.settle?.late) {
    head.append(' · ', el('span', {
      class: 'badge bad',
      title: 'This response left after its modelled time: the simulation was behind its model (the machine too busy).'
    }, `left ${fmt(record.settle.lateMs)} ms late`))
  }
  li.append(head, describe(record.plan))
  const times = hopTimes(record.hops)
  if (times) li.append(times)
  li.append(ledgerList(record.plan))
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
  if (record.settle) noteFidelity(record.settle)
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
$('send').addEventListener('click', async () => {
  const out = $('plan')
  const host = $('customer').value
  if (!host) { out.replaceChildren(el('span', { class: 'bad' }, 'Pick a customer first.')); return }
  const client = $('client').value.trim()
  $('send').disabled = true
  try {
    const r = await api('/api/requests', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(client === '' ? { host } : { host, client })
    })
    const where = r.error
      ? `${r.error.code}: ${r.error.message}`
      : `entered at ${popName(r.ingress)}, inspected at ${popName(r.inspectedAt)}${r.tlsHandshake ? `, TLS handshake ${r.tlsHandshake}` : ''}`
    out.replaceChildren(el('strong', {}, 'Sent through the edge: '),
      el('span', { class: r.error ? 'bad' : '' }, `${r.status}, ${where}; ${fmt(r.ms)} ms${latencyNote()}. `),
      el('span', { class: 'muted small' }, `Ray ${r.ray ?? 'none'}: its ledger entry is below.`))
  } catch (err) {
    out.replaceChildren(el('span', { class: 'bad' }, err.message))
  } finally {
    $('send').disabled = false
  }
})
$('zoom-world').addEventListener('click', () => setView({ ...WORLD }))
$('zoom-region').addEventListener('click', zoomToRegion)
window.addEventListener('resize', redraw)

async function main () {
  drawGrid()
  await Promise.all([loadTopology(), loadCustomers(), loadBasemap()])
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
