import { createServer } from 'node:net'

/** Asks the OS for a free TCP port on 127.0.0.1. Another process may take it before we bind. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not determine a free port'))))
    })
  })
}

/**
 * A free port held until release(): while held, nothing else started meanwhile (an emulator
 * binding port 0) can be given it. Release it just before the server that needs it binds.
 */
export function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      if (port === 0) return reject(new Error('could not determine a free port'))
      resolve({ port, release: () => new Promise<void>((done) => server.close(() => done())) })
    })
  })
}

/**
 * A local port nothing listens on (bound, then released): connections to it are refused at
 * once, which is how tests simulate a dependency that is down. Another process could take it
 * in between, as with findFreePort, but nothing in a test run binds random ports for long.
 */
export function closedPort(): Promise<number> {
  return findFreePort()
}
