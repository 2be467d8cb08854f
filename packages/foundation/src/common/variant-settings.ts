/**
 * The variant settings (`VARIANTS`, `VARIANT_FORMATS`, `VARIANT_MAX_FRAMES`), parsed where the
 * configuration is read: a mistake stops the processor at start-up, never at the first upload.
 */

/** The formats a variant can be generated in. */
export const IMAGE_VARIANT_FORMATS = ['webp', 'avif', 'jpeg'] as const
export type ImageVariantFormat = (typeof IMAGE_VARIANT_FORMATS)[number]

/** One configured size: its name and its longest edge in pixels. */
export type VariantSize = { name: string; longestEdge: number }

export type VariantConfig = {
  sizes: readonly VariantSize[]
  formats: readonly ImageVariantFormat[]
  /** Frames an animated variant keeps at most; the rest of the animation is dropped. */
  maxFrames: number
}

export const DEFAULT_VARIANTS = 'thumbnail:300,medium:800,large:1200'
export const DEFAULT_VARIANT_FORMATS = 'webp'
export const DEFAULT_VARIANT_MAX_FRAMES = 50
export const MAX_VARIANT_EDGE = 8192

/** A variant's name: what `variant=` asks for; `original` is the upload itself. */
export const VARIANT_NAME_PATTERN = '^[a-z][a-z0-9_]{0,31}$'
const VARIANT_NAME = new RegExp(VARIANT_NAME_PATTERN)

/** `VARIANTS`: `name:edge` pairs separated by commas, such as `thumbnail:300,medium:800`. */
export function parseVariantSizes(value: string): VariantSize[] {
  const sizes = value.split(',').map((part) => {
    const [name = '', edge = '', ...rest] = part.trim().split(':')
    const longestEdge = Number(edge)
    if (
      !VARIANT_NAME.test(name) ||
      name === 'original' ||
      rest.length > 0 ||
      !Number.isInteger(longestEdge) ||
      longestEdge < 1 ||
      longestEdge > MAX_VARIANT_EDGE
    ) {
      throw new Error(
        `VARIANTS: "${part.trim()}" is not name:edge (a lower-case name other than original, an edge of 1..${MAX_VARIANT_EDGE})`,
      )
    }
    return { name, longestEdge }
  })
  if (new Set(sizes.map((s) => s.name)).size !== sizes.length) throw new Error('VARIANTS: a name is given twice')
  return sizes
}

/** `VARIANT_FORMATS`: formats separated by commas, among webp, avif and jpeg. */
export function parseVariantFormats(value: string): ImageVariantFormat[] {
  const formats = value.split(',').map((part) => part.trim())
  for (const format of formats) {
    if (!(IMAGE_VARIANT_FORMATS as readonly string[]).includes(format)) {
      throw new Error(`VARIANT_FORMATS: "${format}" is not one of ${IMAGE_VARIANT_FORMATS.join(', ')}`)
    }
  }
  if (new Set(formats).size !== formats.length) throw new Error('VARIANT_FORMATS: a format is given twice')
  return formats as ImageVariantFormat[]
}

export const DEFAULT_VARIANT_CONFIG: VariantConfig = {
  sizes: parseVariantSizes(DEFAULT_VARIANTS),
  formats: parseVariantFormats(DEFAULT_VARIANT_FORMATS),
  maxFrames: DEFAULT_VARIANT_MAX_FRAMES,
}
