import type { Actor } from '../identity/request-context.ts'
import type { ImageRecord } from './image.ts'

/**
 * Who may see a record: its owner, and an admin (images:admin), who reads every owner's
 * images. Anyone else is told the image does not exist, exactly as for a missing one.
 */
export function readableBy(actor: Actor, record: ImageRecord): boolean {
  return actor.type === 'user' && (actor.ownerId === record.ownerId || actor.admin)
}

/** Who may act on a record (sign, delete): its owner only. An admin reads, never acts. */
export function ownedBy(actor: Actor, record: ImageRecord): boolean {
  return actor.type === 'user' && actor.ownerId === record.ownerId
}
