import { cpus, loadavg, release, totalmem, type } from 'node:os'

export type MachineInfo = {
  cpuModel: string
  cpuCount: number
  memoryGiB: number
  os: string
  node: string
  date: string
}

/** What the numbers were measured on; they mean little without it. */
export function describeMachine(): MachineInfo {
  const cores = cpus()
  return {
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    cpuCount: cores.length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${type()} ${release()}`,
    node: process.version,
    date: new Date().toISOString(),
  }
}

/** 1-minute load average, rounded: the machine is shared, so every result carries it. */
export function currentLoad(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100
}
