// The package: private (Node cannot run its TypeScript from under node_modules), its rsim command linked from the clone.
import { readFile } from 'node:fs/promises'
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
