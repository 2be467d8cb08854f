import type { ImageContentType } from '../../../shared/image/image.ts'

export type Dimensions = { width: number; height: number }

/**
 * The canvas size a container header claims, read from the first bytes of the object.
 * We read it ourselves because decoders may report a frame's size instead of the canvas a
 * browser allocates (libnsgif reports a 1x1 frame of a 65535x65535 GIF screen).
 * Returns null when the head does not hold the header (sharp's metadata decides later).
 */
export function readHeaderDimensions(head: Uint8Array, type: ImageContentType): Dimensions | null {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength)
  switch (type) {
    case 'image/png':
      return readPng(head, view)
    case 'image/gif':
      return readGif(view)
    case 'image/webp':
      return readWebp(head, view)
    case 'image/jpeg':
      return readJpeg(head, view)
    case 'image/avif':
      // The AVIF ispe property sits deep in the meta box; sharp's metadata reports it.
      return null
  }
}

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length))
}

/** IHDR is always the first chunk: width and height at bytes 16..24, big-endian. */
function readPng(head: Uint8Array, view: DataView): Dimensions | null {
  if (head.length < 24 || ascii(head, 12, 4) !== 'IHDR') return null
  return { width: view.getUint32(16), height: view.getUint32(20) }
}

/** The logical screen descriptor follows the 6-byte signature, little-endian. */
function readGif(view: DataView): Dimensions | null {
  if (view.byteLength < 10) return null
  return { width: view.getUint16(6, true), height: view.getUint16(8, true) }
}

/** The first chunk after `RIFF....WEBP` tells the canvas (VP8X) or the only frame (VP8, VP8L). */
function readWebp(head: Uint8Array, view: DataView): Dimensions | null {
  if (head.length < 30 || ascii(head, 8, 4) !== 'WEBP') return null
  const chunk = ascii(head, 12, 4)
  if (chunk === 'VP8X') {
    const width = 1 + (view.getUint16(24, true) | (view.getUint8(26) << 16))
    const height = 1 + (view.getUint16(27, true) | (view.getUint8(29) << 16))
    return { width, height }
  }
  if (chunk === 'VP8 ') {
    // 3-byte frame tag, then the start code 9d 01 2a, then 14-bit sizes (2 bits of scale).
    if (view.getUint8(23) !== 0x9d || view.getUint8(24) !== 0x01 || view.getUint8(25) !== 0x2a) return null
    return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff }
  }
  if (chunk === 'VP8L') {
    if (view.getUint8(20) !== 0x2f) return null
    const bits = view.getUint32(21, true)
    return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) }
  }
  return null
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf])

/** Walks the marker segments up to the first SOFn; null if it lies beyond the head. */
function readJpeg(head: Uint8Array, view: DataView): Dimensions | null {
  let offset = 2
  while (offset + 9 <= head.length) {
    if (view.getUint8(offset) !== 0xff) return null
    const marker = view.getUint8(offset + 1)
    if (marker === 0xff) {
      offset += 1 // fill byte
      continue
    }
    if (SOF_MARKERS.has(marker)) return { height: view.getUint16(offset + 5), width: view.getUint16(offset + 7) }
    if (marker === 0xd9 || marker === 0xda) return null
    offset += 2 + view.getUint16(offset + 2)
  }
  return null
}
