// The configuration API: the scenario schema (also used as route schemas) and the loader.
export * from './schema.ts'
export { defaultScenarioPath, loadScenario, parseScenario, V1_KEY_POLICIES } from './load.ts'
export type { ConfigProblem, ScenarioOptions } from './load.ts'
