import { createServer, type Socket, connect } from 'node:net'

export type CuttableProxy = {
  url: string
  /** Drops every connection through it and refuses new ones, as a network gone away. */
  cut(): void
  /** Lets connections through again. */
  restore(): void
  stop(): Promise<void>
}

/**
 * A TCP proxy in front of an HTTP server, for a browser test that needs a connection to drop
 * (Chromium's offline emulation leaves a stream already open untouched).
 */
export async function startCuttableProxy(target: string): Promise<CuttableProxy> {
  const { hostname, port } = new URL(target)
  const open = new Set<Socket>()
  let refusing = false
  const server = createServer((client) => {
    if (refusing) return void client.destroy()
    const upstream = connect(Number(port), hostname)
    for (const socket of [client, upstream]) {
      open.add(socket)
      socket.on('close', () => open.delete(socket))
      socket.on('error', () => undefined)
    }
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy has no port')
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut() {
      refusing = true
      for (const socket of open) socket.destroy()
    },
    restore() {
      refusing = false
    },
    async stop() {
      for (const socket of open) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
