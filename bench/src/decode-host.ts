// The other side of decode-isolation.ts: runs inspectContent for its parent, either as a
// worker thread (parentPort) or as a child process (process.send). It imports the
// inspection module alone, as a real decode worker would, not the whole foundation barrel.
import { parentPort } from 'node:worker_threads'
import sharp from 'sharp'
import { inspectContent } from '../../packages/foundation/src/feature/image/validate/image-inspection.ts'

export type HostRequest =
  | { kind: 'inspect'; id: number; bytes: Uint8Array; contentType: 'image/png' | 'image/jpeg'; limits: Limits }
  /** A libvips allocation of `megabytes` outside the V8 heap (a raw image buffer), kept while asked. */
  | { kind: 'native'; id: number; megabytes: number }
  /** JavaScript objects until the V8 heap limit is hit. */
  | { kind: 'heap'; id: number }
  | { kind: 'usage'; id: number }

export type HostReply = { id: number; ok: boolean; detail?: string; rssMb?: number; cpuMicros?: number }

type Limits = { maxUploadBytes: number; maxFramePixels: number; maxFrames: number; maxTotalPixels: number }

const kept: unknown[] = []

async function handle(request: HostRequest): Promise<HostReply> {
  switch (request.kind) {
    case 'inspect': {
      const inspection = await inspectContent(request.bytes, request.contentType, request.limits)
      return { id: request.id, ok: inspection.ok }
    }
    case 'native': {
      const side = Math.ceil(Math.sqrt((request.megabytes * 1024 * 1024) / 4))
      kept.push(
        await sharp({ create: { width: side, height: side, channels: 4, background: '#808080' } })
          .raw()
          .toBuffer(),
      )
      return { id: request.id, ok: true, rssMb: Math.round(process.memoryUsage().rss / 1e6) }
    }
    case 'heap': {
      for (;;) kept.push(Array.from({ length: 1e5 }, (_, i) => ({ i })))
    }
    case 'usage': {
      const cpu = process.cpuUsage()
      return { id: request.id, ok: true, rssMb: Math.round(process.memoryUsage().rss / 1e6), cpuMicros: cpu.user + cpu.system }
    }
  }
}

if (parentPort !== null) {
  const port = parentPort
  port.on('message', (request: HostRequest) => {
    void handle(request).then((reply) => port.postMessage(reply))
  })
} else if (process.send !== undefined) {
  process.on('message', (request: HostRequest) => {
    void handle(request).then((reply) => process.send?.(reply))
  })
}
