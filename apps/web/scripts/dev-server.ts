// The `web` process of `pnpm dev`: the demo page on WEB_PORT, pointed at the api on API_URL.
import { startWebServer } from './web-server.ts'

const port = Number(process.env.WEB_PORT ?? 5173)
const apiUrl = process.env.API_URL ?? 'http://127.0.0.1:3000'
const server = await startWebServer({ port, apiUrl, ...(process.env.DEV_TOKEN ? { devToken: process.env.DEV_TOKEN } : {}) })

const stop = () => void server.stop().then(() => process.exit(0))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
