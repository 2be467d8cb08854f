export { accountsRoutes, AccountsRefusal } from './accounts-routes.ts'
export { ACCOUNTS_BASE_PATH, type Accounts, type AccountsOptions, createAccounts, MIN_PASSWORD_LENGTH } from './create-accounts.ts'
