import { type ImageServiceClient, unwrap } from '@image-service/client'

const MAX_PER_REQUEST = 50

/**
 * Signed thumbnail URLs, asked for in batches (`POST /download/get-signed-urls`, up to 50 ids):
 * the ids asked for in one turn of the event loop (a page of the gallery, a burst of events) go
 * in one request. Resolves with undefined for an id the api has no thumbnail of.
 */
export function thumbnailSigner(client: ImageServiceClient): (imageId: string) => Promise<string | undefined> {
  let waiting = new Map<string, { resolve(url: string | undefined): void; reject(error: unknown): void }[]>()
  let scheduled = false

  const flush = async () => {
    scheduled = false
    const batch = waiting
    waiting = new Map()
    const ids = [...batch.keys()]
    for (let start = 0; start < ids.length; start += MAX_PER_REQUEST) {
      const chunk = ids.slice(start, start + MAX_PER_REQUEST)
      try {
        const answer = unwrap(
          await client.POST('/api/image/v1/download/get-signed-urls', { body: { image_ids: chunk, variant: 'thumbnail' } }),
        )
        const urls = new Map(answer.items.map((item) => [item.image_id, item.download_url]))
        for (const id of chunk) for (const waiter of batch.get(id) ?? []) waiter.resolve(urls.get(id))
      } catch (error) {
        for (const id of chunk) for (const waiter of batch.get(id) ?? []) waiter.reject(error)
      }
    }
  }

  return (imageId) =>
    new Promise((resolve, reject) => {
      const list = waiting.get(imageId) ?? []
      list.push({ resolve, reject })
      waiting.set(imageId, list)
      if (!scheduled) {
        scheduled = true
        setTimeout(() => void flush(), 0)
      }
    })
}

/** Loads `url` into `img`; resolves once the browser decoded it. */
export function loadInto(img: HTMLImageElement, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    img.onload = () => resolve()
    img.onerror = () => reject(new Error('the thumbnail did not load from the CDN'))
    img.src = url
  })
}
