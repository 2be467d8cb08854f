import { DEFAULT_VARIANT_CONFIG, type VariantConfig } from '../../../../common/variant-settings.ts'
import { createImageVariants, type ImageVariants } from '../image-variants.ts'
import type { VariantStorage } from '../variant-storage.ts'

/** The real ImageVariants (sharp, the default sizes) over a spec's storage: validation specs see the variants a processor writes. */
export function specImageVariants(
  storage: VariantStorage,
  limits: { maxTotalPixels: number },
  config: VariantConfig = DEFAULT_VARIANT_CONFIG,
): ImageVariants {
  return createImageVariants({ storage, config, limitInputPixels: limits.maxTotalPixels })
}
