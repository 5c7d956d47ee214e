// Human-readable rendering of a plan: what a teacher or an architect reads in a terminal.
import type { Plan, Pop, ServedPlan, World } from '../../core/types.ts'

function where (world: World, id: string): string {
  const pop: Pop | undefined = world.topology.byId.get(id)
  return pop ? `${id} ${pop.city} (${pop.country})` : id
}

const KEY_TEXT = {
  local: 'private key used locally',
  remote: 'signature obtained from',
  keyless: 'signature obtained from the customer\'s key server',
  none: 'resumed session: no private-key operation'
} as const

export function formatPlan (plan: Plan, world: World): string {
  const c = plan.client
  const head = `${plan.host} from ${c.input} (${c.lat.toFixed(2)},${c.lon.toFixed(2)}${c.country ? ' ' + c.country : ''})`
  if (plan.outcome === 'refused') {
    const lines = [`${head}: REFUSED ${plan.status} ${plan.code}`, `  reason      ${plan.reason}`]
    if (plan.ingress) lines.push(`  ingress     ${where(world, plan.ingress)}  (saw ciphertext only; nothing processed)`)
    // What the network did see of it (its own security telemetry at the ingress, say), as for a served request.
    if (plan.ledger.length > 0) lines.push('  ledger', ...ledgerLines(plan))
    return lines.join('\n')
  }
  const relayed = plan.ingress !== plan.inspection
  const key = plan.tls.key === 'remote' || plan.tls.key === 'keyless'
    ? `${KEY_TEXT[plan.tls.key]} ${plan.tls.signer ?? ''}`.trim()
    : KEY_TEXT[plan.tls.key]
  const lines = [
    `${head}: served`,
    `  ingress     ${where(world, plan.ingress)}${relayed ? '  relays ciphertext, reads nothing (L3/L4 only)' : ''}`,
    `  inspection  ${where(world, plan.inspection)}  TLS terminated, request decrypted and inspected`,
    `  key         ${key}`,
    `  origin      ${where(world, plan.origin)}`,
    `  logs        ${plan.logRegion === 'global' ? 'no boundary: global core' : `log region ${plan.logRegion}`} at ${where(world, plan.logSink)}`,
    `  hops        ${plan.hops.map((h) => `${h.from}->${h.to} ${h.rttMs.toFixed(1)} ms`).join(' | ')}`,
    `  modelled    ${plan.modelledMs.toFixed(1)} ms round trip; without data localisation ${plan.baselineMs.toFixed(1)} ms; added ${plan.addedMs.toFixed(1)} ms`,
    '  ledger',
    ...ledgerLines(plan)
  ]
  for (const v of plan.violations) lines.push(`  VIOLATION   ${v}`)
  return lines.join('\n')
}

/** The plan's ledger, an entry a line: whether it kept the policy, the category, where, and the network's role. */
function ledgerLines (plan: Plan): string[] {
  return plan.ledger.map((e) => `    ${e.compliant ? 'ok  ' : 'VIOL'} ${e.category.padEnd(18)} ${e.action.padEnd(9)} at ${e.at} (${e.country}), ${e.networkRole === 'none' ? 'the customer\'s own system (network: no role)' : `network is ${e.networkRole}`}`)
}

/** One-line route description: `SYD>LCA` for a relay, `FRA` when inspected at the ingress, ` key@IAD` when signed away. */
export function routeOf (p: ServedPlan): string {
  let r = p.inspection === p.ingress ? p.ingress : `${p.ingress}>${p.inspection}`
  if (p.tls.signer !== undefined) r += ` key@${p.tls.signer}`
  return r
}
