// `rsim regions`: the processing-region catalogue with PoP counts, marking lists that are assumptions.
import { HELP, parse } from '../args.ts'
import type { Command } from '../command.ts'
import { loadModel } from '../model.ts'

const help = `Usage: rsim regions [--config F] [--json]

Lists the processing regions (the documented catalogue plus the scenario's custom regions): id, kind, PoP count,
name. Regions whose membership is not public are marked "assumed": their PoP lists are assumptions.

Options:
  --config F   scenario file (default: the embedded config/default.yaml)
  --json       JSON output (with the member PoPs)
  -h, --help   this help`

export const regionsCommand: Command = {
  name: 'regions',
  summary: 'list the processing regions and their PoP counts',
  help,
  async run (args, io) {
    const { values } = parse(args, { ...HELP, config: { type: 'string' }, json: { type: 'boolean' } }, help)
    if (values.help) { io.stdout.write(help + '\n'); return 0 }
    const { world } = await loadModel(values.config)
    const regions = [...world.regions.values()]
    if (values.json) {
      io.stdout.write(JSON.stringify(regions.map(({ members: _m, ...r }) => r), null, 2) + '\n')
      return 0
    }
    for (const r of regions) {
      io.stdout.write(`${r.id.padEnd(22)} ${r.kind.padEnd(15)} ${String(r.popIds.length).padStart(3)} ${r.popIds.length === 1 ? 'PoP ' : 'PoPs'}  ${r.name}${r.assumption ? '  (assumed)' : ''}\n`)
    }
    return 0
  }
}
