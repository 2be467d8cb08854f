import { readdirSync, readFileSync } from 'node:fs'

// Linux only (/proc): CPU seconds used by the api, by PostgreSQL and by this process (load
// generator plus emulators) over a run, to say which one bounds a scenario on 2 cores.
const TICKS_PER_SECOND = 100

function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
  } catch {
    return 0
  }
}

/** The embedded server: its postmaster (started with `-p <port>`) and that process's children. */
function postgresCpuSeconds(port: number | undefined): number {
  if (port === undefined) return 0
  const parents = new Map<number, number>()
  let postmaster: number | undefined
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const pid = Number(entry)
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      parents.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      const p = args.indexOf('-p')
      if (args[0]?.endsWith('/postgres') && p >= 0 && args[p + 1] === String(port)) postmaster = pid
    } catch {
      // the process ended while we looked
    }
  }
  if (postmaster === undefined) return 0
  let total = processCpuSeconds(postmaster)
  for (const [pid, parent] of parents) if (parent === postmaster) total += processCpuSeconds(pid)
  return total
}

/** Non-idle CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  return (fields.reduce((a, b) => a + b, 0) - idle) / TICKS_PER_SECOND
}

export type CpuSplit = {
  apiSeconds: number
  postgresSeconds: number
  benchSeconds: number
  /** Everything else that ran on the machine meanwhile (other jobs, the kernel, the processor). */
  otherSeconds: number
  wallSeconds: number
}

/** Starts counting; the returned function gives the CPU seconds used since by each party. */
export function startCpuAccounting(apiPid: number | undefined, postgresPort: number | undefined): () => CpuSplit {
  if (process.platform !== 'linux') return () => ({ apiSeconds: 0, postgresSeconds: 0, benchSeconds: 0, otherSeconds: 0, wallSeconds: 0 })
  const api = apiPid === undefined ? 0 : processCpuSeconds(apiPid)
  const postgres = postgresCpuSeconds(postgresPort)
  const bench = process.cpuUsage()
  const machine = machineBusySeconds()
  const started = performance.now()
  return () => {
    const used = process.cpuUsage(bench)
    const round = (n: number) => Math.round(n * 100) / 100
    const apiSeconds = apiPid === undefined ? 0 : processCpuSeconds(apiPid) - api
    const postgresSeconds = postgresCpuSeconds(postgresPort) - postgres
    const benchSeconds = (used.user + used.system) / 1e6
    return {
      apiSeconds: round(apiSeconds),
      postgresSeconds: round(postgresSeconds),
      benchSeconds: round(benchSeconds),
      otherSeconds: round(Math.max(0, machineBusySeconds() - machine - apiSeconds - postgresSeconds - benchSeconds)),
      wallSeconds: round((performance.now() - started) / 1000),
    }
  }
}
