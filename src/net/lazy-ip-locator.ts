// An IpLocator that loads geoip-lite's database on first use only: it takes a second and ~100 MB, which commands
// that never see an IP address should not pay.
import type { IpLocator } from '../core/types.ts'
import { createGeoIpLocator } from './geoip-locator.ts'

export function lazyIpLocator (): IpLocator {
  let real: IpLocator | undefined
  return {
    lookup (ip) {
      real ??= createGeoIpLocator()
      return real.lookup(ip)
    }
  }
}
