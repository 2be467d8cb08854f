import { type Image, uploadImage } from '@image-service/client'
import { describeError } from './failure-words.ts'
import { placeholderDataUrl } from './placeholder.ts'
import type { Session } from './session.ts'

/** What a list item shows, also its `data-state` (the browser test waits on it). */
type State = 'uploading' | 'checking' | 'ready' | 'failed'

const THUMBNAIL = 'thumbnail'

/**
 * One file, from the presign to its verdict: a list item with a progress bar, then either the
 * thumbnail (ThumbHash placeholder first) with its dimensions, or why it was refused.
 */
export async function uploadOne(session: Session, file: File, list: HTMLElement): Promise<void> {
  const item = renderItem(file)
  list.prepend(item.root)
  try {
    item.show('uploading', `Uploading ${formatBytes(file.size)}…`)
    // The bytes go straight to storage, then the helper follows the processor's verdict.
    const image = await uploadImage(session.client, {
      file,
      // The browser's type, from the name; the processor checks the bytes really are that type.
      contentType: file.type || 'application/octet-stream',
      onProgress: ({ uploadedBytes, totalBytes }) => {
        item.progress(uploadedBytes, totalBytes)
        if (uploadedBytes === totalBytes) item.show('checking', 'Uploaded; the service is checking the image…')
      },
      wait: { timeoutMs: 120_000 },
    })
    item.root.dataset.imageId = image.image_id
    await showReady(session, item, image)
  } catch (error) {
    const { words, code } = describeError(error)
    item.show('failed', words, code)
  }
}

async function showReady(session: Session, item: Item, image: Image): Promise<void> {
  const placeholder = placeholderDataUrl(image.placeholder)
  if (placeholder) item.preview.style.backgroundImage = `url("${placeholder}")`
  item.show('checking', `Checked (${image.width} × ${image.height}); loading the thumbnail…`)
  const { data, error } = await session.client.GET('/api/image/v1/download/get-signed-url/{image_id}', {
    params: { path: { image_id: image.image_id }, query: { variant: THUMBNAIL } },
  })
  if (error !== undefined) throw new Error(`the api gave no thumbnail URL (${(error as { code?: string }).code ?? 'error'})`)
  const thumbnail = item.thumbnail
  thumbnail.alt = `${image.file_name}, ${image.width} × ${image.height}`
  await new Promise<void>((resolve, reject) => {
    thumbnail.onload = () => resolve()
    thumbnail.onerror = () => reject(new Error('the thumbnail did not load from the CDN'))
    thumbnail.src = data.download_url
  })
  thumbnail.hidden = false
  item.show('ready', `Ready: ${image.width} × ${image.height}, ${formatBytes(image.size_bytes ?? 0)}`)
}

type Item = {
  root: HTMLLIElement
  preview: HTMLElement
  thumbnail: HTMLImageElement
  show(state: State, text: string, code?: string): void
  progress(done: number, total: number): void
}

function renderItem(file: File): Item {
  const root = document.createElement('li')
  root.className = 'upload'
  const name = document.createElement('p')
  name.className = 'name'
  name.textContent = file.name
  const preview = document.createElement('div')
  preview.className = 'preview'
  const thumbnail = document.createElement('img')
  thumbnail.className = 'thumbnail'
  thumbnail.hidden = true
  preview.append(thumbnail)
  const bar = document.createElement('progress')
  bar.max = 1
  bar.setAttribute('aria-label', `Upload of ${file.name}`)
  const status = document.createElement('p')
  status.className = 'status'
  const reason = document.createElement('code')
  reason.className = 'reason'
  root.append(preview, name, bar, status)

  return {
    root,
    preview,
    thumbnail,
    show(state, text, code) {
      root.dataset.state = state
      status.textContent = text
      // The bar says how far the bytes went; once there is a verdict it has nothing more to say.
      bar.hidden = state === 'ready' || state === 'failed'
      if (state === 'failed') {
        preview.hidden = true
        if (code) {
          reason.textContent = code
          status.append(' ', reason)
        }
      }
    },
    progress(done, total) {
      bar.value = total === 0 ? 1 : done / total
    },
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
