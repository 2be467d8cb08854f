import { AppError } from '../../../common/errors.ts'
import type { RequestContext } from '../../../shared/identity/request-context.ts'
import { type ImageId, type ImageRecord, type ImageStatus, isImageId, type Labels } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { pageScope } from './page.ts'

export type ListImagesQuery = {
  /** Another owner's images: images:admin only. */
  ownerId?: string | undefined
  status?: ImageStatus | undefined
  sourceImageId?: ImageId | undefined
  labels?: Labels | undefined
  cursor?: string | undefined
  limit?: number | undefined
}

export type ImagePage = { items: ImageRecord[]; nextCursor: string | null }

export class InvalidCursorError extends AppError {
  constructor() {
    super('invalid', 'INVALID_CURSOR', 'cursor is not one this API handed out')
  }
}

/** The cursor is opaque to clients: today the last id of a page, base64url-encoded. */
const encodeCursor = (id: ImageId) => Buffer.from(id).toString('base64url')
function decodeCursor(cursor: string): ImageId {
  const id = Buffer.from(cursor, 'base64url').toString()
  if (!isImageId(id)) throw new InvalidCursorError()
  return id
}

/** Query: the caller's images (or, for an admin, one owner's), newest first, by keyset pages. */
export function createListImages(deps: { images: ImageRepository }) {
  return async (ctx: RequestContext, query: ListImagesQuery): Promise<ImagePage> => {
    const { ownerId, limit } = pageScope(ctx, query)
    // One row more than asked tells whether another page exists, without a count.
    const rows = await deps.images.list({
      ownerId,
      status: query.status,
      sourceImageId: query.sourceImageId,
      labels: query.labels,
      before: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
      limit: limit + 1,
    })
    const items = rows.slice(0, limit)
    const last = items[items.length - 1]
    return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.id) : null }
  }
}

export type ListImages = ReturnType<typeof createListImages>
