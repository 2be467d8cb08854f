import type { ImageRepository } from '../../../../shared/image/image-repository.ts'
import { type ImageId, type ImageRecord, type ImageStatus, objectKeyFor } from '../../../../shared/image/image.ts'
import type { DownloadUrlSigner } from '../aligned-expiry-cache.ts'
import type { ImageCdn, SignedDownload } from '../image-cdn.ts'

/** Read side of the repository only; counts calls so tests can assert "one query". */
export class FakeDownloadRepository implements ImageRepository {
  readonly records = new Map<ImageId, ImageRecord>()
  readonly findByIdsCalls: (readonly ImageId[])[] = []

  add(id: ImageId, status: ImageStatus): this {
    const at = new Date('2025-01-01T00:00:00Z')
    this.records.set(id, {
      id,
      status,
      contentType: 'image/png',
      fileName: 'a.png',
      sizeBytes: status === 'ready' ? 10 : null,
      objectKey: objectKeyFor(id),
      failureReason: status === 'failed' ? 'corrupt' : null,
      createdAt: at,
      updatedAt: at,
    })
    return this
  }

  async findById(id: ImageId): Promise<ImageRecord | null> {
    return this.records.get(id) ?? null
  }

  async findByIds(ids: readonly ImageId[]): Promise<ImageRecord[]> {
    this.findByIdsCalls.push([...ids])
    return ids.flatMap((id) => this.records.get(id) ?? [])
  }

  save(): Promise<ImageRecord> {
    throw new Error('not used by download queries')
  }

  transitionFromPending(): Promise<ImageRecord | null> {
    throw new Error('not used by download queries')
  }
}

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
