import type { ImageVariantFormat } from '../../../common/variant-settings.ts'

export const VARIANT_CONTENT_TYPES: Record<ImageVariantFormat, string> = {
  webp: 'image/webp',
  avif: 'image/avif',
  jpeg: 'image/jpeg',
}
