import type { Credential } from '@image-service/client'
import { accountCredential } from './accounts.ts'
import { dialogActions } from './dialogs.ts'
import { Gallery } from './gallery.ts'
import { followEvents, type LiveState } from './live.ts'
import { type Session, signIn } from './session.ts'
import { mountUploader, type Uploader } from './uploader.ts'
import { listWorkflows } from './workflows.ts'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

const tokenForm = $<HTMLFormElement>('token-form')
const accountForm = $<HTMLFormElement>('account-form')
const apiUrl = $<HTMLInputElement>('api-url')
const token = $<HTMLTextAreaElement>('token')
const signInSection = $('sign-in')
const signInStatus = $('sign-in-status')
const uploadSection = $('upload')
const gallerySection = $('gallery-section')
const galleryList = $('gallery')
const liveState = $('live-state')

apiUrl.value = import.meta.env.VITE_API_URL ?? 'http://127.0.0.1:3000'
// `pnpm dev` hands the page the token it printed, so a first try needs no copying.
token.value = import.meta.env.VITE_DEV_TOKEN ?? ''

/** What a signed-in page runs: the uploader, the gallery and its events stream; ended on sign-out. */
let running: { session: Session; uploader: Uploader; stop: AbortController } | undefined

const apiBase = () => apiUrl.value.trim().replace(/\/+$/, '')

/** Signs in with what the credential gives; says why not on the form. */
function start(credential: () => Promise<Credential>): void {
  signInStatus.textContent = 'Signing in…'
  credential()
    .then((c) => signIn(apiBase(), c))
    .then((signedIn) => {
      signInStatus.textContent = ''
      $('signed-in-as').textContent = `Signed in as ${signedIn.who} at ${signedIn.apiUrl}.`
      signInSection.hidden = true
      uploadSection.hidden = false
      gallerySection.hidden = false
      running = run(signedIn)
      $('upload-title').focus()
    })
    .catch((error: unknown) => {
      signInStatus.textContent = error instanceof Error ? error.message : String(error)
    })
}

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault()
  start(async () => token.value.trim().replace(/^export TOKEN=/, ''))
})

accountForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const submitter = (event as SubmitEvent).submitter as HTMLButtonElement | null
  const field = (name: string) => (accountForm.elements.namedItem(name) as HTMLInputElement).value
  start(() =>
    accountCredential({
      apiUrl: apiBase(),
      mode: submitter?.value === 'sign-up' ? 'sign-up' : 'sign-in',
      email: field('email').trim(),
      password: field('password'),
      name: field('name').trim(),
    }),
  )
})

$('sign-out').addEventListener('click', () => {
  running?.stop.abort()
  running?.uploader.destroy()
  running = undefined
  token.value = ''
  accountForm.reset()
  galleryList.replaceChildren()
  uploadSection.hidden = true
  gallerySection.hidden = true
  signInSection.hidden = false
  token.focus()
})

const LIVE_WORDS: Record<LiveState, string> = {
  connecting: 'Live updates: connecting…',
  live: 'Live updates: on',
  reconnecting: 'Live updates: reconnecting…',
}

/** The signed-in page: the Uppy Dashboard, the gallery's first page, and the one events stream that moves it. */
function run(session: Session): NonNullable<typeof running> {
  const stop = new AbortController()
  const gallery = new Gallery(
    session,
    { list: galleryList, more: $<HTMLButtonElement>('more'), empty: $('gallery-empty'), announcer: $('announcer') },
    dialogActions(() => listWorkflows(session.client)),
    stop.signal,
  )
  const uploader = mountUploader(session, $('uploader'), {
    onStored: (imageId) => void gallery.uploaded(imageId),
    onFailed: (fileName, words) => gallery.announce(`${fileName}: ${words}`),
  })
  void gallery.loadPage()
  void followEvents(
    session.client,
    {
      onEvent: (event) => gallery.onEvent(event),
      onOpen: (replayed) => gallery.resync(replayed),
      onState: (state) => {
        liveState.dataset.state = state
        liveState.textContent = LIVE_WORDS[state]
      },
    },
    stop.signal,
  )
  return { session, uploader, stop }
}
