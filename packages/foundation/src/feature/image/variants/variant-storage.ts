import type { ImageId } from '../../../shared/image/image.ts'

/** Every variant is stored once under a key of its own and never changes: caches may keep it for a year. */
export const VARIANT_CACHE_CONTROL = 'public, max-age=31536000, immutable'

/**
 * Port: what the processor does with variant objects (DESIGN, "Storage access by app": it
 * writes `variants/*`). Writes overwrite: a redelivered message writes the same keys again,
 * so a crash between two writes leaves nothing a retry does not replace. Transient failures
 * throw DependencyUnavailableError('STORAGE_UNAVAILABLE').
 */
export interface VariantStorage {
  /** Stores the bytes at `objectKey` with their Content-Type and VARIANT_CACHE_CONTROL. */
  putVariant(objectKey: string, bytes: Uint8Array, contentType: string): Promise<void>
  /** Deletes every object under `variants/{imageId}/`; returns how many there were (0 is success). */
  deleteVariants(imageId: ImageId): Promise<number>
}
