import type { DownloadUrlSigner } from '../aligned-expiry-cache.ts'
import type { ImageCdn, SignedDownload } from '../image-cdn.ts'

/** A CDN whose URL names the key, so results can be matched to requests. */
export class FakeImageCdn implements ImageCdn {
  readonly expiresAt = new Date('2030-01-01T00:10:00Z')

  async signDownloadUrl(objectKey: string): Promise<SignedDownload> {
    return { url: `https://cdn.test/${objectKey}?sig=1`, expiresAt: this.expiresAt }
  }
}

/** A signer that counts its calls and makes every URL distinct. */
export class CountingSigner implements DownloadUrlSigner {
  calls = 0

  sign(objectKey: string, expiresAt: Date): string {
    this.calls += 1
    return `https://cdn.test/${objectKey}?e=${expiresAt.getTime() / 1000}&n=${this.calls}`
  }
}

/** A clock tests move by hand. */
export function manualClock(startMs: number) {
  let nowMs = startMs
  return {
    now: () => nowMs,
    set: (ms: number) => {
      nowMs = ms
    },
    advance: (ms: number) => {
      nowMs += ms
    },
  }
}
