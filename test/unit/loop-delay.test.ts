// The event loop's delay as the fidelity monitor and the bench report it (src/runtime/fidelity.ts loopDelayMs): Node's
// monitorEventLoopDelay records the whole time between its sampling timer's runs, so the sampling interval comes off.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import { loopDelayMs } from '../../src/runtime/fidelity.ts'

describe('event loop delay', () => {
  it('is what a reading holds beyond the sampling interval, never negative', () => {
    expect(loopDelayMs(21.5e6, 20)).toBe(1.5)
    expect(loopDelayMs(33.333e6, 10)).toBe(23.33)
    // A timer runs up to a millisecond early by the loop's cached clock: no delay, not a negative one.
    expect(loopDelayMs(19.2e6, 20)).toBe(0)
    expect(loopDelayMs(0, 10)).toBe(0)
  })

  it('is needed: an idle loop sampled every 20 ms reads about 20 ms, not about 0', async () => {
    const h = monitorEventLoopDelay({ resolution: 20 })
    h.enable()
    await new Promise((resolve) => setTimeout(resolve, 300))
    h.disable()
    // A slower machine only lengthens the intervals; none can be much shorter than the interval itself.
    expect(h.count).toBeGreaterThan(0)
    expect(h.min / 1e6).toBeGreaterThan(15)
  })
})
