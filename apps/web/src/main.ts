import type { Credential } from '@image-service/client'
import { accountCredential } from './accounts.ts'
import { type Session, signIn } from './session.ts'
import { uploadOne } from './upload-item.ts'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

const tokenForm = $<HTMLFormElement>('token-form')
const accountForm = $<HTMLFormElement>('account-form')
const apiUrl = $<HTMLInputElement>('api-url')
const token = $<HTMLTextAreaElement>('token')
const signInSection = $('sign-in')
const signInStatus = $('sign-in-status')
const uploadSection = $('upload')
const fileInput = $<HTMLInputElement>('files')
const dropZone = $('drop-zone')
const uploads = $('uploads')

apiUrl.value = import.meta.env.VITE_API_URL ?? 'http://127.0.0.1:3000'
// `pnpm dev` hands the page the token it printed, so a first try needs no copying.
token.value = import.meta.env.VITE_DEV_TOKEN ?? ''

let session: Session | undefined

const apiBase = () => apiUrl.value.trim().replace(/\/+$/, '')

/** Signs in with what the credential gives; says why not on the form. */
function start(credential: () => Promise<Credential>): void {
  signInStatus.textContent = 'Signing in…'
  credential()
    .then((c) => signIn(apiBase(), c))
    .then((signedIn) => {
      session = signedIn
      signInStatus.textContent = ''
      $('signed-in-as').textContent = `Signed in as ${signedIn.who} at ${signedIn.apiUrl}.`
      signInSection.hidden = true
      uploadSection.hidden = false
      fileInput.focus()
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
  session = undefined
  token.value = ''
  accountForm.reset()
  uploads.replaceChildren()
  uploadSection.hidden = true
  signInSection.hidden = false
  token.focus()
})

fileInput.addEventListener('change', () => {
  if (fileInput.files) void uploadAll([...fileInput.files])
  fileInput.value = ''
})
dropZone.addEventListener('dragover', (event) => {
  event.preventDefault()
  dropZone.classList.add('over')
})
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'))
dropZone.addEventListener('drop', (event) => {
  event.preventDefault()
  dropZone.classList.remove('over')
  void uploadAll([...(event.dataTransfer?.files ?? [])])
})

/**
 * A few files at a time: each one waiting for its verdict holds an events stream open, and a
 * browser allows six connections per origin over HTTP/1.1.
 */
async function uploadAll(files: File[], inFlight = 3): Promise<void> {
  const current = session
  if (!current) return
  const queue = [...files]
  const worker = async () => {
    for (let file = queue.shift(); file; file = queue.shift()) await uploadOne(current, file, uploads)
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, queue.length) }, worker))
}
