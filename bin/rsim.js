#!/usr/bin/env node
// Entry point of the installed `rsim` command (Node >= 24 runs the TypeScript sources natively).
import '../src/cli/main.ts'
