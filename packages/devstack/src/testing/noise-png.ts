import { randomBytes } from 'node:crypto'
import { crc32, deflateSync } from 'node:zlib'

/**
 * A valid PNG of random RGB pixels (incompressible, so storage and the network carry every
 * byte) padded with an ancillary `pADd` chunk to exactly `size` bytes: a large upload of a
 * known size that passes every check of the processor.
 */
export function noisePng(size: number): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8)
    head.writeUInt32BE(data.length, 0)
    head.write(type, 4, 'latin1')
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
    return Buffer.concat([head, data, crc])
  }
  const width = 1024
  const height = Math.floor((size - 4096) / (width * 3 + 1) / 1.001)
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 2, 0, 0, 0], 8)
  const rows = randomBytes(height * (width * 3 + 1))
  for (let y = 0; y < height; y++) rows[y * (width * 3 + 1)] = 0
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  const body = [chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows, { level: 0 }))]
  const end = chunk('IEND', Buffer.alloc(0))
  const padding = size - signature.length - body.reduce((n, b) => n + b.length, 0) - end.length - 12
  if (padding < 0) throw new Error(`cannot make a PNG of ${size} bytes`)
  return new Uint8Array(Buffer.concat([signature, ...body, chunk('pADd', Buffer.alloc(padding)), end]))
}
