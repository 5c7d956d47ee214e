#!/usr/bin/env node
// Entry point of the installed `rsim` command (Node >= 24 runs the TypeScript sources natively).
import { main } from '../src/cli/main.ts'

await main()
