// `node bench/src/profile-summary.ts file.cpuprofile [top]`: the hottest functions of a V8
// CPU profile (self time, and total time including callees), to read a --cpu-prof run.
import { readFileSync } from 'node:fs'

type ProfileNode = {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const [file, topArg] = process.argv.slice(2)
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]')
const top = Number(topArg ?? 25)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile

const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const selfUs = new Map<number, number>()
for (const [i, id] of profile.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))

const label = (n: ProfileNode) => {
  const url = n.callFrame.url.replace(/^.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '').replace(/^file:\/\/\/work\/main\//, '')
  return `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`
}
// Self time grouped by where the code lives: a package, node internals, our sources, V8 states.
const owner = (n: ProfileNode) => {
  const url = n.callFrame.url
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1] as string
  if (url.startsWith('node:')) return 'node internals'
  if (url.includes('/work/main/')) return url.replace(/^.*\/work\/main\/([^/]+\/[^/]+)\/.*$/, '$1')
  return n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : 'native/other'
}
const byOwner = new Map<string, number>()
const self = new Map<string, number>()
const total = new Map<string, number>()
let all = 0
for (const [id, us] of selfUs) {
  all += us
  const node = byId.get(id)
  if (node === undefined) continue
  self.set(label(node), (self.get(label(node)) ?? 0) + us)
  byOwner.set(owner(node), (byOwner.get(owner(node)) ?? 0) + us)
  // Each frame on the stack once, so recursion does not count twice.
  const seen = new Set<string>()
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur) as ProfileNode)
    if (!seen.has(l)) total.set(l, (total.get(l) ?? 0) + us)
    seen.add(l)
  }
}
const print = (title: string, map: Map<string, number>) => {
  console.log(`\n${title} (of ${(all / 1e6).toFixed(1)} s sampled)`)
  for (const [l, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((us / all) * 100).toFixed(1).padStart(5)}%  ${l}`)
  }
}
print('self time by package', byOwner)
print('self time', self)
print('total time', total)
