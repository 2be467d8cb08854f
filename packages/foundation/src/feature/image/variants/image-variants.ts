import type { Metadata } from 'sharp'
import { type ImageDerivatives, type ImageId, variantKeyFor } from '../../../shared/image/image.ts'
import { DecoderUnavailableError } from '../validate/sharp-decoder.ts'
import { type DecodedFrames, deriveVariants } from './derive-variants.ts'
import type { VariantConfig } from '../../../common/variant-settings.ts'
import type { VariantStorage } from './variant-storage.ts'

/**
 * What ValidateImage does with an upload it approved, and with one it rejected or that was
 * deleted: its variants are derived and stored before the record becomes ready, and removed
 * whenever the record ends up anything else.
 */
export interface ImageVariants {
  /**
   * Derives every configured size × format of bytes already judged valid, stores each, and
   * returns what the record keeps. `known` is what the validation's decoder read of these
   * bytes (the header, and a small still's pixels), so they are not parsed or decoded again.
   */
  create(imageId: ImageId, bytes: Uint8Array, known?: { header?: Metadata; decoded?: DecodedFrames }): Promise<ImageDerivatives>
  /** Removes every stored variant of the image; idempotent. */
  remove(imageId: ImageId): Promise<void>
}

/**
 * Variants of validated bytes. Deriving them cannot be a verdict (the bytes passed a full
 * decode), so any failure of libvips here is DecoderUnavailableError: the message is retried
 * and, if it keeps failing, reaches the DLQ with its record still pending. The objects are
 * written concurrently; each write overwrites the same key, so redoing the work after a crash
 * leaves exactly one object per variant.
 */
export function createImageVariants(deps: {
  storage: VariantStorage
  config: VariantConfig
  limitInputPixels: number
  /** Hears each image's derivation once its variants are stored (metrics). */
  onCreated?: (created: { durationMs: number; variants: ImageDerivatives['variants'] }) => void
}): ImageVariants {
  const { storage, config } = deps
  return {
    async create(imageId, bytes, known = {}) {
      const started = performance.now()
      let derived: Awaited<ReturnType<typeof deriveVariants>>
      try {
        derived = await deriveVariants(bytes, config, { limitInputPixels: deps.limitInputPixels, ...known })
      } catch (error) {
        throw new DecoderUnavailableError(`deriving variants failed: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
        })
      }
      await Promise.all(derived.variants.map((v) => storage.putVariant(variantKeyFor(imageId, v.name, v.format), v.bytes, v.contentType)))
      const variants = derived.variants.map((v) => ({
        name: v.name,
        format: v.format,
        width: v.width,
        height: v.height,
        sizeBytes: v.sizeBytes,
      }))
      deps.onCreated?.({ durationMs: performance.now() - started, variants })
      return {
        width: derived.width,
        height: derived.height,
        variants,
        placeholder: derived.placeholder,
        metadataRemoved: derived.metadataRemoved,
      }
    },
    async remove(imageId) {
      await storage.deleteVariants(imageId)
    },
  }
}
