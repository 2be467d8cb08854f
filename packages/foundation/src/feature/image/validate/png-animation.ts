import type { ImageLimits } from '../../../common/config.ts'
import type { Inspection } from './image-inspection.ts'
import { checkFrameData, type PixelFormat, scanlineLayout } from './png-frame-data.ts'

/**
 * Animated PNG (APNG, PNG 3rd edition). libvips reads only the IDAT image, but browsers
 * decode and composite every frame, so the frames are counted and checked here, before the
 * full decode: acTL's frame count from the head alone, then every fcTL and fdAT in the walk.
 * A frame costs a browser a canvas-sized buffer whatever its own size, so total pixels are
 * frames x canvas, as sharp counts GIF and WebP pages.
 */
export type PngHeader = PixelFormat & { width: number; height: number }

export type ApngFrame = {
  width: number
  height: number
  /** The first frame may be the IDAT image itself (its fcTL precedes IDAT); later ones are fdAT. */
  source: 'IDAT' | 'fdAT'
  /** The frame's zlib stream, in pieces (fdAT payloads after their sequence number). */
  data: Uint8Array[]
}

export type ApngAnimation = { declaredFrames: number; frames: ApngFrame[] }

export type ApngReader = {
  /** Each chunk after IHDR, in file order: why the file is corrupt, or null. */
  chunk(type: string, data: Uint8Array): string | null
  /** At IEND: the animation (null for a still PNG), or why it is corrupt. */
  finish(): { animation: ApngAnimation | null } | { problem: string }
}

export function createApngReader(canvas: { width: number; height: number }): ApngReader {
  let declaredFrames: number | null = null
  let nextSequence = 0
  let idat: 'before' | 'in' | 'after' = 'before'
  const frames: ApngFrame[] = []
  const view = (data: Uint8Array) => new DataView(data.buffer, data.byteOffset, data.byteLength)
  // Each fcTL checks the frame before it, so only the last one can still lack data.
  const lastFrameEmpty = () => frames.at(-1)?.data.length === 0

  function sequence(type: string, data: Uint8Array): string | null {
    if (declaredFrames === null) return `${type} before acTL`
    const found = view(data).getUint32(0)
    if (found !== nextSequence) return `${type} sequence number ${found} where ${nextSequence} is due`
    nextSequence += 1
    return null
  }

  function frameControl(data: Uint8Array): string | null {
    if (data.length !== 26) return `fcTL of ${data.length} bytes`
    const problem = sequence('fcTL', data)
    if (problem !== null) return problem
    if (lastFrameEmpty()) return `frame ${frames.length - 1} has no image data`
    // Also bounds what the walk keeps by the count the head was checked against.
    if (frames.length === declaredFrames) return `more fcTL than the ${declaredFrames} frames acTL declares`
    const v = view(data)
    const [width, height, x, y] = [v.getUint32(4), v.getUint32(8), v.getUint32(12), v.getUint32(16)]
    const [dispose, blend] = [v.getUint8(24), v.getUint8(25)]
    const n = frames.length
    if (width === 0 || height === 0) return `frame ${n} is ${width}x${height}`
    if (x + width > canvas.width || y + height > canvas.height) {
      return `frame ${n} (${width}x${height} at ${x},${y}) lies outside the ${canvas.width}x${canvas.height} canvas`
    }
    if (dispose > 2 || blend > 1) return `frame ${n} has dispose_op ${dispose}, blend_op ${blend}`
    if (idat === 'before' && (x !== 0 || y !== 0 || width !== canvas.width || height !== canvas.height)) {
      return 'the fcTL of the IDAT image differs from IHDR'
    }
    frames.push({ width, height, source: idat === 'before' ? 'IDAT' : 'fdAT', data: [] })
    return null
  }

  function frameData(data: Uint8Array): string | null {
    if (data.length < 4) return `fdAT of ${data.length} bytes`
    const problem = sequence('fdAT', data)
    if (problem !== null) return problem
    const frame = frames.at(-1)
    if (frame === undefined) return 'fdAT before any fcTL'
    if (frame.source === 'IDAT') return 'fdAT in the frame whose data is IDAT'
    frame.data.push(data.subarray(4))
    return null
  }

  return {
    chunk(type, data) {
      if (type === 'IDAT') {
        if (idat === 'after' && declaredFrames !== null) return 'IDAT chunks that are not consecutive'
        idat = 'in'
        const frame = frames.at(-1)
        if (frame?.source === 'IDAT') frame.data.push(data)
        return null
      }
      if (idat === 'in') idat = 'after'
      if (type === 'acTL') {
        if (declaredFrames !== null) return 'a second acTL'
        if (idat !== 'before') return 'acTL after IDAT'
        if (data.length !== 8) return `acTL of ${data.length} bytes`
        declaredFrames = view(data).getUint32(0)
        return declaredFrames === 0 ? 'acTL declares no frames' : null
      }
      if (type === 'fcTL') return frameControl(data)
      if (type === 'fdAT') return frameData(data)
      return null
    },
    finish() {
      if (declaredFrames === null) return { animation: null }
      if (lastFrameEmpty()) return { problem: `frame ${frames.length - 1} has no image data` }
      return { animation: { declaredFrames, frames } }
    },
  }
}

/** acTL's frame count when it lies in the head (it must precede IDAT), else null. Not CRC-checked: a claim. */
export function readDeclaredFrames(head: Uint8Array): number | null {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength)
  for (let offset = 8; offset + 8 <= head.length; offset += 12 + view.getUint32(offset)) {
    const type = String.fromCharCode(...head.subarray(offset + 4, offset + 8))
    if (type === 'acTL') return offset + 12 <= head.length ? view.getUint32(offset + 8) : null
    if (type === 'IDAT' || type === 'IEND') return null
  }
  return null
}

const PASS: Inspection = { ok: true }

/** The head's claim: a lying acTL is a corrupt file, so refusing on the claim is never wrong. */
export function inspectDeclaredFrames(head: Uint8Array, canvas: { width: number; height: number }, limits: ImageLimits): Inspection {
  const declared = readDeclaredFrames(head)
  if (declared === null) return PASS
  if (declared > limits.maxFrames) return { ok: false, reason: 'too_many_frames', detail: `acTL declares ${declared} frames` }
  const total = declared * canvas.width * canvas.height
  if (total > limits.maxTotalPixels) return { ok: false, reason: 'too_many_pixels', detail: `acTL declares ${total} pixels` }
  return PASS
}

/** Limits first (cheap), then the acTL count, then every fdAT frame's data (libvips decodes the IDAT one). */
export async function inspectAnimation(header: PngHeader, animation: ApngAnimation, limits: ImageLimits): Promise<Inspection> {
  const count = animation.frames.length
  if (count > limits.maxFrames) return { ok: false, reason: 'too_many_frames', detail: `${count} frames` }
  const total = count * header.width * header.height
  if (total > limits.maxTotalPixels) return { ok: false, reason: 'too_many_pixels', detail: `${total} pixels over ${count} frames` }
  if (count < animation.declaredFrames) {
    return { ok: false, reason: 'corrupt', detail: `acTL declares ${animation.declaredFrames} frames, the file has ${count}` }
  }
  for (const [index, frame] of animation.frames.entries()) {
    if (frame.source === 'IDAT') continue
    const layout = scanlineLayout(header, frame.width, frame.height)
    const problem = layout === null ? `colour type ${header.colourType}` : await checkFrameData(frame.data, layout)
    if (problem !== null) return { ok: false, reason: 'corrupt', detail: `APNG frame ${index}: ${problem}` }
  }
  return PASS
}
