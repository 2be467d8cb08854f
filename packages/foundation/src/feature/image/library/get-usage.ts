import { ForbiddenError } from '../../../shared/identity/authentication-error.ts'
import { type RequestContext, requireUser } from '../../../shared/identity/request-context.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import type { OwnerUsage, QuotaLimits } from '../../../shared/image/usage.ts'

export type Usage = OwnerUsage & QuotaLimits

/** Query: what the caller's images hold against the quota (or, for an admin, one owner's). */
export function createGetUsage(deps: { images: ImageRepository; quota: QuotaLimits }) {
  return async (ctx: RequestContext, query: { ownerId?: string | undefined } = {}): Promise<Usage> => {
    const actor = requireUser(ctx)
    if (query.ownerId !== undefined && query.ownerId !== actor.ownerId && !actor.admin) {
      throw new ForbiddenError('owner_id is for images:admin callers')
    }
    const usage = await deps.images.usageOf(query.ownerId ?? actor.ownerId)
    return { ...usage, maxImages: deps.quota.maxImages, maxBytes: deps.quota.maxBytes }
  }
}

export type GetUsage = ReturnType<typeof createGetUsage>
