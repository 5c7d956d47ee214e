// Where a request's CPU time goes: a V8 CPU profile (the `.cpuprofile` format of the inspector's Profiler domain)
// summed by self time into categories a performance engineer reads (socket writes, GC, Node's HTTP, undici,
// fastify, each residency-sim source file) and divided by the requests answered while it was taken.

/** The parts of a V8 CPU profile this reads. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number
    readonly callFrame: { readonly functionName: string, readonly url: string, readonly lineNumber: number }
  }[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

export interface Share {
  readonly name: string
  /** Microseconds of self time per request. */
  readonly usPerRequest: number
  /** Of the busy time. */
  readonly share: number
}

export interface Breakdown {
  readonly requests: number
  /** Sampled wall time, ms. */
  readonly profiledMs: number
  /** Busy (not idle) time of the event loop per request, µs. */
  readonly busyUsPerRequest: number
  /** Busy share of the sampled time (1 = the event loop never waited). */
  readonly utilisation: number
  readonly categories: readonly Share[]
  readonly functions: readonly Share[]
}

/** System calls that write to sockets: their time is mostly the kernel's (on loopback, the receiver's too). */
const WRITES = new Set(['writev', 'writeUtf8String', 'writeLatin1String', 'writeBuffer', 'writeAsciiString', 'writeUcs2String'])
const FASTIFY = /node_modules\/(fastify|find-my-way|avvio|light-my-request|fast-json-stringify|@fastify\/[^/]+|fast-querystring|toad-cache)\//

/** The category of one profile node, by its script and function. */
export function categoryOf (frame: { functionName: string, url: string }): string {
  const { functionName: fn, url } = frame
  if (fn === '(idle)') return 'idle'
  // The inspector session that takes the profile (its stop serialises the profile): not the simulation's work.
  if (url === 'node:inspector' || url.startsWith('node:internal/inspector')) return 'profiler'
  if (fn === '(garbage collector)') return 'garbage collection'
  if (fn === '(program)') return 'V8 and native (unattributed)'
  if (WRITES.has(fn)) return 'socket writes (system calls)'
  const src = /\/src\/(.+\.ts)$/.exec(url)
  if (src) return `residency-sim ${src[1] as string}`
  if (url.includes('node_modules/undici/')) return 'undici (upstream client)'
  if (FASTIFY.test(url)) return 'fastify (server framework)'
  if (url.includes('node_modules/pino')) return 'pino (logging)'
  if (url.includes('node_modules/prom-client/')) return 'prom-client (metrics)'
  if (url.includes('node_modules/')) return 'other packages'
  if (/^node:(_http|http)/.test(url)) return 'Node HTTP'
  if (url.startsWith('node:internal/crypto') || fn === 'hash' || fn === 'oneShotDigest') return 'crypto (HMAC, hashes, signatures)'
  if (/^node:internal\/(streams|stream_base_commons)|^node:(net|stream)/.test(url)) return 'Node streams and sockets'
  if (/^node:internal\/(timers|process\/task_queues)|^node:timers|^node:events/.test(url) || fn === 'runMicrotasks') return 'Node timers, events, promises'
  if (url.startsWith('node:')) return 'Node other'
  return 'V8 and native (unattributed)'
}

function ranked (totals: Map<string, number>, requests: number, busyUs: number, limit: number): Share[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, us]) => ({ name, usPerRequest: us / requests, share: busyUs > 0 ? us / busyUs : 0 }))
}

export function breakdown (profile: CpuProfile, requests: number, topFunctions = 15): Breakdown {
  if (!(requests > 0)) throw new Error('a breakdown per request needs at least one request')
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]))
  const categories = new Map<string, number>()
  const functions = new Map<string, number>()
  let total = 0
  let idle = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = byId.get(profile.samples[i] as number)
    const dt = profile.timeDeltas[i] ?? 0
    if (frame === undefined || dt <= 0) continue
    const cat = categoryOf(frame)
    if (cat === 'profiler') continue
    total += dt
    if (cat === 'idle') { idle += dt; continue }
    categories.set(cat, (categories.get(cat) ?? 0) + dt)
    const where = frame.url === '' ? '' : ` ${frame.url.replace(/^.*\/(node_modules|src)\//, '$1/').replace(/^file:\/\//, '')}:${frame.lineNumber + 1}`
    const key = `${frame.functionName || '(anonymous)'}${where}`
    functions.set(key, (functions.get(key) ?? 0) + dt)
  }
  const busy = total - idle
  return {
    requests,
    profiledMs: total / 1000,
    busyUsPerRequest: busy / requests,
    utilisation: total > 0 ? busy / total : 0,
    categories: ranked(categories, requests, busy, categories.size),
    functions: ranked(functions, requests, busy, topFunctions)
  }
}

/** The breakdown as an aligned text table. */
export function formatBreakdown (b: Breakdown): string {
  const major = b.categories.filter((c) => c.share >= 0.005)
  const minor = b.categories.filter((c) => c.share < 0.005)
  const minorUs = minor.reduce((sum, c) => sum + c.usPerRequest, 0)
  const minorShare = minor.reduce((sum, c) => sum + c.share, 0)
  const row = (s: Share): string => `${s.usPerRequest.toFixed(1).padStart(9)} µs  ${(s.share * 100).toFixed(1).padStart(5)}%  ${s.name}`
  return [
    `${b.requests} requests in ${(b.profiledMs / 1000).toFixed(1)} s sampled; event loop busy ${(b.utilisation * 100).toFixed(0)}% of the time, ` +
      `${b.busyUsPerRequest.toFixed(1)} µs per request (the profiler's own cost included)`,
    '',
    'self time per request, by category:',
    ...major.map(row),
    ...(minor.length === 0 ? [] : [`${minorUs.toFixed(1).padStart(9)} µs  ${(minorShare * 100).toFixed(1).padStart(5)}%  ${minor.length} more categories under 0.5% each`]),
    '',
    `the ${b.functions.length} functions with the most self time:`,
    ...b.functions.map(row)
  ].join('\n')
}
