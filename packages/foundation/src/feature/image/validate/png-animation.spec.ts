import { deflateSync } from 'node:zlib'
// The corpus limits: 50 Mpx per frame, 1000 frames, 250 Mpx in total.
import { TEST_IMAGE_LIMITS as limits } from '@image-service/devstack/corpus'
import { describe, expect, it } from 'vitest'
import { systemContext } from '../../../shared/identity/request-context.ts'
import { newImageId, objectKeyFor } from '../../../shared/image/image.ts'
import { InMemoryImageRepository } from '../../../shared/image/testing/in-memory-image-repository.ts'
import { InMemoryImageStorage } from '../testing/in-memory-image-storage.ts'
import { HEAD_BYTES, inspectContent, inspectHead } from './image-inspection.ts'
import {
  type ApngSpec,
  type FrameSpec,
  actl,
  apngChunks,
  buildApng,
  encodePng,
  fctl,
  fdat,
  frameData,
  idat,
  type PngChunk,
  scanlines,
  withSequence,
} from './testing/apng-builder.ts'
import { specImageVariants } from '../variants/testing/spec-variants.ts'
import { createValidateImage } from './validate-image.ts'

const rgb = { bitDepth: 8, colourType: 2, interlaced: false }

const inspect = (bytes: Uint8Array) => inspectContent(bytes, 'image/png', limits)
const corrupt = (detail: RegExp) => ({ ok: false, reason: 'corrupt', detail: expect.stringMatching(detail) })

/** A valid 64x64 three-frame APNG: IHDR acTL fcTL(0) IDAT fcTL(1) fdAT(2) fcTL(3) fdAT(4) IEND. */
const threeFrames = (): PngChunk[] => apngChunks({ width: 64, height: 64, frames: 3 })

/** Numbers the fcTL and fdAT chunks 0, 1, 2 ... in file order, jumping to `jump.to` at chunk index `jump.at`. */
function renumbered(chunks: PngChunk[], jump = { at: 0, to: 0 }): PngChunk[] {
  let next = 0
  return chunks.map((c, index) => {
    if (index === jump.at) next = jump.to
    return c.type === 'fcTL' || c.type === 'fdAT' ? withSequence(c, next++) : c
  })
}

function swapped(chunks: PngChunk[], a: number, b: number): PngChunk[] {
  return chunks.map((c, index) => (index === a ? chunks[b] : index === b ? chunks[a] : c) as PngChunk)
}

/** IHDR acTL IDAT fcTL(0) fdAT(1) fcTL(2) fdAT(3) IEND: the IDAT image is not a frame. */
const hiddenDefault = (): PngChunk[] => apngChunks({ width: 64, height: 64, frames: 2, hiddenDefaultImage: true })

const replace = (chunks: PngChunk[], index: number, by: PngChunk) => chunks.toSpliced(index, 1, by)
const lastFrameControl = (frame: Partial<FrameSpec>) => replace(threeFrames(), 6, fctl({ sequence: 3, width: 64, height: 64, ...frame }))
const secondFrameData = (zlib: Uint8Array) => replace(threeFrames(), 5, fdat(2, zlib))

/** A 64-pixel RGB row is a filter byte and 192 bytes; the frame's 64 rows are 12352 bytes. */
const ROW = 193
const rows64 = () => scanlines(64, 64, rgb, 7)

describe('APNG frames in inspectContent', () => {
  it.each<[string, ApngSpec]>([
    ['three frames, the first being the IDAT image', { width: 64, height: 64, frames: 3 }],
    ['a hidden default image and two fdAT frames', { width: 64, height: 64, frames: 2, hiddenDefaultImage: true }],
    ['Adam7-interlaced frames', { width: 33, height: 17, frames: 4, interlaced: true }],
    ['16-bit RGBA interlaced frames', { width: 33, height: 17, frames: 3, interlaced: true, bitDepth: 16, colourType: 6 }],
    ['1-bit grey frames (rows not a whole number of bytes)', { width: 33, height: 17, frames: 2, bitDepth: 1, colourType: 0 }],
    [
      'sub-frames touching the canvas edge, with every dispose and blend op',
      {
        width: 40,
        height: 30,
        frames: [
          { width: 40, height: 30 },
          { width: 10, height: 5, x: 30, y: 25, dispose: 1 },
          { width: 1, height: 1, x: 39, y: 29, dispose: 2, blend: 1 },
        ],
      },
    ],
    ['exactly MAX_FRAMES frames', { width: 8, height: 8, frames: 1000 }],
  ])('passes %s', async (_name, spec) => {
    const bytes = buildApng(spec)
    expect(await inspectHead(bytes.subarray(0, HEAD_BYTES), 'image/png', limits)).toEqual({ ok: true })
    expect(await inspect(bytes)).toMatchObject({ ok: true })
  })

  it('refuses 1001 frames as too_many_frames, from the head alone and from the whole file', async () => {
    const bytes = buildApng({ width: 8, height: 8, frames: 1001 })
    const refused = { ok: false, reason: 'too_many_frames', detail: expect.stringContaining('1001 frames') }
    expect(await inspectHead(bytes.subarray(0, HEAD_BYTES), 'image/png', limits)).toEqual(refused)
    expect(await inspect(bytes)).toEqual(refused)
  })

  it('refuses 1001 frames behind an acTL that claims 3 as corrupt, before inflating any', async () => {
    const bytes = encodePng(replace(apngChunks({ width: 8, height: 8, frames: 1001 }), 1, actl(3)))
    expect(await inspectHead(bytes.subarray(0, HEAD_BYTES), 'image/png', limits)).toEqual({ ok: true })
    expect(await inspect(bytes)).toEqual(corrupt(/more fcTL than the 3 frames acTL declares/))
  })

  it('refuses frames x canvas over MAX_TOTAL_PIXELS although the canvas is within MAX_FRAME_PIXELS', async () => {
    // 5000x5000 is 25 Mpx, half the frame limit; 11 frames are 275 Mpx. 1-bit grey keeps the file small.
    const bytes = buildApng({ width: 5000, height: 5000, frames: 11, bitDepth: 1, colourType: 0 })
    const refused = { ok: false, reason: 'too_many_pixels', detail: expect.stringContaining('275000000 pixels') }
    expect(await inspectHead(bytes.subarray(0, HEAD_BYTES), 'image/png', limits)).toEqual(refused)
    expect(await inspect(bytes)).toEqual(refused)
  })

  it.each<[string, () => PngChunk[], RegExp]>([
    [
      'a frame outside the canvas',
      () => lastFrameControl({ width: 32, height: 32, x: 40 }),
      /frame 2 \(32x32 at 40,0\) lies outside the 64x64 canvas/,
    ],
    ['a zero-size frame', () => lastFrameControl({ width: 0 }), /frame 2 is 0x64/],
    ['a dispose_op PNG does not define', () => lastFrameControl({ dispose: 3 }), /dispose_op 3/],
    [
      'an IDAT frame smaller than IHDR',
      () => replace(threeFrames(), 2, fctl({ sequence: 0, width: 32, height: 32 })),
      /fcTL of the IDAT image differs from IHDR/,
    ],
    ['a gap in the sequence numbers', () => renumbered(threeFrames(), { at: 6, to: 4 }), /fcTL sequence number 4 where 3 is due/],
    ['a duplicate sequence number', () => renumbered(threeFrames(), { at: 7, to: 3 }), /fdAT sequence number 3 where 4 is due/],
    ['sequence numbers that do not start at 0', () => renumbered(threeFrames(), { at: 0, to: 1 }), /fcTL sequence number 1 where 0 is due/],
    ['an acTL declaring more frames than there are', () => replace(threeFrames(), 1, actl(4)), /acTL declares 4 frames, the file has 3/],
    ['an acTL declaring fewer frames than there are', () => replace(threeFrames(), 1, actl(2)), /more fcTL than the 2 frames/],
    ['an acTL declaring no frames', () => replace(threeFrames(), 1, actl(0)), /acTL declares no frames/],
    ['a second acTL', () => threeFrames().toSpliced(2, 0, actl(3)), /a second acTL/],
    ['an acTL after IDAT', () => swapped(hiddenDefault(), 1, 2), /acTL after IDAT/],
    ['fcTL and fdAT without acTL', () => threeFrames().toSpliced(1, 1), /fcTL before acTL/],
    ['an fdAT before any fcTL', () => renumbered(hiddenDefault().toSpliced(3, 1)), /fdAT before any fcTL/],
    ['an fdAT in the frame whose data is IDAT', () => renumbered(threeFrames().toSpliced(4, 1)), /fdAT in the frame whose data is IDAT/],
    ['a middle frame without image data', () => renumbered(threeFrames().toSpliced(5, 1)), /frame 1 has no image data/],
    ['a last frame without image data', () => threeFrames().toSpliced(7, 1), /frame 2 has no image data/],
    [
      'IDAT after the fdAT frames',
      () => threeFrames().toSpliced(8, 0, idat(frameData(64, 64, rgb, 0))),
      /IDAT chunks that are not consecutive/,
    ],
    ['a corrupt fdAT zlib stream', () => secondFrameData(flipped(frameData(64, 64, rgb, 2), 20)), /APNG frame 1: (zlib|inflates)/],
    [
      'an fdAT zlib stream cut short',
      () => secondFrameData(frameData(64, 64, rgb, 2).subarray(0, 40)),
      /APNG frame 1: zlib: unexpected end of file/,
    ],
    [
      'an fdAT stream one row short',
      () => secondFrameData(deflateSync(rows64().subarray(ROW))),
      /APNG frame 1: inflates to 12159 of its 12352 bytes/,
    ],
    [
      'an fdAT stream one row long',
      () => secondFrameData(deflateSync(concat(rows64(), new Uint8Array(ROW)))),
      /APNG frame 1: inflates past its 12352 bytes/,
    ],
    [
      'a row with filter type 5',
      () => secondFrameData(deflateSync(withByte(rows64(), 10 * ROW, 5))),
      /APNG frame 1: row filter type 5 at byte 1930/,
    ],
    [
      'bytes after an fdAT zlib stream',
      () => secondFrameData(concat(frameData(64, 64, rgb, 2), Uint8Array.of(1, 2, 3))),
      /APNG frame 1: 3 bytes after the zlib stream/,
    ],
  ])('refuses %s as corrupt', async (_name, chunks, detail) => {
    expect(await inspect(encodePng(chunks()))).toEqual(corrupt(detail))
  })

  it('refuses an fdAT whose CRC is wrong', async () => {
    const bytes = buildApng({ width: 64, height: 64, frames: 3 })
    const fdatAt = Buffer.from(bytes).indexOf('fdAT')
    expect(await inspect(flipped(bytes, fdatAt + 10))).toEqual(corrupt(/fdAT CRC/))
  })
})

describe('APNG frames in ValidateImage', () => {
  const ctx = systemContext('spec', 'spec-request')

  async function validate(bytes: Uint8Array) {
    const images = new InMemoryImageRepository()
    const storage = new InMemoryImageStorage()
    const id = newImageId()
    await images.save({ id, ownerId: 'owner-a', contentType: 'image/png', fileName: 'animation.png', objectKey: objectKeyFor(id) })
    storage.objects.set(objectKeyFor(id), bytes)
    const outcome = await createValidateImage({ images, storage, variants: specImageVariants(storage, limits), limits })(ctx, id)
    return { outcome, record: await images.findById(id), storage, key: objectKeyFor(id) }
  }

  it('marks a valid APNG ready and keeps its object', async () => {
    const bytes = buildApng({ width: 64, height: 64, frames: 3 })
    const { outcome, record, storage, key } = await validate(bytes)
    expect(outcome).toEqual({ outcome: 'ready', sizeBytes: bytes.length })
    expect(record).toMatchObject({ status: 'ready' })
    expect(storage.objects.get(key)).toBe(bytes)
  })

  it('fails an APNG bomb as too_many_frames from the ranged head read alone', async () => {
    const { outcome, record, storage, key } = await validate(buildApng({ width: 8, height: 8, frames: 1001 }))
    expect(outcome).toEqual({ outcome: 'failed', reason: 'too_many_frames' })
    expect(record).toMatchObject({ status: 'failed', failureReason: 'too_many_frames' })
    expect(storage.reads).toEqual([{ key, kind: 'head', bytes: HEAD_BYTES }])
    expect(storage.objects.has(key)).toBe(false)
  })

  it('fails an APNG with a corrupt frame and deletes its object', async () => {
    const { outcome, record, storage, key } = await validate(encodePng(secondFrameData(deflateSync(rows64().subarray(1)))))
    expect(outcome).toEqual({ outcome: 'failed', reason: 'corrupt' })
    expect(record).toMatchObject({ status: 'failed', failureReason: 'corrupt' })
    expect(storage.objects.has(key)).toBe(false)
  })
})

function flipped(bytes: Uint8Array, at: number): Uint8Array {
  return withByte(bytes, at, (bytes[at] ?? 0) ^ 0xff)
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

function withByte(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = Uint8Array.from(bytes)
  copy[at] = value
  return copy
}
