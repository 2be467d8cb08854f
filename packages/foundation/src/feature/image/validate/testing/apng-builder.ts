import { crc32, deflateSync } from 'node:zlib'

/**
 * Builds real PNG and APNG files chunk by chunk (correct CRCs, real zlib streams), so specs
 * can make the hostile variants the corpus does not hold: edit the chunk list, then encode.
 */
export type PngChunk = { type: string; data: Uint8Array }

export type FrameSpec = { width: number; height: number; x?: number; y?: number; dispose?: number; blend?: number }

export type ApngSpec = {
  width: number
  height: number
  /** A frame count (each frame the whole canvas) or each frame's placement. */
  frames: number | FrameSpec[]
  /** 8 (default), or any PNG bit depth the colour type allows. */
  bitDepth?: number
  /** 2 RGB (default), 0 grey, 4 grey + alpha, 6 RGBA. */
  colourType?: number
  interlaced?: boolean
  /** The IDAT image is not the first frame (APNG's "default image"): frames all use fdAT. */
  hiddenDefaultImage?: boolean
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 }
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const

export function encodePng(chunks: readonly PngChunk[]): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.from(SIGNATURE)]
  for (const { type, data } of chunks) {
    const typeAndData = new Uint8Array(4 + data.length)
    typeAndData.set(ascii(type))
    typeAndData.set(data, 4)
    parts.push(u32(data.length), typeAndData, u32(crc32(typeAndData)))
  }
  return concat(parts)
}

export function buildApng(spec: ApngSpec): Uint8Array {
  return encodePng(apngChunks(spec))
}

/** IHDR, acTL, then per frame fcTL and its data (IDAT for the first unless hidden), IEND. */
export function apngChunks(spec: ApngSpec): PngChunk[] {
  const frames =
    typeof spec.frames === 'number' ? Array.from({ length: spec.frames }, () => ({ width: spec.width, height: spec.height })) : spec.frames
  const format = { bitDepth: spec.bitDepth ?? 8, colourType: spec.colourType ?? 2, interlaced: spec.interlaced ?? false }
  const chunks: PngChunk[] = [ihdr(spec.width, spec.height, format), actl(frames.length)]
  let sequence = 0
  if (spec.hiddenDefaultImage === true) chunks.push(idat(frameData(spec.width, spec.height, format, 0)))
  frames.forEach((frame, index) => {
    chunks.push(fctl({ ...frame, sequence: sequence++ }))
    const data = frameData(frame.width, frame.height, format, index + 1)
    chunks.push(index === 0 && spec.hiddenDefaultImage !== true ? idat(data) : fdat(sequence++, data))
  })
  chunks.push({ type: 'IEND', data: new Uint8Array() })
  return chunks
}

type Format = { bitDepth: number; colourType: number; interlaced: boolean }

export function ihdr(width: number, height: number, format: Format): PngChunk {
  const data = concat([u32(width), u32(height), Uint8Array.of(format.bitDepth, format.colourType, 0, 0, format.interlaced ? 1 : 0)])
  return { type: 'IHDR', data }
}

export function actl(frames: number, plays = 0): PngChunk {
  return { type: 'acTL', data: concat([u32(frames), u32(plays)]) }
}

export function fctl(frame: FrameSpec & { sequence: number }): PngChunk {
  const data = new Uint8Array(26)
  const view = new DataView(data.buffer)
  view.setUint32(0, frame.sequence)
  view.setUint32(4, frame.width)
  view.setUint32(8, frame.height)
  view.setUint32(12, frame.x ?? 0)
  view.setUint32(16, frame.y ?? 0)
  view.setUint16(20, 1) // delay 1/10 s
  view.setUint16(22, 10)
  data[24] = frame.dispose ?? 0
  data[25] = frame.blend ?? 0
  return { type: 'fcTL', data }
}

export function fdat(sequence: number, zlib: Uint8Array): PngChunk {
  return { type: 'fdAT', data: concat([u32(sequence), zlib]) }
}

export function idat(zlib: Uint8Array): PngChunk {
  return { type: 'IDAT', data: zlib }
}

/** A copy of an fcTL or fdAT chunk with another sequence number. */
export function withSequence(chunk: PngChunk, sequence: number): PngChunk {
  const data = Uint8Array.from(chunk.data)
  new DataView(data.buffer).setUint32(0, sequence)
  return { type: chunk.type, data }
}

/** A zlib stream of a frame's scanlines (filter type 0, a pattern that differs per frame). */
export function frameData(width: number, height: number, format: Format, seed: number): Uint8Array {
  return deflateSync(scanlines(width, height, format, seed))
}

export function scanlines(width: number, height: number, format: Format, seed: number): Uint8Array {
  const bitsPerPixel = (CHANNELS[format.colourType] ?? 1) * format.bitDepth
  const passes = format.interlaced
    ? ADAM7.map(([x0, y0, dx, dy]) => ({ w: Math.ceil((width - x0) / dx), h: Math.ceil((height - y0) / dy) })).filter(
        (p) => p.w > 0 && p.h > 0,
      )
    : [{ w: width, h: height }]
  const rows: Uint8Array[] = []
  for (const pass of passes) {
    for (let y = 0; y < pass.h; y++) {
      const row = new Uint8Array(1 + Math.ceil((pass.w * bitsPerPixel) / 8))
      for (let i = 1; i < row.length; i++) row[i] = (seed * 37 + y * 3 + i) & 0xff
      rows.push(row)
    }
  }
  return concat(rows)
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, value)
  return bytes
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0))
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
