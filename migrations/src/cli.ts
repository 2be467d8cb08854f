import { migrate } from './migrate.ts'

/** Connection string with the password masked: safe to print. */
function redact(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '[unparseable DATABASE_URL]'
  }
}

const databaseUrl = process.env.DATABASE_URL
if (databaseUrl === undefined || databaseUrl.trim() === '') {
  console.error('DATABASE_URL is not set. Example: DATABASE_URL=postgres://user:password@localhost:5432/images pnpm db:migrate')
  process.exit(1)
}

console.log(`migrating ${redact(databaseUrl)}`)
try {
  const { applied } = await migrate(databaseUrl, { log: (msg) => console.log(msg) })
  console.log(applied.length === 0 ? 'nothing to apply' : `applied ${applied.length} migration(s)`)
} catch (error) {
  const message = error instanceof Error ? error.message : String(error)
  // Driver messages can echo connection details; never let the password through.
  const password = URL.canParse(databaseUrl) ? decodeURIComponent(new URL(databaseUrl).password) : ''
  console.error(`migration failed: ${password === '' ? message : message.split(password).join('***')}`)
  process.exit(1)
}
