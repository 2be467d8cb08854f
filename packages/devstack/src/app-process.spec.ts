import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AppProcess, startAppProcess } from './app-process.ts'
import { closedPort } from './free-port.ts'

// A stand-in app: logs JSON lines, serves HTTP on PORT, and on SIGTERM exits 0 (or not at all).
const APP = `
import { createServer } from 'node:http'
const log = (msg, extra = {}) => process.stdout.write(JSON.stringify({ msg, ...extra }) + '\\n')
if (process.env.FAIL_AT_START === '1') { process.stderr.write('no config\\n'); process.exit(3) }
const server = createServer((_req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () => log('started', { greeting: process.env.GREETING }))
process.stdout.write('not json\\n')
process.on('SIGTERM', () => {
  if (process.env.IGNORE_SIGTERM === '1') return log('ignoring SIGTERM')
  log('stopped'); server.close(); process.exit(0)
})
`

describe('startAppProcess', () => {
  let dir: string
  let entry: string
  const started: AppProcess[] = []
  const start = async (env: Record<string, string>) => {
    const port = await closedPort()
    const app = startAppProcess({ name: 'fake', entry, env: { PORT: String(port), ...env } })
    started.push(app)
    return { app, url: `http://127.0.0.1:${port}/` }
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'devstack-app-'))
    entry = path.join(dir, 'main.mjs')
    await writeFile(entry, APP)
  })
  afterAll(async () => {
    await Promise.all(started.map((app) => app.kill('SIGKILL')))
    await rm(dir, { recursive: true, force: true })
  })

  it('runs with exactly the given environment, parses its JSON log lines, and stops on SIGTERM', async () => {
    const { app, url } = await start({ GREETING: 'hello' })
    await app.waitForHttp(url)
    const line = await app.waitForLog((l) => l.msg === 'started', 'start-up line')
    expect(line.greeting).toBe('hello')
    expect(await app.stop()).toEqual({ code: 0, signal: null })
    expect(app.logs().map((l) => l.msg)).toEqual(['started', 'stopped'])
    expect(app.output()).toContain('not json')
  })

  it('fails a wait as soon as the process exits, with what it wrote', async () => {
    const { app, url } = await start({ FAIL_AT_START: '1' })
    await expect(app.waitForLog((l) => l.msg === 'started', 'start-up line', 60_000)).rejects.toThrow(
      /fake exited \(3\)\n\[stderr\] no config\nwhile waiting for start-up line/,
    )
    await expect(app.waitForHttp(url, 60_000)).rejects.toThrow(/fake exited \(3\)/)
    expect(await app.exited).toEqual({ code: 3, signal: null })
  })

  it('kills with SIGKILL what does not exit within the grace period', async () => {
    const { app } = await start({ IGNORE_SIGTERM: '1' })
    await app.waitForLog((l) => l.msg === 'started', 'start-up line')
    expect(await app.stop(200)).toEqual({ code: null, signal: 'SIGKILL' })
    expect(app.logs().map((l) => l.msg)).toContain('ignoring SIGTERM')
  })
})
