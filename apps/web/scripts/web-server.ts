import { fileURLToPath } from 'node:url'
import { createServer, type ViteDevServer } from 'vite'

const root = fileURLToPath(new URL('..', import.meta.url))

export type WebServer = { url: string; stop(): Promise<void> }

/**
 * The demo page on Vite's dev server: `pnpm dev` runs it, the browser test too. `apiUrl` is
 * what the sign-in form starts with; `devToken` fills the token field (development only).
 */
export async function startWebServer(options: { port: number; apiUrl: string; devToken?: string }): Promise<WebServer> {
  const server: ViteDevServer = await createServer({
    root,
    configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
    logLevel: 'warn',
    clearScreen: false,
    server: { port: options.port },
    define: {
      'import.meta.env.VITE_API_URL': JSON.stringify(options.apiUrl),
      'import.meta.env.VITE_DEV_TOKEN': JSON.stringify(options.devToken ?? ''),
    },
  })
  await server.listen()
  return { url: `http://127.0.0.1:${options.port}`, stop: () => server.close() }
}
