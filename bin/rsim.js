#!/usr/bin/env node
// Entry point of the `rsim` command linked with `npm link` (Node >= 24 runs the TypeScript sources natively, though
// not from under node_modules: the command runs from the clone).
import { main } from '../src/cli/main.ts'

await main()
