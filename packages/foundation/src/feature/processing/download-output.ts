/**
 * Downloads one provider output with bounds: at most `maxBytes` (MAX_UPLOAD_BYTES) and
 * `timeoutMs` for the whole transfer. Provider output is never trusted: what comes back is
 * bytes, which then go through validation like any upload.
 */
export type DownloadedOutput = { outcome: 'ok'; bytes: Uint8Array } | { outcome: 'too_large' } | { outcome: 'unavailable'; detail: string }

export async function downloadOutput(
  url: string,
  options: { maxBytes: number; timeoutMs: number; allowHttp: boolean; fetch?: typeof fetch },
): Promise<DownloadedOutput> {
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  if (parsed === undefined || !(parsed.protocol === 'https:' || (options.allowHttp && parsed.protocol === 'http:'))) {
    return { outcome: 'unavailable', detail: 'the output URL is not https' }
  }
  const signal = AbortSignal.timeout(options.timeoutMs)
  try {
    const response = await (options.fetch ?? fetch)(parsed, { signal, redirect: 'follow' })
    if (!response.ok || response.body === null) {
      await response.body?.cancel()
      return { outcome: 'unavailable', detail: `the output answered HTTP ${response.status}` }
    }
    const declared = Number(response.headers.get('content-length') ?? Number.NaN)
    if (declared > options.maxBytes) {
      await response.body.cancel()
      return { outcome: 'too_large' }
    }
    const chunks: Uint8Array[] = []
    let total = 0
    for await (const chunk of response.body) {
      total += chunk.byteLength
      // Leaving the loop cancels the stream: nothing past the limit is read.
      if (total > options.maxBytes) return { outcome: 'too_large' }
      chunks.push(chunk)
    }
    return { outcome: 'ok', bytes: Buffer.concat(chunks, total) }
  } catch (error) {
    const timedOut = signal.aborted
    return {
      outcome: 'unavailable',
      detail: timedOut ? `no complete output within ${options.timeoutMs} ms` : `the output could not be fetched (${(error as Error).name})`,
    }
  }
}
