// What the page knows of the running simulation, shared by its modules.
export const pops = new Map() // id -> PoP view, plus its <circle> as .el
export const customers = new Map() // host -> customer view
