import { AppError } from '../../../common/errors.ts'
import { ForbiddenError } from '../../../shared/identity/authentication-error.ts'
import { type RequestContext, requireUser } from '../../../shared/identity/request-context.ts'

export const DEFAULT_PAGE_SIZE = 20
export const MAX_PAGE_SIZE = 100

/**
 * Whose records a list reads, and how many: the caller's own, or another owner's for an
 * images:admin caller (anyone else asking for another owner gets 403); 1..100 a page.
 * Every list route (images, audit, …) follows these rules.
 */
export function pageScope(
  ctx: RequestContext,
  query: { ownerId?: string | undefined; limit?: number | undefined },
): { ownerId: string; limit: number } {
  const actor = requireUser(ctx)
  if (query.ownerId !== undefined && query.ownerId !== actor.ownerId && !actor.admin) {
    throw new ForbiddenError('owner_id is for images:admin callers')
  }
  const limit = query.limit ?? DEFAULT_PAGE_SIZE
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new AppError('invalid', 'INVALID_LIMIT', `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
  }
  return { ownerId: query.ownerId ?? actor.ownerId, limit }
}
