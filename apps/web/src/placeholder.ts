import { thumbHashToDataURL } from 'thumbhash'

/** The image's ThumbHash (base64), as a small PNG data URL to show blurred until the thumbnail loads. */
export function placeholderDataUrl(thumbHashBase64: string | null): string | undefined {
  if (!thumbHashBase64) return undefined
  try {
    const bytes = Uint8Array.from(atob(thumbHashBase64), (c) => c.charCodeAt(0))
    return thumbHashToDataURL(bytes)
  } catch {
    return undefined
  }
}
