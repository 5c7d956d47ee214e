// The data-flow ledger in words: for a plan, where each category of data was handled, whether that kept the
// customer's policy, and who is controller (CNIL).
import { el, fmt } from './dom.js'
import { customers, pops } from './state.js'

export function popName (id) {
  const p = pops.get(id)
  return p ? `${id} (${p.city}, ${p.country})` : id
}

function placeName (at) {
  return at.startsWith('keyless:') ? `the customer's own key server at ${popName(at.slice(8))}` : popName(at)
}

/** One line per category of data: what happened, where, whether it kept the policy, and who is controller (CNIL). */
export function ledgerList (plan) {
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
    // A keyless signature is made by the customer's own key server (role none): the network only asks for it.
    li.append(el('span', { class: 'role' }, e.networkRole === 'controller'
      ? ' · controller: the network (its own security data)'
      : e.networkRole === 'none'
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

export function describe (plan) {
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

const HOP_NAMES = { access: 'access', relay: 'relay (ciphertext)', key: 'key signature', origin: 'to origin' }

/** Each hop's round trip, modelled against measured: where the time of one request went. */
export function hopTimes (hops) {
  if (!hops?.length) return null
  const div = el('div', {
    class: 'hops small',
    title: 'With latency on, a served response leaves when its modelled total has passed since the request arrived: ' +
      'the access hop\'s return leg gives back the time the simulation itself spent (parsing, sockets, first ' +
      'connections), so it can measure less than modelled.'
  }, 'Round trips, modelled / measured ms: ')
  hops.forEach((h, i) => {
    if (i > 0) div.append(' · ')
    div.append(`${HOP_NAMES[h.kind] ?? h.kind} ${h.from}→${h.to.replace(/^origin:.*/, 'origin')} ${fmt(h.modelledMs)} / ${fmt(h.measuredMs)}`)
  })
  return div
}
