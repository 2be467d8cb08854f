import { type Image, type ImageServiceEvent, type Job, startWorkflow, unwrap } from '@image-service/client'
import { describeError, describeFailureReason, describeJobFailure } from './failure-words.ts'
import { placeholderDataUrl } from './placeholder.ts'
import type { Session } from './session.ts'
import { loadInto, thumbnailSigner } from './thumbnails.ts'
import type { Workflow } from './workflows.ts'

export const PAGE_SIZE = 24

export type GalleryElements = {
  list: HTMLElement
  more: HTMLButtonElement
  empty: HTMLElement
  /** The page's one polite live region: each change of state is said there once. */
  announcer: HTMLElement
}

export type GalleryActions = {
  /** Asks for a workflow and its parameters; undefined when the person cancelled. */
  chooseWorkflow(image: Image): Promise<{ workflow: Workflow; parameters: Record<string, unknown> } | undefined>
  /** Asks whether to delete; true to go ahead. */
  confirmDelete(image: Image): Promise<boolean>
}

/** What a card shows, also its `data-state` (the browser test waits on it). */
type CardState = 'pending' | 'ready' | 'failed'

type Card = {
  root: HTMLLIElement
  image: Image
  update(image: Image): void
  note(text: string): void
  showJob(job: Job, workflowName: string): void
  showResult(result: Image | undefined, text: string): Promise<void>
}

/**
 * The caller's images, newest first, a page at a time: each card shows the ThumbHash
 * placeholder at once and the signed thumbnail when it has loaded, its status (a refusal in
 * words), and its actions. Events from the stream move cards along (pending → ready or
 * failed, deleted) and jobs through queued → running → succeeded or failed.
 */
export class Gallery {
  private readonly cards = new Map<string, Card>()
  /** job id → the card of the image it runs on, and the workflow's name. */
  private readonly jobs = new Map<string, { card: Card; name: string }>()
  private readonly thumbnail: (imageId: string) => Promise<string | undefined>
  private cursor: string | null = null
  private loading = false

  private readonly session: Session
  private readonly els: GalleryElements
  private readonly actions: GalleryActions

  /** Aborted on sign-out: answers that arrive later change nothing. */
  private readonly signal: AbortSignal

  constructor(session: Session, els: GalleryElements, actions: GalleryActions, signal: AbortSignal) {
    this.signal = signal
    this.session = session
    this.els = els
    this.actions = actions
    this.thumbnail = thumbnailSigner(session.client)
    els.more.onclick = () => void this.loadPage(this.cursor)
  }

  announce(text: string): void {
    // The same words twice in a row are still said again.
    this.els.announcer.textContent = ''
    requestAnimationFrame(() => (this.els.announcer.textContent = text))
  }

  /** The first page, or the next one after `cursor`. */
  async loadPage(cursor: string | null = null): Promise<void> {
    if (this.loading) return
    this.loading = true
    this.els.more.disabled = true
    try {
      const page = unwrap(
        await this.session.client.GET('/api/image/v1/images', {
          params: { query: { limit: String(PAGE_SIZE), ...(cursor === null ? {} : { cursor }) } },
        }),
      )
      for (const image of page.items) this.upsert(image)
      this.cursor = page.next_cursor
      this.els.more.hidden = page.next_cursor === null
      if (cursor !== null) this.announce(`${page.items.length} more ${page.items.length === 1 ? 'image' : 'images'} shown.`)
    } catch (error) {
      this.announce(`The images could not be listed: ${describeError(error).words}`)
    } finally {
      this.loading = false
      this.els.more.disabled = false
      this.showEmpty()
    }
  }

  /** An upload Uppy finished: its card (made now if its pending event has not come yet) says it is being checked. */
  async uploaded(imageId: string): Promise<void> {
    const image = await this.read(imageId)
    if (!image) return
    const card = this.upsert(image)
    if (image.status === 'pending') card?.note('Uploaded; the service is checking the image…')
  }

  /** One event of the stream: the card or job it is about is read again and shown as it now is. */
  onEvent(event: ImageServiceEvent): void {
    if (event.type.startsWith('image.')) void this.refreshImage(event.subject_id, event.type)
    else if (event.type.startsWith('job.')) void this.refreshJob(event.subject_id)
  }

  /**
   * After the stream (re)opened: what is still moving may have moved meanwhile. Unless the
   * api replays the gap, images made meanwhile are found by listing the first page again.
   */
  resync(replayed: boolean): void {
    for (const [id, card] of this.cards) if (card.image.status === 'pending') void this.refreshImage(id, 'image.pending')
    for (const id of this.jobs.keys()) void this.refreshJob(id)
    if (!replayed) void this.refreshFirstPage()
  }

  private async refreshFirstPage(): Promise<void> {
    const answer = await this.session.client.GET('/api/image/v1/images', { params: { query: { limit: String(PAGE_SIZE) } } })
    for (const image of answer.data?.items ?? []) this.upsert(image)
  }

  private async refreshImage(imageId: string, type: string): Promise<void> {
    if (type === 'image.deleted') return this.remove(imageId)
    const image = await this.read(imageId)
    if (!image || image.status === 'deleted') return this.remove(imageId)
    const before = this.cards.get(imageId)?.image.status
    this.upsert(image)
    if (before === image.status) return
    if (image.status === 'ready') this.announce(`${image.file_name} is ready.`)
    if (image.status === 'failed') this.announce(`${image.file_name} was refused: ${describeFailureReason(image.failure_reason)}`)
  }

  private async read(imageId: string): Promise<Image | undefined> {
    const answer = await this.session.client.GET('/api/image/v1/images/{image_id}', { params: { path: { image_id: imageId } } })
    return answer.data
  }

  private upsert(image: Image): Card | undefined {
    if (image.status === 'deleted' || this.signal.aborted) return undefined
    const known = this.cards.get(image.image_id)
    if (known) {
      // Reads finish in any order: an older answer (a pending one after the verdict) is not shown over a newer one.
      if (!isNewer(image, known.image)) return known
      known.update(image)
      return known
    }
    const card = this.renderCard(image)
    this.cards.set(image.image_id, card)
    // Newest first, as the api lists them: by id (a ULID grows with time), whatever order the events came in.
    const older = [...this.els.list.children].find((li) => ((li as HTMLElement).dataset.imageId ?? '') < image.image_id)
    this.els.list.insertBefore(card.root, older ?? null)
    this.showEmpty()
    return card
  }

  private remove(imageId: string): void {
    const card = this.cards.get(imageId)
    if (!card) return
    this.cards.delete(imageId)
    card.root.remove()
    this.showEmpty()
  }

  private showEmpty(): void {
    this.els.empty.hidden = this.cards.size > 0 || this.loading
  }

  private async runWorkflow(card: Card, trigger: HTMLButtonElement): Promise<void> {
    try {
      const choice = await this.actions.chooseWorkflow(card.image)
      trigger.focus()
      if (!choice) return
      const job = await startWorkflow(this.session.client, {
        imageId: card.image.image_id,
        workflowId: choice.workflow.id,
        parameters: choice.parameters,
        idempotencyKey: crypto.randomUUID(),
      })
      this.jobs.set(job.job_id, { card, name: choice.workflow.name })
      card.showJob(job, choice.workflow.name)
      this.announce(`${choice.workflow.name} on ${card.image.file_name}: queued.`)
      // Events about the job may have come before we knew its id: read it once now.
      await this.refreshJob(job.job_id)
    } catch (error) {
      const words = describeError(error).words.replace(/^Not uploaded: /, '')
      card.note(`The workflow did not start: ${words}`)
      this.announce(`The workflow did not start: ${words}`)
    }
  }

  private async refreshJob(jobId: string): Promise<void> {
    const tracked = this.jobs.get(jobId)
    if (!tracked) return
    const answer = await this.session.client.GET('/api/image/v1/processing/{job_id}/status', { params: { path: { job_id: jobId } } })
    const job = answer.data
    if (!job || this.jobs.get(jobId) !== tracked || this.signal.aborted) return
    const before = tracked.card.root.querySelector<HTMLElement>('.job')?.dataset.jobState
    // An older answer (queued, after running was shown) is not shown over a newer one.
    if (before !== undefined && JOB_ORDER.indexOf(job.status) < JOB_ORDER.indexOf(before as Job['status'])) return
    tracked.card.showJob(job, tracked.name)
    if (before === job.status) return
    const what = `${tracked.name} on ${tracked.card.image.file_name}`
    if (job.status === 'running') this.announce(`${what}: running.`)
    if (job.status === 'failed' || job.status === 'cancelled') {
      this.jobs.delete(jobId)
      this.announce(`${what}: ${describeJobFailure(job)}`)
    }
    if (job.status === 'succeeded') {
      this.jobs.delete(jobId)
      const resultId = job.result_image_ids[0]
      const result = resultId === undefined ? undefined : await this.read(resultId)
      await tracked.card.showResult(result, `Result of ${tracked.name}`).catch(() => undefined)
      this.announce(`${what}: succeeded, the result is shown next to the original.`)
    }
  }

  private async deleteImage(card: Card): Promise<void> {
    if (!(await this.actions.confirmDelete(card.image))) {
      card.root.querySelector<HTMLButtonElement>('button.delete')?.focus()
      return
    }
    const { response, error } = await this.session.client.DELETE('/api/image/v1/images/{image_id}', {
      params: { path: { image_id: card.image.image_id } },
    })
    if (error !== undefined || !response.ok) {
      const code = (error as { code?: string } | undefined)?.code ?? `HTTP ${response.status}`
      card.note(`Not deleted (${code}).`)
      this.announce(`${card.image.file_name} was not deleted (${code}).`)
      return
    }
    // Focus goes to the next card's first action (or the previous one's, or the list's heading).
    const next = (card.root.nextElementSibling ?? card.root.previousElementSibling)?.querySelector<HTMLButtonElement>('button')
    this.remove(card.image.image_id)
    ;(next ?? document.getElementById('gallery-title'))?.focus()
    this.announce(`${card.image.file_name} was deleted.`)
  }

  private renderCard(first: Image): Card {
    const root = document.createElement('li')
    root.className = 'card'
    root.dataset.imageId = first.image_id
    const figures = document.createElement('div')
    figures.className = 'figures'
    const original = figure()
    original.caption.textContent = first.file_name
    original.caption.className = 'name'
    figures.append(original.root)
    const status = document.createElement('p')
    status.className = 'status'
    const note = document.createElement('p')
    note.className = 'note'
    note.hidden = true
    const job = document.createElement('div')
    job.className = 'job'
    job.hidden = true
    const jobStatus = document.createElement('p')
    jobStatus.className = 'job-status'
    const jobBar = document.createElement('progress')
    job.append(jobStatus, jobBar)
    const actions = document.createElement('div')
    actions.className = 'actions'
    const run = button('Run a workflow', 'run')
    const remove = button('Delete', 'delete secondary')
    actions.append(run, remove)
    root.append(figures, status, note, job, actions)

    let result: ReturnType<typeof figure> | undefined
    let loadedThumbnail = false

    const card: Card = {
      root,
      image: first,
      update: (image) => {
        card.image = image
        const state: CardState = image.status === 'ready' ? 'ready' : image.status === 'failed' ? 'failed' : 'pending'
        root.dataset.state = state
        const name = image.file_name
        run.setAttribute('aria-label', `Run a workflow on ${name}`)
        remove.setAttribute('aria-label', `Delete ${name}`)
        run.hidden = state !== 'ready'
        const placeholder = placeholderDataUrl(image.placeholder)
        if (placeholder) original.preview.style.backgroundImage = `url("${placeholder}")`
        if (image.source_image_id !== null) {
          const source = this.cards.get(image.source_image_id)?.image.file_name
          original.caption.textContent = `${name} (made by a workflow${source === undefined ? '' : ` from ${source}`})`
        }
        if (state === 'pending') {
          status.textContent = 'Waiting for the upload and its check…'
        } else if (state === 'failed') {
          note.hidden = true
          original.preview.hidden = true
          status.replaceChildren(`Refused: ${describeFailureReason(image.failure_reason)} `, code(image.failure_reason ?? 'deleted'))
        } else {
          note.hidden = true
          status.textContent = `Ready: ${image.width} × ${image.height}, ${formatBytes(image.size_bytes ?? 0)}`
          if (!loadedThumbnail) {
            loadedThumbnail = true
            void showThumbnail(this.thumbnail, original, image).catch((error: unknown) => {
              loadedThumbnail = false
              card.note(`The thumbnail did not load: ${error instanceof Error ? error.message : String(error)}.`)
            })
          }
        }
      },
      note: (text) => {
        note.textContent = text
        note.hidden = false
      },
      showJob: (state, workflowName) => {
        job.hidden = false
        job.dataset.jobState = state.status
        jobBar.hidden = state.status !== 'queued' && state.status !== 'running'
        jobBar.setAttribute('aria-label', `${workflowName} on ${card.image.file_name}`)
        if (state.status === 'queued') jobStatus.textContent = `${workflowName}: queued…`
        else if (state.status === 'running') jobStatus.textContent = `${workflowName}: running…`
        else if (state.status === 'succeeded') jobStatus.textContent = `${workflowName}: succeeded.`
        else jobStatus.textContent = `${workflowName}: ${describeJobFailure(state)}`
        root.classList.toggle('with-result', result !== undefined || state.status === 'succeeded')
      },
      showResult: async (image, text) => {
        result?.root.remove()
        result = figure()
        result.root.classList.add('result')
        result.caption.textContent = text
        figures.append(result.root)
        root.classList.add('with-result')
        if (image?.status !== 'ready') {
          result.caption.textContent = `${text}: not ready (${image?.status ?? 'missing'})`
          return
        }
        const placeholder = placeholderDataUrl(image.placeholder)
        if (placeholder) result.preview.style.backgroundImage = `url("${placeholder}")`
        await showThumbnail(this.thumbnail, result, image)
      },
    }
    run.addEventListener('click', () => void this.runWorkflow(card, run))
    remove.addEventListener('click', () => void this.deleteImage(card))
    card.update(first)
    return card
  }
}

const JOB_ORDER: Job['status'][] = ['queued', 'running', 'succeeded', 'failed', 'cancelled']

/** Whether `next` is at least as recent as `shown`: a verdict is final, and updated_at only grows. */
function isNewer(next: Image, shown: Image): boolean {
  if (shown.status !== 'pending' && next.status === 'pending') return false
  return Date.parse(next.updated_at) >= Date.parse(shown.updated_at)
}

type Figure = { root: HTMLElement; preview: HTMLElement; img: HTMLImageElement; caption: HTMLElement }

function figure(): Figure {
  const root = document.createElement('figure')
  const preview = document.createElement('div')
  preview.className = 'preview'
  const img = document.createElement('img')
  img.className = 'thumbnail'
  img.hidden = true
  preview.append(img)
  const caption = document.createElement('figcaption')
  root.append(preview, caption)
  return { root, preview, img, caption }
}

async function showThumbnail(sign: (id: string) => Promise<string | undefined>, into: Figure, image: Image): Promise<void> {
  const url = await sign(image.image_id)
  if (url === undefined) throw new Error('the api has no thumbnail of it')
  into.img.alt = `${image.file_name}, ${image.width} × ${image.height}`
  await loadInto(into.img, url)
  into.img.hidden = false
}

function button(text: string, className: string): HTMLButtonElement {
  const b = document.createElement('button')
  b.type = 'button'
  b.className = className
  b.textContent = text
  return b
}

function code(text: string): HTMLElement {
  const c = document.createElement('code')
  c.className = 'reason'
  c.textContent = text
  return c
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
