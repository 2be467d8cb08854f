/** Port: turns an object key into a short-lived URL a browser can GET. */
export interface ImageCdn {
  signDownloadUrl(objectKey: string): Promise<SignedDownload>
}

export type SignedDownload = { url: string; expiresAt: Date }
