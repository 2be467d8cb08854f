import { randomUUID } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { corpusDir } from '@image-service/devstack/corpus'
import type { Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, expect, onTestFailed, test } from 'vitest'
import { type Browser, launchBrowser, recordPageActivity } from './support/browser.ts'
import { type DemoSystem, startDemoSystem } from './support/system.ts'

// The demo page in Debian's Chromium against the whole system: a person signs in (with a token,
// or with an account made on the page), picks files, and sees each become a thumbnail or be
// refused in words.
const SCREENSHOTS = fileURLToPath(new URL('../test-results/', import.meta.url))

let system: DemoSystem | undefined
let browser: Browser | undefined

beforeAll(async () => {
  system = await startDemoSystem()
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.stop()
  await system?.stop()
})

/** A fresh page on the demo, its console and failed requests printed if the test fails. */
async function openDemo(): Promise<{ page: Page; system: DemoSystem }> {
  if (!system || !browser) throw new Error('not started')
  const page = await browser.context.newPage()
  const activity = recordPageActivity(page)
  onTestFailed(() => console.error(`page activity:\n${activity()}\n${system?.transcript()}`))
  await page.goto(system.web.url)
  await page.getByLabel('API address').fill(system.apiUrl)
  return { page, system }
}

const corpusFile = (name: string) => join(corpusDir(), 'files', name)
const thumbnailWidth = (img: Locator) => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)

test('a corpus PNG is uploaded from the page and shown as its 300 px thumbnail; a hostile file is refused in words', async () => {
  const { page, system } = await openDemo()
  const token = await system.stack.identity.token({ subject: `web-${randomUUID()}`, expiresInSeconds: 600 })
  await page.getByLabel('Access token').fill(token)
  await page.getByRole('button', { name: 'Sign in with the token' }).click()
  await page.getByLabel(/Choose images/).waitFor({ state: 'visible' })
  expect(await page.locator('#signed-in-as').textContent()).toMatch(/^Signed in as web-/)
  expect(await page.getByLabel('Access token').isVisible()).toBe(false)

  // Paths, as a person picks files: the browser names them and types them from the extension.
  await page
    .getByLabel(/Choose images/)
    .setInputFiles([
      corpusFile('valid-png-rgb-1024x768.png'),
      corpusFile('polyglot-html-then-png.png'),
      corpusFile('other-svg-benign-64x64.svg'),
    ])

  const item = (name: string) => page.locator('li.upload').filter({ has: page.locator('.name', { hasText: name }) })
  const ready = item('valid-png-rgb-1024x768.png')
  const refused = item('polyglot-html-then-png.png')
  const notUploaded = item('other-svg-benign-64x64.svg')
  await page.waitForSelector('li.upload[data-state="ready"]', { timeout: 60_000 })
  await page.waitForFunction(() => document.querySelectorAll('li.upload[data-state="failed"]').length === 2, null, { timeout: 60_000 })
  expect(await ready.getAttribute('data-state')).toBe('ready')

  // The thumbnail variant, through a signed CDN URL, decoded by the browser at its real size.
  const thumbnail = ready.locator('img.thumbnail')
  await expect.poll(() => thumbnailWidth(thumbnail)).toBe(300)
  expect(await thumbnail.evaluate((img: HTMLImageElement) => img.naturalHeight)).toBe(225)
  expect(await thumbnail.isVisible()).toBe(true)
  expect(new URL(await thumbnail.evaluate((img: HTMLImageElement) => img.currentSrc)).origin).toBe(system.stack.cdn.baseUrl)
  expect(await ready.locator('.status').textContent()).toMatch(/^Ready: 1024 × 768, /)
  // The ThumbHash placeholder, decoded in the page, stays behind the thumbnail.
  expect(await ready.locator('.preview').evaluate((el: HTMLElement) => el.style.backgroundImage)).toMatch(/^url\("data:image\/png;base64,/)

  // The processor refused the polyglot; the api refused the SVG before anything was uploaded.
  expect(await refused.locator('.status').textContent()).toBe('Refused: The file is not an image. not_an_image')
  expect(await refused.locator('img.thumbnail').isVisible()).toBe(false)
  expect(await notUploaded.locator('.status').textContent()).toBe(
    'Not uploaded: Only JPEG, PNG, WebP, AVIF and GIF images are accepted. INVALID_CONTENT_TYPE',
  )

  await mkdir(SCREENSHOTS, { recursive: true })
  const screenshot = join(SCREENSHOTS, 'demo-upload.png')
  await page.screenshot({ path: screenshot, fullPage: true })
  console.log(`screenshot: ${screenshot}`)
  await page.close()
})

test('an account made on the page (built-in accounts) uploads under its own JWT; a wrong password is told', async () => {
  const { page } = await openDemo()
  const email = `web-${randomUUID()}@example.com`
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery')
  await page.getByLabel(/^Name/).fill('Ada')
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByLabel(/Choose images/).waitFor({ state: 'visible' })
  expect(await page.locator('#signed-in-as').textContent()).toMatch(new RegExp(`^Signed in as ${email} at `))

  await page.getByLabel(/Choose images/).setInputFiles(corpusFile('valid-png-rgb-1024x768.png'))
  await page.waitForSelector('li.upload[data-state="ready"]', { timeout: 60_000 })
  await expect.poll(() => thumbnailWidth(page.locator('li.upload img.thumbnail'))).toBe(300)

  await page.getByRole('button', { name: 'Sign out' }).click()
  expect(await page.locator('li.upload').count()).toBe(0)
  await page.getByLabel('Email').fill(email)
  // From the keyboard: Enter in the password field submits with the form's first button, Sign in.
  await page.getByLabel('Password', { exact: true }).fill('not the password')
  await page.getByLabel('Password', { exact: true }).press('Enter')
  await expect.poll(() => page.locator('#sign-in-status').textContent()).toMatch(/\(INVALID_EMAIL_OR_PASSWORD\)$/)
  expect(await page.getByLabel(/Choose images/).isVisible()).toBe(false)
  await page.close()
})
