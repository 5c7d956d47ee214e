// The container files are checked, not run (no Docker engine here): the image runs the same Node major version as
// package.json pins, starts the simulation on all interfaces, exposes the ports the compose file publishes, and copies
// everything the runtime reads; production dependencies cover every package the sources import.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'

const root = new URL('../../', import.meta.url).pathname
const read = (f: string) => readFileSync(join(root, f), 'utf8')
const dockerfile = read('Dockerfile')
const compose = parse(read('docker-compose.yml')) as { services: Record<string, { build: string, ports: string[], healthcheck: { test: string[] } }> }
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }, scripts: Record<string, string>, devDependencies: Record<string, string>, dependencies: Record<string, string> }

function sourceFiles (dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const rel = join(dir, name)
    return statSync(join(root, rel)).isDirectory() ? sourceFiles(rel) : rel.endsWith('.ts') ? [rel] : []
  })
}

describe('Dockerfile and docker-compose.yml', () => {
  it('uses the Node major version package.json pins', () => {
    const from = /^FROM node:(\d+)/m.exec(dockerfile)
    expect(from?.[1]).toBe(/\d+/.exec(pkg.devDependencies.node ?? '')?.[0])
    expect(pkg.engines.node).toBe(`>=${from?.[1]}`)
  })

  it('starts the simulation on all interfaces, on the ports it exposes and compose publishes', () => {
    const cmd = JSON.parse(/^CMD (.+)$/m.exec(dockerfile)?.[1] ?? '[]') as string[]
    // The container runs what `npm start` runs, V8 flags included.
    expect(cmd.slice(0, 4)).toEqual(['node', '--max-semi-space-size=64', 'src/cli/main.ts', 'start'])
    expect(pkg.scripts.start).toBe(cmd.slice(0, 4).join(' '))
    const flag = (name: string) => cmd[cmd.indexOf(name) + 1]
    expect(flag('--host')).toBe('0.0.0.0')
    const ports = [flag('--port'), flag('--control-port'), flag('--tls-port')]
    expect(/^EXPOSE (.+)$/m.exec(dockerfile)?.[1]?.split(' ')).toEqual(ports)
    const service = Object.values(compose.services)[0]!
    expect(service.build).toBe('.')
    expect(service.ports.map((p) => p.split(':').slice(1))).toEqual(ports.map((p) => [p, p]))
    expect(service.healthcheck.test.join(' ')).toContain(`127.0.0.1:${flag('--control-port')}/healthz`)
  })

  it('copies what the runtime reads', () => {
    for (const dir of ['bin', 'config', 'regions', 'src']) expect(dockerfile).toMatch(new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'))
  })

  it('production dependencies cover every package the sources import', () => {
    const imported = new Set<string>()
    for (const file of sourceFiles('src')) {
      // Type-only imports are erased before the code runs: their packages (@types, specifications) need not ship.
      const code = read(file).replace(/import type [^;]*?from '[^']+'/g, '')
      for (const m of code.matchAll(/(?:from |import |require\(|\)\(|\.resolve\()'((?:@[^/']+\/)?[^/'.][^/']*)/g)) {
        if (!m[1]!.startsWith('node:')) imported.add(m[1]!)
      }
    }
    expect(imported.size).toBeGreaterThan(5)
    for (const name of imported) expect(pkg.dependencies, `${name} must be a production dependency`).toHaveProperty([name])
  })
})
