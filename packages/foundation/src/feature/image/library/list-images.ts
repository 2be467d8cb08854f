import { AppError } from '../../../common/errors.ts'
import { ForbiddenError } from '../../../shared/identity/authentication-error.ts'
import { type RequestContext, requireUser } from '../../../shared/identity/request-context.ts'
import { type ImageId, type ImageRecord, type ImageStatus, isImageId, type Labels } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'

export const DEFAULT_PAGE_SIZE = 20
export const MAX_PAGE_SIZE = 100

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
    const actor = requireUser(ctx)
    if (query.ownerId !== undefined && query.ownerId !== actor.ownerId && !actor.admin) {
      throw new ForbiddenError('owner_id is for images:admin callers')
    }
    const limit = query.limit ?? DEFAULT_PAGE_SIZE
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new AppError('invalid', 'INVALID_LIMIT', `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
    }
    // One row more than asked tells whether another page exists, without a count.
    const rows = await deps.images.list({
      ownerId: query.ownerId ?? actor.ownerId,
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
