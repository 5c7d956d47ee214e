// `rsim pops`: the PoPs of the topology, optionally those of one region.
import { SimError } from '../../core/errors.ts'
import { HELP, parse } from '../args.ts'
import type { Command } from '../command.ts'
import { loadModel } from '../model.ts'

const help = `Usage: rsim pops [--region R] [--config F] [--json]

Lists the PoPs (IATA code, city, country, US state, load-balancer region, flags), or only those of region R.

Options:
  --region R   only the PoPs of region R (see rsim regions)
  --config F   scenario file (default: the embedded config/default.yaml)
  --json       JSON output
  -h, --help   this help`

export const popsCommand: Command = {
  name: 'pops',
  summary: 'list the PoPs, or those of a region',
  help,
  async run (args, io) {
    const { values } = parse(args, { ...HELP, region: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } }, help)
    if (values.help) { io.stdout.write(help + '\n'); return 0 }
    const { world } = await loadModel(values.config)
    let pops = world.topology.pops
    if (values.region !== undefined) {
      const region = world.regions.get(values.region)
      if (!region) throw new SimError('SIM_ERR_REGION_UNKNOWN', [values.region])
      pops = pops.filter((p) => region.members[p.index] === 1)
    }
    if (values.json) {
      io.stdout.write(JSON.stringify(pops.map(({ index: _i, ...p }) => p), null, 2) + '\n')
      return 0
    }
    for (const p of pops) {
      const flags = [p.highestSecurity ? 'highest-security' : '', p.network === 'china' ? 'china-network' : ''].filter(Boolean).join(',')
      io.stdout.write(`${p.id}  ${p.country}${p.usState ? '-' + p.usState : '   '}  ${p.lbRegion.padEnd(4)}  ${p.city}${flags ? '  [' + flags + ']' : ''}\n`)
    }
    io.stdout.write(`${pops.length} ${pops.length === 1 ? 'PoP' : 'PoPs'}\n`)
    return 0
  }
}
