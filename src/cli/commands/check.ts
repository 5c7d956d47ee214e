// `rsim check`: validates a scenario and reports what cannot work (errors) and what is worth knowing (notes).
import { HELP, parse } from '../args.ts'
import type { Command } from '../command.ts'
import { loadModel } from '../model.ts'

const help = `Usage: rsim check [--config F]

Validates a scenario: the schema (every problem with its file:line), PoP and region names, key policy syntax, and
consistency (a key policy that allows no PoP of the scenario, or none of its processing region, is an error; UK
processing with EU logs is a note). Exit status 0 when valid, 2 otherwise.

Options:
  --config F   scenario file (default: the embedded config/default.yaml)
  -h, --help   this help`

export const checkCommand: Command = {
  name: 'check',
  summary: 'validate a scenario and print consistency notes',
  help,
  async run (args, io) {
    const { values } = parse(args, { ...HELP, config: { type: 'string' } }, help, {
      hint: (arg) => ` (to check a scenario file, give it with --config: rsim check --config ${arg})`
    })
    if (values.help) { io.stdout.write(help + '\n'); return 0 }
    const { scenario, world, notes } = await loadModel(values.config)
    io.stdout.write(`${values.config ?? 'embedded default'}: valid: ${world.topology.pops.length} PoPs, ${world.regions.size} regions, ${scenario.customers.length} customers\n`)
    for (const n of notes) io.stdout.write(`note: ${n}\n`)
    return 0
  }
}
