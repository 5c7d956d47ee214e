#!/usr/bin/env node
// Entry point of the `rsim` command linked with `npm link` (Node >= 24 runs the TypeScript sources natively, though
// not from under node_modules: the command runs from the clone). An older Node is told so, with exit status 2, before
// anything imports TypeScript.
import { nodeTooOld } from './node-version.js'

const tooOld = nodeTooOld(process.version)
if (tooOld === undefined) {
  const { main } = await import('../src/cli/main.ts')
  await main()
} else {
  process.stderr.write(`${tooOld}\n`)
  process.exitCode = 2
}
