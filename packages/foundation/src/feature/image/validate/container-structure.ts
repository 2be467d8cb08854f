import { crc32 } from 'node:zlib'

/**
 * Structural walks of the containers whose decoders silently accept truncation: libpng
 * stops happily before IEND and libnsgif before the trailer. Walking the chunks/blocks (not
 * just "ends with") also catches garbage in the middle. Bytes after the end marker are
 * allowed by policy (PNG+ZIP polyglots decode fine and are served with nosniff).
 */
export type StructureVerdict = 'complete' | 'truncated' | 'corrupt'

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

export function walkPng(bytes: Uint8Array): StructureVerdict {
  if (!PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'corrupt'
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let offset = 8
  let first = true
  while (true) {
    if (offset + 12 > bytes.length) return 'truncated'
    const length = view.getUint32(offset)
    const end = offset + 12 + length
    if (end > bytes.length) return 'truncated'
    const typeAndData = bytes.subarray(offset + 4, offset + 8 + length)
    const type = String.fromCharCode(...typeAndData.subarray(0, 4))
    if (!/^[A-Za-z]{4}$/.test(type)) return 'corrupt'
    if (first && type !== 'IHDR') return 'corrupt'
    if (crc32(typeAndData) !== view.getUint32(offset + 8 + length)) return 'corrupt'
    if (type === 'IEND') return 'complete'
    first = false
    offset = end
  }
}

export function walkGif(bytes: Uint8Array): StructureVerdict {
  if (bytes.length < 13) return 'truncated'
  const signature = String.fromCharCode(...bytes.subarray(0, 6))
  if (signature !== 'GIF87a' && signature !== 'GIF89a') return 'corrupt'
  const flags = bytes[10] ?? 0
  let offset = 13 + colourTableSize(flags)
  let images = 0
  while (true) {
    const introducer = bytes[offset]
    if (introducer === undefined) return 'truncated'
    if (introducer === 0x3b) return images > 0 ? 'complete' : 'corrupt'
    if (introducer === 0x21) {
      if (offset + 2 > bytes.length) return 'truncated'
      const next = skipSubBlocks(bytes, offset + 2)
      if (next === null) return 'truncated'
      offset = next
    } else if (introducer === 0x2c) {
      if (offset + 10 > bytes.length) return 'truncated'
      const imageFlags = bytes[offset + 9] ?? 0
      const lzwAt = offset + 10 + colourTableSize(imageFlags)
      const minCodeSize = bytes[lzwAt]
      if (minCodeSize === undefined) return 'truncated'
      // The LZW minimum code size is 2..8 by the spec; 12 is an attack on decoders' tables.
      if (minCodeSize < 2 || minCodeSize > 8) return 'corrupt'
      const next = skipSubBlocks(bytes, lzwAt + 1)
      if (next === null) return 'truncated'
      images += 1
      offset = next
    } else {
      return 'corrupt'
    }
  }
}

/** Colour tables hold 2^(n+1) RGB entries when the table flag (bit 7) is set. */
function colourTableSize(flags: number): number {
  return (flags & 0x80) === 0 ? 0 : 3 * 2 ** ((flags & 0x07) + 1)
}

/** Offset after the zero-length terminator of a sub-block chain, or null if it runs out. */
function skipSubBlocks(bytes: Uint8Array, start: number): number | null {
  let offset = start
  while (true) {
    const size = bytes[offset]
    if (size === undefined) return null
    offset += 1
    if (size === 0) return offset
    offset += size
    if (offset > bytes.length) return null
  }
}
