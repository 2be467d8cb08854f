import { crc32 } from 'node:zlib'
import { type ApngAnimation, type ApngReader, createApngReader, type PngHeader } from './png-animation.ts'

/**
 * Structural walks of the containers whose decoders silently accept truncation: libpng
 * stops happily before IEND and libnsgif before the trailer. Walking the chunks/blocks (not
 * just "ends with") also catches garbage in the middle. Bytes after the end marker are
 * allowed by policy (PNG+ZIP polyglots decode fine and are served with nosniff).
 */
export type StructureVerdict = 'complete' | 'truncated' | 'corrupt'

/** A PNG walk also reads IHDR and, for an APNG, every frame (see png-animation.ts). */
export type PngStructure =
  | { verdict: 'complete'; header: PngHeader; animation: ApngAnimation | null }
  | { verdict: 'truncated' | 'corrupt'; detail: string }

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

export function walkPng(bytes: Uint8Array): PngStructure {
  if (!PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return { verdict: 'corrupt', detail: 'no PNG signature' }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let offset = 8
  let png: { header: PngHeader; apng: ApngReader } | null = null
  while (true) {
    if (offset + 12 > bytes.length) return { verdict: 'truncated', detail: `no IEND after ${offset} bytes` }
    const length = view.getUint32(offset)
    const end = offset + 12 + length
    if (end > bytes.length) return { verdict: 'truncated', detail: `chunk at ${offset} runs past the end` }
    const typeAndData = bytes.subarray(offset + 4, offset + 8 + length)
    const type = String.fromCharCode(...typeAndData.subarray(0, 4))
    const data = typeAndData.subarray(4)
    if (!/^[A-Za-z]{4}$/.test(type)) return { verdict: 'corrupt', detail: `chunk type ${JSON.stringify(type)} at ${offset}` }
    if (crc32(typeAndData) !== view.getUint32(offset + 8 + length)) return { verdict: 'corrupt', detail: `${type} CRC at ${offset}` }
    if (png === null) {
      const header = type === 'IHDR' ? readIhdr(data) : null
      if (header === null) return { verdict: 'corrupt', detail: 'IHDR is not the first chunk of 13 bytes' }
      png = { header, apng: createApngReader(header) }
    } else if (type === 'IEND') {
      const finished = png.apng.finish()
      if ('problem' in finished) return { verdict: 'corrupt', detail: finished.problem }
      return { verdict: 'complete', header: png.header, animation: finished.animation }
    } else {
      const problem = png.apng.chunk(type, data)
      if (problem !== null) return { verdict: 'corrupt', detail: problem }
    }
    offset = end
  }
}

function readIhdr(data: Uint8Array): PngHeader | null {
  if (data.length !== 13) return null
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  return {
    width: view.getUint32(0),
    height: view.getUint32(4),
    bitDepth: view.getUint8(8),
    colourType: view.getUint8(9),
    interlaced: view.getUint8(12) === 1,
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
