import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { type SqsEmulator, startSqsEmulator } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ApiApp } from '../app.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'

const CONFIRM = '/api/image/v1/upload/confirm'

describe('POST /api/image/v1/upload/confirm', () => {
  let api: TestApi
  let sqs: SqsEmulator
  let sqsClient: SQSClient
  let queueUrl: string
  let app: ApiApp

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-confirm')
    sqs = await startSqsEmulator()
    ;({ queueUrl } = await sqs.createQueue('spec-api-confirm'))
    const credentials = { accessKeyId: sqs.accessKeyId, secretAccessKey: sqs.secretAccessKey }
    sqsClient = new SQSClient({ endpoint: sqs.endpoint, region: sqs.region, credentials })
    app = await api.variant(
      { SQS_QUEUE_URL: queueUrl, SQS_ENDPOINT: sqs.endpoint },
      { s3Credentials: api.s3Credentials, sqsCredentials: credentials },
    )
  })
  afterAll(async () => {
    sqsClient?.destroy()
    await api?.close()
    await sqs?.stop()
  })

  const issue = async (owner = 'owner-a') => {
    const response = await api.inject(
      { method: 'POST', url: '/api/image/v1/upload/create-presigned-url', payload: { content_type: 'image/png', file_name: 'a.png' } },
      { app, owner },
    )
    return response.json() as { image_id: string; upload_url: string; upload_headers: Record<string, string> }
  }
  const confirm = (imageId: string, owner = 'owner-a', on: ApiApp = app) =>
    api.inject({ method: 'POST', url: CONFIRM, payload: { image_id: imageId } }, { app: on, owner })
  const received = async () => {
    const { Messages = [] } = await sqsClient.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    )
    return Messages.map((m) => JSON.parse(m.Body ?? '{}'))
  }

  it('answers 409 UPLOAD_NOT_FOUND before the object is there, queues nothing, and leaves the upload pending', async () => {
    const upload = await issue()
    const response = await confirm(upload.image_id)
    expect([response.statusCode, response.json().code]).toEqual([409, 'UPLOAD_NOT_FOUND'])
    expect(await received()).toEqual([])
    const status = await api.inject({ method: 'GET', url: `/api/image/v1/images/${upload.image_id}` })
    expect(status.json().status).toBe('pending')
  })

  it('queues a validation once the object is there (202), and again on a repeated confirm', async () => {
    const upload = await issue()
    const put = await fetch(upload.upload_url, { method: 'PUT', headers: upload.upload_headers, body: new Uint8Array([1, 2, 3]) })
    expect(put.status).toBe(200)
    const first = await confirm(upload.image_id)
    expect([first.statusCode, first.json()]).toEqual([202, { image_id: upload.image_id, status: 'pending' }])
    expect((await confirm(upload.image_id)).statusCode).toBe(202)
    const messages = [...(await received()), ...(await received())]
    expect(messages).toEqual([
      { type: 'validate', image_id: upload.image_id },
      { type: 'validate', image_id: upload.image_id },
    ])
  })

  it('answers a final upload 200 with its status, queueing nothing', async () => {
    const upload = await issue()
    await api.inject({ method: 'DELETE', url: `/api/image/v1/images/${upload.image_id}` })
    const response = await confirm(upload.image_id)
    expect([response.statusCode, response.json()]).toEqual([200, { image_id: upload.image_id, status: 'deleted' }])
    expect(await received()).toEqual([])
  })

  it("answers another owner's upload 404, as a missing one; a malformed id 400", async () => {
    const upload = await issue()
    await fetch(upload.upload_url, { method: 'PUT', headers: upload.upload_headers, body: new Uint8Array([1]) })
    const stranger = await confirm(upload.image_id, 'owner-b')
    expect([stranger.statusCode, stranger.json().code]).toEqual([404, 'IMAGE_NOT_FOUND'])
    const missing = await confirm('01JD0000000000000000000000')
    expect([missing.statusCode, missing.json().code]).toEqual([404, 'IMAGE_NOT_FOUND'])
    const malformed = await confirm('nope')
    expect([malformed.statusCode, malformed.json().code]).toEqual([400, 'INVALID_IMAGE_ID'])
    expect(await received()).toEqual([])
  })

  it('answers 503 QUEUE_UNAVAILABLE when the api has no queue', async () => {
    const upload = await issue()
    await fetch(upload.upload_url, { method: 'PUT', headers: upload.upload_headers, body: new Uint8Array([1]) })
    const response = await confirm(upload.image_id, 'owner-a', api.app)
    expect([response.statusCode, response.json().code]).toEqual([503, 'QUEUE_UNAVAILABLE'])
  })
})
