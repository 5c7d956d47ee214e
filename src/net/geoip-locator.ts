// Locates client IP addresses with geoip-lite (bundled GeoLite2 data by MaxMind, CC BY-SA 4.0, credited in the README).
import { createRequire } from 'node:module'
import type { IpLocator } from '../core/types.ts'

interface GeoIpLite {
  lookup(ip: string): { country: string, ll: [number | null, number | null] } | null
}

let geoip: GeoIpLite | undefined

// geoip-lite reads its ~100 MB data files synchronously when first required, so load it on the first lookup only:
// commands that never see an IP address do not pay for it.
function load (): GeoIpLite {
  geoip ??= createRequire(import.meta.url)('geoip-lite') as GeoIpLite
  return geoip
}

/**
 * An IpLocator over geoip-lite. Only the coordinates and country are used, never its `eu` flag: that flag is copied
 * from whichever GeoLite2 release built the data files (older ones still count the United Kingdom), while
 * EU membership here is decided by our own region data from the country.
 */
export function createGeoIpLocator (): IpLocator {
  return {
    lookup (ip: string) {
      const hit = load().lookup(ip)
      if (!hit) return undefined
      const [lat, lon] = hit.ll
      // Entries with a country but no position carry null (IPv4) or 0,0 placeholders; neither is a location.
      if (typeof lat !== 'number' || typeof lon !== 'number' || (lat === 0 && lon === 0)) return undefined
      return { lat, lon, country: hit.country }
    }
  }
}
