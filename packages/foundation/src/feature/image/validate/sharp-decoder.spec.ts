import { readCorpusFile, TEST_IMAGE_LIMITS } from '@image-service/devstack/corpus'
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { decodeFully, KEEP_DECODED_MAX_PIXELS, readDecoderMetadata } from './sharp-decoder.ts'

async function strictDecode(bytes: Uint8Array) {
  const metadata = await readDecoderMetadata(bytes)
  if (!metadata.ok) throw new Error(`no metadata: ${metadata.detail}`)
  const m = metadata.value
  return decodeFully(bytes, { ...m, limitInputPixels: m.frames > 1 ? TEST_IMAGE_LIMITS.maxTotalPixels : TEST_IMAGE_LIMITS.maxFramePixels })
}

describe('decodeFully', () => {
  it("keeps a small still's pixels as the variants decode them: rotated upright, 8-bit sRGB, full size", async () => {
    const decoded = await strictDecode(readCorpusFile('metadata-jpeg-exif-orientation6-640x480.jpg'))
    expect(decoded.ok).toBe(true)
    if (!decoded.ok || decoded.value === null) throw new Error('expected pixels')
    const { pixels, ...shape } = decoded.value
    // Stored 640x480 with orientation 6: upright it is 480 wide.
    expect(shape).toEqual({ width: 480, frameHeight: 640, frames: 1, channels: 3 })
    expect(pixels.length).toBe(480 * 640 * 3)
  })

  it('keeps the alpha channel of a transparent PNG', async () => {
    const decoded = await strictDecode(readCorpusFile('valid-png-palette-trns-128x128.png'))
    if (!decoded.ok || decoded.value === null) throw new Error('expected pixels')
    expect(decoded.value).toMatchObject({ width: 128, frameHeight: 128, channels: 4 })
  })

  it('keeps nothing for an animation, or for a still of more than KEEP_DECODED_MAX_PIXELS', async () => {
    expect(await strictDecode(readCorpusFile('valid-gif-animated-5frames-100x100.gif'))).toEqual({ ok: true, value: null })
    const large = await sharp({ create: { width: 1100, height: 1000, channels: 3, background: '#336699' } })
      .png()
      .toBuffer()
    expect(1100 * 1000).toBeGreaterThan(KEEP_DECODED_MAX_PIXELS)
    expect(await strictDecode(large)).toEqual({ ok: true, value: null })
  })

  it.each([
    // libjpeg words this one "premature end of data segment".
    ['malformed-jpeg-ff-run-in-scan.jpg', 'truncated'],
    ['malformed-png-bad-idat-crc.png', 'corrupt'],
    ['trunc-jpeg-half.jpg', 'truncated'],
  ])('still judges a small still whose pixels it keeps: %s is %s', async (file, reason) => {
    const decoded = await strictDecode(readCorpusFile(file))
    expect(decoded).toMatchObject({ ok: false, reason })
  })
})
