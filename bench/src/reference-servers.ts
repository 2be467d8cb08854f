// The two references `pnpm bench` measures next to the api, run as their own process like the
// api, under the same load, so each scenario can be read as a share of what this machine allows:
// - POST /ceiling: a bare Fastify route answering a constant JSON body the size of a presign answer;
// - POST /naive: Fastify plus the SDK's getSignedUrl(PutObjectCommand), as a first version of
//   the presign endpoint would be written: no database, no authentication, no validation.
// Env: PORT, and the S3 settings of the dev stack (AWS_REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, S3_BUCKET, S3_ENDPOINT).
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { newImageId } from '@image-service/foundation'
import Fastify from 'fastify'

function env(name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`reference servers: ${name} is not set`)
  return value
}

const UPLOAD_URL_TTL_SECONDS = 300
// As the api signs them: storage then refuses another Content-Type and an overwrite.
const SIGNED_HEADERS = new Set(['content-type', 'if-none-match'])
const bucket = env('S3_BUCKET')
const s3 = new S3Client({
  region: env('AWS_REGION'),
  endpoint: env('S3_ENDPOINT'),
  forcePathStyle: true,
  credentials: { accessKeyId: env('AWS_ACCESS_KEY_ID'), secretAccessKey: env('AWS_SECRET_ACCESS_KEY') },
  // Without it the SDK signs a CRC32 of an empty body into the URL: a longer URL than the api's,
  // and one no real upload could use. A setting, not an optimisation.
  requestChecksumCalculation: 'WHEN_REQUIRED',
})

/** The api's presign answer shape: `{image_id, upload_url, expires_at, upload_headers}`. */
async function presignAnswer(contentType: string) {
  const imageId = newImageId()
  const command = new PutObjectCommand({ Bucket: bucket, Key: `uploads/${imageId}`, ContentType: contentType, IfNoneMatch: '*' })
  const uploadUrl = await getSignedUrl(s3, command, { expiresIn: UPLOAD_URL_TTL_SECONDS, signableHeaders: SIGNED_HEADERS })
  return {
    image_id: imageId,
    upload_url: uploadUrl,
    expires_at: new Date(Date.now() + UPLOAD_URL_TTL_SECONDS * 1000).toISOString(),
    upload_headers: { 'content-type': contentType, 'if-none-match': '*' },
  }
}

// One real answer, serialised once: the same size as every answer of /naive.
const ceilingBody = JSON.stringify(await presignAnswer('image/png'))

const app = Fastify({ logger: false })
app.get('/health', async () => ({ status: 'ok' }))
app.post('/ceiling', (_request, reply) => {
  reply.code(201).type('application/json; charset=utf-8').send(ceilingBody)
})
app.post('/naive', async (request, reply) => {
  const contentType = (request.body as { content_type?: unknown } | null)?.content_type
  if (typeof contentType !== 'string') return reply.code(400).send({ message: 'content_type is required' })
  return reply.code(201).send(await presignAnswer(contentType))
})

await app.listen({ host: '127.0.0.1', port: Number(env('PORT')) })
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app.close().then(() => {
      s3.destroy()
      process.exit(0)
    })
  })
}
