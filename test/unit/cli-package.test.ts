// The package: private (Node cannot run its TypeScript from under node_modules), its rsim command linked from the clone.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const read = (path: string): Promise<string> => readFile(new URL(`../../${path}`, import.meta.url), 'utf8')

describe('package.json', () => {
  it('is private, so that it is never published to be installed under node_modules', async () => {
    expect(JSON.parse(await read('package.json'))).toMatchObject({ private: true, bin: { rsim: './bin/rsim.js' } })
  })

  it('the README tells how to get the rsim command: npm link from the clone, on Node 24', async () => {
    const readme = await read('README.md')
    expect(readme).toContain('run `npm link` in the clone')
    expect(readme).not.toMatch(/installed `rsim` command/)
  })
})

// bin/ is plain JavaScript (an older Node must be able to read it), imported here by a path TypeScript does not check.
const versionModule = '../../bin/node-version.js'
const { nodeTooOld } = await import(versionModule) as { nodeTooOld: (version: string) => string | undefined }

/** The machine's own Node, when it is one too old for rsim (this machine's is 20): the case the check is for. */
function olderNode (): string | undefined {
  const bin = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p))
  if (bin === undefined) return undefined
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()
  return nodeTooOld(version) === undefined ? undefined : bin
}

describe('the rsim command on an older Node', () => {
  it('says which Node it needs and how to get it, for a version before 24 only', () => {
    expect(nodeTooOld('v20.20.2')).toMatch(/^rsim needs Node\.js 24 or later, .* this is Node\.js v20\.20\.2\. In the clone, run `npm run rsim -- <command>`/)
    expect(nodeTooOld('v23.11.0')).toContain('this is Node.js v23.11.0')
    for (const v of ['v24.0.0', 'v24.21.0', 'v25.1.0']) expect(nodeTooOld(v)).toBeUndefined()
  })

  it.skipIf(olderNode() === undefined)('exits 2 with that message instead of a stack trace', () => {
    const res = spawnSync(olderNode() as string, [fileURLToPath(new URL('../../bin/rsim.js', import.meta.url)), 'rtt', 'LHR', 'FRA'], { encoding: 'utf8' })
    expect(res.status).toBe(2)
    expect(res.stderr).toMatch(/^rsim needs Node\.js 24 or later/)
    expect(res.stderr).not.toContain('ERR_UNKNOWN_FILE_EXTENSION')
    expect(res.stdout).toBe('')
  })
})
