import { AppError } from '../../common/errors.ts'

/** What an owner's `pending` and `ready` images hold (owner_usage). */
export type OwnerUsage = {
  /** Pending and ready images. */
  images: number
  /** Real sizes of the ready images. */
  bytes: number
  /** What the pending images reserved at issuance. */
  reservedBytes: number
}

/** Per-owner limits (QUOTA_MAX_IMAGES, QUOTA_MAX_BYTES). */
export type QuotaLimits = { maxImages: number; maxBytes: number }

export const NO_USAGE: OwnerUsage = { images: 0, bytes: 0, reservedBytes: 0 }

/**
 * Which limit an issuance reserving `reservation` bytes would break, or undefined when it
 * fits: it fits when `bytes + reserved_bytes + reservation <= max_bytes` and
 * `images + 1 <= max_images`.
 */
export function exceededLimit(usage: OwnerUsage, limits: QuotaLimits, reservation: number): 'images' | 'bytes' | undefined {
  if (usage.images + 1 > limits.maxImages) return 'images'
  if (usage.bytes + usage.reservedBytes + reservation > limits.maxBytes) return 'bytes'
  return undefined
}

/** 403 QUOTA_EXCEEDED; the message names the limit that was hit. */
export class QuotaExceededError extends AppError {
  readonly limit: 'images' | 'bytes'

  constructor(limit: 'images' | 'bytes', usage: OwnerUsage, limits: QuotaLimits, reservation: number) {
    super(
      'forbidden',
      'QUOTA_EXCEEDED',
      limit === 'images'
        ? `image quota exceeded: ${usage.images} of max_images ${limits.maxImages} pending or ready images already`
        : `byte quota exceeded: ${usage.bytes} bytes stored and ${usage.reservedBytes} reserved, plus ${reservation} for this upload, is more than max_bytes ${limits.maxBytes}`,
    )
    this.limit = limit
  }
}
