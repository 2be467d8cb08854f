import { access, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it when missing). */
export const CHROMIUM = '/usr/bin/chromium'

// Headless as root, and no background traffic: on a closed network Chromium's own connections
// (updates, sync, QUIC probes) are refused many at a time and slow every start.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-sync',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
]

export type Browser = { context: BrowserContext; page: Page; stop(): Promise<void> }

/** Chromium with a fresh, empty profile (removed on stop) and one page. */
export async function launchBrowser(): Promise<Browser> {
  await access(CHROMIUM).catch(() => {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium)`)
  })
  const profile = await mkdtemp(join(tmpdir(), 'web-e2e-profile-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS })
  const page = context.pages()[0] ?? (await context.newPage())
  return {
    context,
    page,
    async stop() {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}

/** What the page said and what failed on the wire: printed when a test fails. */
export function recordPageActivity(page: Page): () => string {
  const lines: string[] = []
  page.on('console', (message) => lines.push(`console.${message.type()}: ${message.text()}`))
  page.on('pageerror', (error) => lines.push(`pageerror: ${error.message}`))
  page.on('requestfailed', (request) => lines.push(`requestfailed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`))
  page.on('response', (response) => {
    if (response.status() >= 400) lines.push(`response ${response.status()}: ${response.request().method()} ${response.url()}`)
  })
  return () => lines.join('\n')
}
