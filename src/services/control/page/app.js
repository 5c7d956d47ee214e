// residency-sim teaching page: PoPs on an equirectangular map, live request paths from the ledger stream, and the
// data-flow ledger in words. Plain DOM, no framework, served as is.
'use strict'

const SVG = 'http://www.w3.org/2000/svg'
const pops = new Map() // id -> PoP view, plus its <circle> as .el
const customers = new Map() // host -> customer view
let selectedPop = null
const MAX_LEDGER_ITEMS = 50
const PATH_VISIBLE_MS = 4000

// Equirectangular projection: x = longitude, y = latitude, in a 360 x 180 viewBox.
function xy (lat, lon) { return [lon + 180, 90 - lat] }
const $ = (id) => document.getElementById(id)

function el (tag, attrs = {}, text) {
  const node = tag === 'svg' || ['line', 'circle', 'g', 'polyline', 'title'].includes(tag)
    ? document.createElementNS(SVG, tag)
    : document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  if (text !== undefined) node.textContent = text
  return node
}

async function api (path, init) {
  const res = await fetch(path, init)
  const body = await res.json()
  if (!res.ok) throw new Error(`${body.error.code}: ${body.error.message}`)
  return body
}

function drawGrid () {
  const g = $('grid')
  for (let lon = -150; lon <= 150; lon += 30) g.append(el('line', { x1: lon + 180, y1: 0, x2: lon + 180, y2: 180 }))
  for (let lat = -60; lat <= 60; lat += 30) g.append(el('line', { x1: 0, y1: 90 - lat, x2: 360, y2: 90 - lat }))
}

function popClass (p) {
  const c = $('customer').value
  const region = c && customers.get(c)?.region
  const cls = ['pop']
  if (p.down) cls.push('down')
  if (region) cls.push(region.pops.includes(p.id) ? 'inregion' : 'dim')
  if (selectedPop === p.id) cls.push('selected')
  return cls.join(' ')
}

function paintPops () { for (const p of pops.values()) p.el.setAttribute('class', popClass(p)) }

async function loadTopology () {
  const topo = await api('/api/topology')
  const g = $('pops')
  g.replaceChildren()
  for (const p of topo.pops) {
    const [cx, cy] = xy(p.lat, p.lon)
    const dot = el('circle', { cx, cy, r: 0.9 })
    dot.append(el('title', {}, `${p.id} ${p.city}, ${p.country}`))
    dot.addEventListener('click', () => selectPop(p.id))
    g.append(dot)
    pops.set(p.id, { ...p, el: dot })
  }
  paintPops()
}

function selectPop (id) {
  selectedPop = id
  const p = pops.get(id)
  const info = $('pop-info')
  info.replaceChildren(`${p.id}: ${p.city}, ${p.country} (${p.lbRegion}) is ${p.down ? 'down' : 'up'}. `)
  const button = el('button', {}, p.down ? 'Bring it up' : 'Take it down')
  button.addEventListener('click', async () => {
    try {
      const res = await api(`/api/pops/${id}/${p.down ? 'up' : 'down'}`, { method: 'POST' })
      p.down = res.pop.down
      paintPops()
      selectPop(id)
    } catch (err) { info.append(el('span', { class: 'bad' }, ` ${err.message}`)) }
  })
  info.append(button)
  paintPops()
}

async function loadCustomers () {
  const { customers: list } = await api('/api/customers')
  const select = $('customer')
  for (const c of list) {
    customers.set(c.host, c)
    select.append(el('option', { value: c.host }, c.host))
  }
  select.addEventListener('change', () => {
    const c = customers.get(select.value)
    $('customer-info').textContent = c
      ? `Processing region: ${c.region ? `${c.region.name} (${c.region.pops.length} PoPs)` : 'none'}; keys: ${c.keys.mode}${c.keys.policy ? ` ${c.keys.policy}` : ''}; logs: ${c.logRegion ?? 'no boundary'} (stored at ${c.logSink}); failover ${c.failover}; origin near ${c.origin.pop}.`
      : ''
    paintPops()
  })
}

/** Map position of a place a plan names: a PoP id, `keyless:<PoP>`, or the client. */
function placeOf (name, plan) {
  if (name === 'client') return xy(plan.client.lat, plan.client.lon)
  if (name.startsWith('origin:')) name = plan.origin
  if (name.startsWith('keyless:')) name = name.slice('keyless:'.length)
  const p = pops.get(name)
  return p ? xy(p.lat, p.lon) : null
}

function drawPlan (plan) {
  const g = el('g')
  const [cx, cy] = xy(plan.client.lat, plan.client.lon)
  g.append(el('circle', { class: 'client', cx, cy, r: 0.8 }))
  if (plan.outcome === 'refused') {
    const to = plan.ingress && placeOf(plan.ingress, plan)
    if (to) g.append(el('line', { class: 'seg refused', x1: cx, y1: cy, x2: to[0], y2: to[1] }))
  } else {
    for (const hop of plan.hops) {
      const a = placeOf(hop.from, plan)
      const b = placeOf(hop.to, plan)
      if (a && b) g.append(el('line', { class: `seg ${hop.kind}`, x1: a[0], y1: a[1], x2: b[0], y2: b[1] }))
    }
  }
  $('paths').append(g)
  setTimeout(() => g.classList.add('fade'), PATH_VISIBLE_MS)
  setTimeout(() => g.remove(), PATH_VISIBLE_MS + 1500)
}

const VERBS = {
  ciphertext: 'ciphertext relayed (not decrypted) at',
  plaintext: 'plaintext decrypted and inspected at',
  'key-operation': 'private-key operation at',
  logs: 'request log stored at',
  'security-telemetry': 'L3/L4 security telemetry observed at'
}

/** The data-flow ledger in words, one line per category of data, with the network's role (CNIL). */
function ledgerList (plan) {
  const ul = el('ul')
  for (const e of plan.ledger) {
    const li = el('li', {}, `${VERBS[e.category] ?? e.category} ${e.at} (${e.country}); network is ${e.networkRole}`)
    if (!e.compliant) li.classList.add('bad')
    ul.append(li)
  }
  for (const v of plan.violations ?? []) ul.append(el('li', { class: 'bad' }, `violation: ${v}`))
  return ul
}

function describe (plan) {
  return plan.outcome === 'served'
    ? `${plan.host}: in at ${plan.ingress}, inspected at ${plan.inspection}, key ${plan.tls.key}${plan.tls.signer ? ` (${plan.tls.signer})` : ''}; modelled ${plan.modelledMs} ms (+${plan.addedMs} ms for localisation)`
    : `${plan.host}: refused ${plan.code}: ${plan.reason}`
}

function addRecord (record) {
  const li = el('li')
  li.append(el('div', { class: 'mono' }, `${record.status} ${record.method} ${record.ray} ${record.measuredMs.toFixed(1)} ms measured`))
  li.append(el('div', {}, describe(record.plan)), ledgerList(record.plan))
  const list = $('ledger')
  list.prepend(li)
  while (list.children.length > MAX_LEDGER_ITEMS) list.lastElementChild.remove()
  drawPlan(record.plan)
}

function connect () {
  const source = new EventSource('/api/ledger/stream')
  source.addEventListener('open', () => { $('status').textContent = 'live' })
  source.addEventListener('error', () => { $('status').textContent = 'reconnecting' })
  source.addEventListener('request', (ev) => addRecord(JSON.parse(ev.data)))
  source.addEventListener('health', (ev) => {
    const { pop, down } = JSON.parse(ev.data)
    const p = pops.get(pop)
    if (p) p.down = down
    paintPops()
  })
}

$('whatif').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const out = $('plan')
  const host = $('customer').value
  if (!host) { out.textContent = 'Pick a customer first.'; return }
  const q = new URLSearchParams({ client: $('client').value, host })
  try {
    const plan = await api(`/api/plan?${q}`)
    out.replaceChildren(el('div', {}, describe(plan)), ledgerList(plan))
    drawPlan(plan)
  } catch (err) { out.replaceChildren(el('span', { class: 'bad' }, err.message)) }
})

async function main () {
  drawGrid()
  await Promise.all([loadTopology(), loadCustomers()])
  const recent = await api('/api/ledger?limit=20')
  for (const r of recent.records) addRecord(r)
  connect()
}
main().catch((err) => { $('status').textContent = `failed: ${err.message}` })
