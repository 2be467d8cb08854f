// `pnpm -s run token [subject] [--admin] [--hours N]`: a token from the dev identity provider
// that `pnpm dev` runs, signed with its saved key, so the running api accepts it. `run` is
// needed: pnpm hands a bare `pnpm token` to npm's own `token` command. `-s` keeps pnpm's
// banner out of stdout, so `TOKEN=$(pnpm -s run token)` holds the token alone.
import { parseArgs } from 'node:util'
import { readDevIdentityState, signTokenFromState } from '../dev-identity-provider.ts'
import { devIdentityStateFile } from './paths.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { admin: { type: 'boolean', default: false }, hours: { type: 'string', default: '12' } },
})
const hours = Number(values.hours)
if (!Number.isFinite(hours) || hours <= 0) {
  process.stderr.write('--hours must be a positive number\n')
  process.exit(2)
}
const stateFile = devIdentityStateFile()
const state = await readDevIdentityState(stateFile)
if (state === undefined) {
  process.stderr.write(`no dev identity provider yet (${stateFile}): run \`pnpm dev\` once first\n`)
  process.exit(1)
}
const token = await signTokenFromState(state, {
  subject: positionals[0] ?? 'dev-user',
  admin: values.admin,
  expiresInSeconds: Math.round(hours * 3600),
})
process.stdout.write(`${token}\n`)
