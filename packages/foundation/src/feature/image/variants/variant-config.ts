import { ConfigError } from '../../../common/config.ts'
import { IMAGE_VARIANT_FORMATS, type ImageVariantFormat } from '../../../shared/image/image.ts'

/** The formats a variant can be generated in: the record's own list. */
export const VARIANT_FORMATS = IMAGE_VARIANT_FORMATS
export type VariantFormat = ImageVariantFormat

export const VARIANT_CONTENT_TYPES: Record<VariantFormat, string> = {
  webp: 'image/webp',
  avif: 'image/avif',
  jpeg: 'image/jpeg',
}

/** One configured size: its name and its longest edge in pixels. */
export type VariantSize = { name: string; longestEdge: number }

export type VariantConfig = {
  sizes: readonly VariantSize[]
  formats: readonly VariantFormat[]
  /** Frames an animated variant keeps at most; the rest of the animation is dropped. */
  maxFrames: number
}

export const DEFAULT_VARIANTS = 'thumbnail:300,medium:800,large:1200'
export const DEFAULT_VARIANT_FORMATS = 'webp'
export const DEFAULT_VARIANT_MAX_FRAMES = 50

const NAME = /^[a-z][a-z0-9_]{0,31}$/

/** `VARIANTS`: `name:edge` pairs separated by commas, such as `thumbnail:300,medium:800`. */
export function parseVariantSizes(value: string): VariantSize[] {
  const sizes = value.split(',').map((part) => {
    const [name = '', edge = '', ...rest] = part.trim().split(':')
    const longestEdge = Number(edge)
    if (
      !NAME.test(name) ||
      name === 'original' ||
      rest.length > 0 ||
      !Number.isInteger(longestEdge) ||
      longestEdge < 1 ||
      longestEdge > 8192
    ) {
      throw new ConfigError([`VARIANTS: "${part.trim()}" is not name:edge (a lower-case name other than original, an edge of 1..8192)`])
    }
    return { name, longestEdge }
  })
  if (new Set(sizes.map((s) => s.name)).size !== sizes.length) throw new ConfigError(['VARIANTS: a name is given twice'])
  return sizes
}

/** `VARIANT_FORMATS`: formats separated by commas, among webp, avif and jpeg. */
export function parseVariantFormats(value: string): VariantFormat[] {
  const formats = value.split(',').map((part) => part.trim())
  for (const format of formats) {
    if (!(VARIANT_FORMATS as readonly string[]).includes(format)) {
      throw new ConfigError([`VARIANT_FORMATS: "${format}" is not one of ${VARIANT_FORMATS.join(', ')}`])
    }
  }
  if (new Set(formats).size !== formats.length) throw new ConfigError(['VARIANT_FORMATS: a format is given twice'])
  return formats as VariantFormat[]
}

export const DEFAULT_VARIANT_CONFIG: VariantConfig = {
  sizes: parseVariantSizes(DEFAULT_VARIANTS),
  formats: parseVariantFormats(DEFAULT_VARIANT_FORMATS),
  maxFrames: DEFAULT_VARIANT_MAX_FRAMES,
}

/** Where a variant is stored: `variants/{image_id}/{name}.{format}`. */
export const variantObjectKey = (imageId: string, name: string, format: VariantFormat): string => `variants/${imageId}/${name}.${format}`
