import { randomUUID } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createImageServiceClient, putImage, unwrap, waitForImage } from '@image-service/client'
import { corpusDir, readCorpusFile } from '@image-service/devstack/corpus'
import type { Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, expect, onTestFailed, onTestFinished, test } from 'vitest'
import { type Browser, launchBrowser, recordPageActivity } from './support/browser.ts'
import { startCuttableProxy } from './support/cuttable-proxy.ts'
import { type DemoSystem, startDemoSystem } from './support/system.ts'

// The demo page in Debian's Chromium against the whole system: a person makes an account on
// the page, uploads through Uppy's Dashboard, watches the gallery move over the events stream,
// runs a workflow, deletes an image; or signs in with a token and finds the images already there.
const SCREENSHOTS = fileURLToPath(new URL('../test-results/', import.meta.url))
const JPEG = 'valid-jpeg-baseline-1024x768.jpg'
const HOSTILE = 'polyglot-html-then-png.png'

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
const naturalWidth = (img: Locator) => img.evaluate((el: HTMLImageElement) => (el.complete ? el.naturalWidth : 0))
/** The gallery card whose file name starts with `name`. */
const card = (page: Page, name: string) => {
  const startsWith = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)
  return page.locator('#gallery li.card').filter({ has: page.locator('figure:first-child .name', { hasText: startsWith }) })
}
const announced = (page: Page) => page.locator('#announcer').textContent()

async function signUp(page: Page): Promise<string> {
  const email = `web-${randomUUID()}@example.com`
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery')
  await page.getByLabel(/^Name/).fill('Ada')
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.locator('#live-state[data-state="live"]').waitFor()
  return email
}

test('an account made on the page uploads through the Uppy Dashboard: a JPEG becomes a thumbnail, a polyglot is refused, a workflow result appears, an image is deleted', async () => {
  const { page, system } = await openDemo()
  const email = await signUp(page)
  expect(await page.locator('#signed-in-as').textContent()).toMatch(new RegExp(`^Signed in as ${email} at `))
  expect(await page.locator('#gallery-empty').isVisible()).toBe(true)

  // Paths, as a person picks files in the Dashboard: the browser names them and types them from the extension.
  await page
    .locator('#uploader input.uppy-Dashboard-input[name="files[]"]:not([webkitdirectory])')
    .setInputFiles([corpusFile(JPEG), corpusFile(HOSTILE)])
  // Uppy shows a progress bar per file, and both reach storage.
  await page.waitForFunction(() => document.querySelectorAll('#uploader .uppy-Dashboard-Item.is-complete').length === 2, null, {
    timeout: 30_000,
  })

  const jpeg = card(page, JPEG)
  const hostile = card(page, HOSTILE)
  await jpeg.and(page.locator('[data-state="ready"]')).waitFor({ timeout: 30_000 })
  await hostile.and(page.locator('[data-state="failed"]')).waitFor({ timeout: 30_000 })

  // The thumbnail variant, through a signed CDN URL (one batch request), decoded at its real size.
  const thumbnail = jpeg.locator('figure:first-child img.thumbnail')
  await expect.poll(() => naturalWidth(thumbnail)).toBe(300)
  expect(await thumbnail.evaluate((img: HTMLImageElement) => img.naturalHeight)).toBe(225)
  expect(await thumbnail.isVisible()).toBe(true)
  expect(new URL(await thumbnail.evaluate((img: HTMLImageElement) => img.currentSrc)).origin).toBe(system.stack.cdn.baseUrl)
  expect(await jpeg.locator('.status').textContent()).toMatch(/^Ready: 1024 × 768, /)
  // The ThumbHash placeholder, decoded in the page, stays behind the thumbnail.
  expect(
    await jpeg
      .locator('.preview')
      .first()
      .evaluate((el: HTMLElement) => el.style.backgroundImage),
  ).toMatch(/^url\("data:image\/png;base64,/)
  // The processor refused the polyglot, said in words; it has no workflow to run.
  expect(await hostile.locator('.status').textContent()).toBe('Refused: The file is not an image. not_an_image')
  expect(await hostile.getByRole('button', { name: /^Run a workflow/ }).isVisible()).toBe(false)

  // A workflow, from the keyboard: the card's button, the dialog's fields built from the schema, Enter.
  await jpeg.getByRole('button', { name: `Run a workflow on ${JPEG}` }).press('Enter')
  const dialog = page.getByRole('dialog', { name: 'Run a workflow' })
  await dialog.waitFor()
  await dialog.getByLabel('Workflow', { exact: true }).selectOption({ label: 'Restyle' })
  await dialog.getByLabel('Prompt').fill('a watercolour')
  await mkdir(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, 'demo-workflow-dialog.png') })
  await dialog.getByLabel('Prompt').press('Enter')
  await dialog.waitFor({ state: 'hidden' })
  await jpeg.locator('.job[data-job-state="succeeded"]').waitFor({ timeout: 30_000 })
  expect(await jpeg.locator('.job-status').textContent()).toBe('Restyle: succeeded.')
  // The result, validated and given a thumbnail like any upload, next to the original.
  const result = jpeg.locator('figure.result img.thumbnail')
  await expect.poll(() => naturalWidth(result)).toBe(300)
  expect(await jpeg.locator('figure.result figcaption').textContent()).toBe('Result of Restyle')
  await expect.poll(() => announced(page)).toBe(`Restyle on ${JPEG}: succeeded, the result is shown next to the original.`)

  // Newest first whatever order the events came in: the result, then the two uploads by id.
  const order = await page.locator('#gallery li.card').evaluateAll((cards) => cards.map((c) => (c as HTMLElement).dataset.imageId ?? ''))
  expect(order).toHaveLength(3)
  expect(order).toEqual([...order].sort().reverse())
  expect(order[0]).toBe(await card(page, 'restyle-1.png').getAttribute('data-image-id'))
  const screenshot = join(SCREENSHOTS, 'demo-gallery.png')
  await page.screenshot({ path: screenshot, fullPage: true })
  console.log(`screenshot: ${screenshot}`)

  // Delete, confirmed in a dialog whose default is to keep the image; then gone from the gallery.
  const hostileId = await hostile.getAttribute('data-image-id')
  await hostile.getByRole('button', { name: `Delete ${HOSTILE}` }).click()
  const confirm = page.getByRole('dialog', { name: 'Delete this image?' })
  await confirm.getByRole('button', { name: 'Keep it' }).press('Enter')
  await confirm.waitFor({ state: 'hidden' })
  expect(await hostile.count()).toBe(1)
  await hostile.getByRole('button', { name: `Delete ${HOSTILE}` }).press('Enter')
  await confirm.getByRole('button', { name: 'Delete', exact: true }).click()
  await hostile.waitFor({ state: 'detached' })
  await expect.poll(() => announced(page)).toBe(`${HOSTILE} was deleted.`)

  // The api deleted it: signed in again, the gallery lists the JPEG and the workflow's result only.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery')
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.locator('#live-state[data-state="live"]').waitFor()
  await page.waitForFunction(() => document.querySelectorAll('#gallery li.card[data-state="ready"]').length === 2)
  const listed = await page.locator('#gallery li.card').evaluateAll((cards) => cards.map((c) => (c as HTMLElement).dataset.imageId))
  expect(listed).toHaveLength(2)
  expect(listed).not.toContain(hostileId)
  expect(await card(page, JPEG).count()).toBe(1)
  expect(await card(page, 'restyle-1.png').locator('.name').textContent()).toBe(`restyle-1.png (made by a workflow from ${JPEG})`)
  await page.close()
})

test('signed in with a token, the gallery lists the images already there, tells a failed job, and follows a new image from pending to ready over the events stream', async () => {
  const { page, system } = await openDemo()
  const subject = `web-${randomUUID()}`
  const client = createImageServiceClient({
    baseUrl: system.apiUrl,
    token: () => system.stack.identity.token({ subject, expiresInSeconds: 600 }),
  })
  // Two images made elsewhere before the page opens: one ready, one refused.
  const older = await putImage(client, { file: readCorpusFile('valid-png-rgb-1024x768.png'), contentType: 'image/png' })
  await waitForImage(client, older.imageId, { timeoutMs: 30_000 })
  const refused = await putImage(client, { file: readCorpusFile(HOSTILE), contentType: 'image/png', fileName: HOSTILE })
  await waitForImage(client, refused.imageId, { timeoutMs: 30_000 }).catch(() => undefined)

  await page.getByLabel('Access token').fill(await system.stack.identity.token({ subject, expiresInSeconds: 600 }))
  await page.getByRole('button', { name: 'Sign in with the token' }).click()
  await page.locator('#live-state[data-state="live"]').waitFor()
  await page.waitForFunction(() => document.querySelectorAll('#gallery li.card').length === 2)
  // Newest first: the refusal, then the ready PNG with its thumbnail.
  const ids = await page.locator('#gallery li.card').evaluateAll((cards) => cards.map((c) => (c as HTMLElement).dataset.imageId))
  expect(ids).toEqual([refused.imageId, older.imageId])
  await expect.poll(() => naturalWidth(page.locator(`li.card[data-image-id="${older.imageId}"] img.thumbnail`))).toBe(300)
  expect(await card(page, HOSTILE).locator('.status').textContent()).toBe('Refused: The file is not an image. not_an_image')
  expect(await page.locator('#more').isVisible()).toBe(false)

  // A job the provider refuses ends failed, said in words with the provider's own.
  system.stack.fal.queueOutcomes({ type: 'validation_error', message: 'no face found in the image' })
  const ready = page.locator(`li.card[data-image-id="${older.imageId}"]`)
  await ready.getByRole('button', { name: /^Run a workflow on / }).click()
  const dialog = page.getByRole('dialog', { name: 'Run a workflow' })
  await dialog.getByLabel('Workflow', { exact: true }).selectOption({ label: 'Restyle' })
  await dialog.getByLabel('Prompt').fill('a portrait')
  await dialog.getByRole('button', { name: 'Run' }).click()
  await ready.locator('.job[data-job-state="failed"]').waitFor({ timeout: 30_000 })
  expect(await ready.locator('.job-status').textContent()).toMatch(
    /^Restyle: The AI service refused the image or the settings: .*no face found in the image/,
  )
  expect(await ready.locator('figure.result').count()).toBe(0)

  // Another upload of the same owner (another tab, a backend): the card appears pending, then turns ready.
  const bytes = readCorpusFile(JPEG) as Uint8Array<ArrayBuffer>
  const issued = unwrap(
    await client.POST('/api/image/v1/upload/create-presigned-url', {
      body: { content_type: 'image/jpeg', file_name: 'from-elsewhere.jpg', size_bytes: bytes.byteLength },
    }),
  )
  const live = page.locator(`li.card[data-image-id="${issued.image_id}"]`)
  await live.and(page.locator('[data-state="pending"]')).waitFor({ timeout: 20_000 })
  const put = await fetch(issued.upload_url, { method: 'PUT', headers: issued.upload_headers, body: bytes })
  expect(put.status).toBe(200)
  await live.and(page.locator('[data-state="ready"]')).waitFor({ timeout: 30_000 })
  await expect.poll(() => naturalWidth(live.locator('img.thumbnail'))).toBe(300)
  await expect.poll(() => announced(page)).toBe('from-elsewhere.jpg is ready.')
  expect(await page.locator('#gallery li.card').first().getAttribute('data-image-id')).toBe(issued.image_id)
  await page.close()
})

test('after the stream drops, the page reopens it with Last-Event-ID and shows what the api replays', async () => {
  const { page, system } = await openDemo()
  // The page reaches the api through a proxy the test can cut; the test's own calls go direct.
  const proxy = await startCuttableProxy(system.apiUrl)
  onTestFinished(() => proxy.stop())
  await page.getByLabel('API address').fill(proxy.url)
  const subject = `web-${randomUUID()}`
  const client = createImageServiceClient({
    baseUrl: system.apiUrl,
    token: () => system.stack.identity.token({ subject, expiresInSeconds: 600 }),
  })
  const resumedFrom: (string | undefined)[] = []
  page.on('request', (request) => {
    if (request.url().endsWith('/api/image/v1/events/stream') && request.method() === 'GET') {
      resumedFrom.push(request.headers()['last-event-id'])
    }
  })
  await page.getByLabel('Access token').fill(await system.stack.identity.token({ subject, expiresInSeconds: 600 }))
  await page.getByRole('button', { name: 'Sign in with the token' }).click()
  await page.locator('#live-state[data-state="live"]').waitFor()
  const presign = async (fileName: string) =>
    unwrap(
      await client.POST('/api/image/v1/upload/create-presigned-url', {
        body: { content_type: 'image/png', file_name: fileName, size_bytes: 1000 },
      }),
    ).image_id
  // One event seen live gives the page a place in the stream.
  const seen = await presign('seen-live.png')
  await page.locator(`li.card[data-image-id="${seen}"]`).waitFor()

  proxy.cut()
  await page.locator('#live-state[data-state="reconnecting"]').waitFor()
  const missed = await presign('made-while-away.png')
  proxy.restore()
  await page.locator('#live-state[data-state="live"]').waitFor({ timeout: 20_000 })
  // Only the replay can bring it: a reopened stream with an id lists nothing again.
  await page.locator(`li.card[data-image-id="${missed}"][data-state="pending"]`).waitFor()
  expect(resumedFrom[0]).toBeUndefined()
  expect(resumedFrom.at(-1)).toMatch(/^\d+-\d+$/)
  expect(await page.locator('#gallery li.card').count()).toBe(2)
  await page.close()
})

test('the gallery shows 24 images a page, newest first, and "Show more images" the rest, from the keyboard', async () => {
  const { page, system } = await openDemo()
  const subject = `web-${randomUUID()}`
  const client = createImageServiceClient({
    baseUrl: system.apiUrl,
    token: () => system.stack.identity.token({ subject, expiresInSeconds: 600 }),
  })
  // 25 registered uploads, no bytes sent: each is listed as pending (the sweeper expires them later).
  const made: string[] = []
  for (let i = 0; i < 25; i++) {
    const issued = unwrap(
      await client.POST('/api/image/v1/upload/create-presigned-url', {
        body: { content_type: 'image/png', file_name: `page-${i}.png`, size_bytes: 1000 },
      }),
    )
    made.push(issued.image_id)
  }
  await page.getByLabel('Access token').fill(await system.stack.identity.token({ subject, expiresInSeconds: 600 }))
  await page.getByLabel('Access token').press('Tab')
  await page.keyboard.press('Enter')
  const more = page.getByRole('button', { name: 'Show more images' })
  await more.waitFor()
  const shown = () => page.locator('#gallery li.card').evaluateAll((cards) => cards.map((c) => (c as HTMLElement).dataset.imageId))
  // Newest first is the ids' order (ULIDs), also for two made within the same millisecond.
  const newestFirst = [...made].sort().reverse()
  expect(await shown()).toEqual(newestFirst.slice(0, 24))
  expect(await page.locator('#gallery li.card[data-state="pending"]').count()).toBe(24)
  await more.press('Enter')
  await more.waitFor({ state: 'hidden' })
  expect(await shown()).toEqual(newestFirst)
  await expect.poll(() => announced(page)).toBe('1 more image shown.')
  await page.close()
})

test('the Dashboard is reached by Tab with a visible focus ring; an SVG is kept out by Uppy and said why; a wrong password is told on the form, and Sign out empties the page', async () => {
  const { page } = await openDemo()
  const email = await signUp(page)
  // From the keyboard, Sign out is followed by the Dashboard's own button to pick files, its focus ring visible.
  await page.getByRole('button', { name: 'Sign out' }).focus()
  await page.keyboard.press('Tab')
  const focused = await page.evaluate(() => {
    const el = document.activeElement as HTMLElement
    const style = getComputedStyle(el)
    return { text: el.textContent, inUploader: el.closest('#uploader') !== null, outline: `${style.outlineStyle} ${style.outlineWidth}` }
  })
  expect(focused).toEqual({ text: 'browse files', inUploader: true, outline: 'solid 3px' })
  // Uppy keeps an SVG out before anything is asked of the api, and the page says why.
  await page
    .locator('#uploader input.uppy-Dashboard-input[name="files[]"]:not([webkitdirectory])')
    .setInputFiles(corpusFile('other-svg-benign-64x64.svg'))
  await expect
    .poll(() => announced(page))
    .toBe('other-svg-benign-64x64.svg: Not added: only JPEG, PNG, WebP, AVIF and GIF images are accepted.')
  expect(await page.locator('#gallery li.card').count()).toBe(0)
  await page.getByRole('button', { name: 'Sign out' }).click()
  expect(await page.locator('#gallery li.card').count()).toBe(0)
  expect(await page.locator('#uploader').isVisible()).toBe(false)
  await page.getByLabel('Email').fill(email)
  // From the keyboard: Enter in the password field submits with the form's first button, Sign in.
  await page.getByLabel('Password', { exact: true }).fill('not the password')
  await page.getByLabel('Password', { exact: true }).press('Enter')
  await expect.poll(() => page.locator('#sign-in-status').textContent()).toMatch(/\(INVALID_EMAIL_OR_PASSWORD\)$/)
  expect(await page.locator('#uploader').isVisible()).toBe(false)
  await page.close()
})
